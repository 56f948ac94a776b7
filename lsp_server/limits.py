"""Bounds on what a client can make the server hold or write, and a log that says one line per bad message.

A client can send anything: a body of any size, a flood of malformed messages, documents it never closes.
The server answers each bad message (``lsp_server/jsonrpc.py``, ``lsp_server/transport.py``), logs it on one
line, and caps what it keeps: message bodies, header lines, error texts and remembered suggestions
(``lsp_server/suggestions.py``). ``ThrottledLog`` keeps a flood of bad messages from flooding the log: at most
``lines`` lines per ``window_s`` seconds, then one summary line "... and K more".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

MAX_BODY_BYTES = 32 * 2**20  # a larger message is skipped and answered with Invalid Request
MAX_HEADER_LINE = 64 * 2**10  # a longer line without a newline is not a header: it is skipped
BODY_IDLE_S = 2.0  # a body whose bytes stop coming for this long is taken as it is (its Content-Length lied)
MAX_BATCH = 100  # a JSON array of more messages is answered with one error
MAX_TEXT = 300  # characters of a value shown in a log line or an error message
SUGGESTION_CHARS = 8_000_000  # characters of remembered suggestions, all documents together


def clip(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` on one line, at most ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class ThrottledLog:
    """Log lines about bad input, at most ``lines`` per ``window_s``; what is left out is counted and summed up."""

    def __init__(
        self,
        logger: logging.Logger,
        lines: int = 10,
        window_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.lines = lines
        self.window_s = window_s
        self.clock = clock
        self._start = float("-inf")
        self._logged = 0
        self._dropped = 0
        self._flush_scheduled = False

    def __call__(self, level: int, message: str, *args: object, exc_info: BaseException | None = None) -> None:
        now = self.clock()
        if now - self._start >= self.window_s:
            self.flush()
            self._start, self._logged = now, 0
        if self._logged < self.lines:
            self._logged += 1
            self.logger.log(level, message, *args, exc_info=exc_info)
            return
        self._dropped += 1
        self._schedule_flush(self._start + self.window_s - now)

    def flush(self) -> None:
        """Log the summary of the lines left out so far, if any."""
        self._flush_scheduled = False
        if self._dropped:
            self.logger.warning(
                "... and %d more bad messages in %.0f s (not logged one by one)", self._dropped, self.window_s
            )
            self._dropped = 0

    def _schedule_flush(self, delay: float) -> None:
        """On the event loop (when there is one), so that the summary comes even if nothing else does."""
        if self._flush_scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # the summary comes with the next line
        self._flush_scheduled = True
        loop.call_later(max(0.0, delay), self.flush)
