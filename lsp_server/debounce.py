"""Adaptive debounce: how long an automatic ghost-text request waits before it generates.

A request that a newer one supersedes while it waits never generates (``lsp_server/worker.py``), so waiting
saves the model thread the fills of keystrokes the user typed straight past. How long is worth waiting
depends on the user and the machine, as in tabby-agent's adaptive debounce: the wait is a multiple of how
fast this user types (the median of recent intervals between keystrokes, pauses left out), clamped to
[``min_s``, ``max_s``]: long enough that the next keystroke of a burst usually comes within it. The multiple
is lower where a suggestion is more likely wanted (at the end of a line, after a non-word character). When
generations are fast next to typing (one ends well before the next keystroke is due) there is nothing to
save and no wait. Unlike tabby-agent, the expected generation time is not taken off the wait: a slow
generation is the one most worth saving (in the replayed typing of ``benchmarks/ghost_typing_replay.py`` on a
busy 2-core CPU, taking it off left the wait at about one typing interval and saved 37% of the generations
of no debounce; the multiple alone saved 64%). Invoked requests never wait.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class DebounceRule:
    """The knobs of the adaptive debounce (times in seconds)."""

    min_s: float = 0.0  # the shortest wait (when there is one)
    max_s: float = 0.4  # the longest wait
    rate_low: float = 1.5  # the multiple of the typing interval where a suggestion is likely wanted ...
    rate_high: float = 2.5  # ... and where it is not (mid-word)
    typing_min_s: float = 0.02  # intervals outside [typing_min_s, typing_max_s] are not typing (a paste,
    typing_max_s: float = 0.6  # an auto-repeat, a pause) and are left out
    default_interval_s: float = 0.15  # the typing interval before enough were seen
    min_samples: int = 4  # intervals needed before the user's own speed is used
    window: int = 32  # intervals and generation times kept
    fast_ratio: float = 0.5  # a generation at most this share of the typing interval: no wait

    def rate(self, context: float) -> float:
        """The multiple for a context score in [0, 1] (1: a suggestion is likely wanted)."""
        context = min(1.0, max(0.0, context))
        return self.rate_high - (self.rate_high - self.rate_low) * context


def context_score(before: str, at_line_end: bool) -> float:
    """How likely a suggestion is wanted here, in [0, 1]: after a non-word character (a space, a bracket, an
    operator) and at the end of a line."""
    score = 0.0
    if not before or not (before.isalnum() or before == "_"):
        score += 0.5
    if at_line_end:
        score += 0.5
    return score


class Debouncer:
    """Keystroke intervals per document and recent generation times, and the wait they give."""

    def __init__(self, rule: DebounceRule | None = None) -> None:
        self.rule = rule or DebounceRule()
        self._last: dict[str, float] = {}  # uri -> time of its last keystroke
        self._intervals: deque[float] = deque(maxlen=self.rule.window)
        self._generations: deque[float] = deque(maxlen=self.rule.window)

    def keystroke(self, uri: str, now: float | None = None) -> None:
        """An automatic request arrived for ``uri`` (the editor sends one per keystroke)."""
        now = time.monotonic() if now is None else now
        last = self._last.get(uri)
        self._last[uri] = now
        if last is not None and self.rule.typing_min_s <= now - last <= self.rule.typing_max_s:
            self._intervals.append(now - last)

    def generated(self, seconds: float) -> None:
        """A generation ran for ``seconds`` on the model thread."""
        if seconds > 0:
            self._generations.append(seconds)

    def forget(self, uri: str) -> None:
        self._last.pop(uri, None)

    def typing_interval(self) -> float:
        """The median interval between keystrokes (the default until enough were seen)."""
        if len(self._intervals) < self.rule.min_samples:
            return self.rule.default_interval_s
        return statistics.median(self._intervals)

    def generation_time(self) -> float:
        """The median time of recent generations (0 before any)."""
        return statistics.median(self._generations) if self._generations else 0.0

    def delay(self, context: float) -> float:
        """How long the request should wait, in seconds, for a context score in [0, 1]."""
        interval, generation = self.typing_interval(), self.generation_time()
        if generation <= self.rule.fast_ratio * interval:
            return 0.0
        return min(self.rule.max_s, max(self.rule.min_s, self.rule.rate(context) * interval))
