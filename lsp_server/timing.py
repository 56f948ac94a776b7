"""Per-request log lines: an id, what happened, and how long each phase took."""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger("diffill.requests")


class RequestTimer:
    """Collects phase durations (parse, wait, denoise, post) and logs them in one INFO line."""

    def __init__(self, kind: str, msg_id: Any) -> None:
        self.name = f"{kind}#{msg_id if msg_id is not None else '-'}"
        self.phases: dict[str, float] = {}
        self._started = self._last = time.perf_counter()

    def lap(self, phase: str) -> None:
        """Close ``phase``: the time since the previous lap."""
        now = time.perf_counter()
        self.phases[phase] = self.phases.get(phase, 0.0) + now - self._last
        self._last = now

    def add(self, phase: str, seconds: float) -> None:
        """Record a duration measured elsewhere (e.g. on the model thread)."""
        self.phases[phase] = self.phases.get(phase, 0.0) + seconds

    def mark(self) -> None:
        """Start the next phase now (time since the last lap was accounted for with ``add``)."""
        self._last = time.perf_counter()

    def done(self, outcome: str, **fields: Any) -> None:
        total = time.perf_counter() - self._started
        timings = " ".join(f"{k}={1000 * v:.1f}ms" for k, v in self.phases.items())
        extra = " ".join(f"{k}={v}" for k, v in fields.items())
        log.info("%s %s %s total=%.1fms %s", self.name, outcome, timings, 1000 * total, extra)
