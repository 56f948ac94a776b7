"""``diffill/preview``: the text of a running fill or rewrite, sent while it denoises.

A ``Preview`` belongs to one generation (its ``id``). The model thread asks ``due`` after every denoising step
(the first and last step of a round, else at most every ``EVERY_S``) and, when it is, hands ``send`` the
current text of each span (``lsp_server.jobs.preview`` finds it in the step's tokens); the notification goes
out on the event loop. ``finish`` (the final texts, done=true) or ``cancel`` (cancelled=true) closes the id on
the event loop: a step notification still queued then is dropped, and a cancelled id that never sent anything
sends nothing at its end either.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lsp_server.edits import LineIndex
from lsp_server.protocol import PREVIEW, PreviewParams, PreviewSpan

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

EVERY_S = 0.05
SpanText = tuple[int, int, str]  # (start, end) of a span in the text the request read, and its text now


class Preview:
    """The preview notifications of one generation of one document."""

    def __init__(self, server: LanguageServer, uri: str, version: int | None, index: LineIndex) -> None:
        self.server = server
        self.uri = uri
        self.version = version
        self.index = index
        self.id = f"diffill-{uuid.uuid4().hex}"
        self.loop = asyncio.get_running_loop()
        self._last = float("-inf")  # model thread
        self._sent = False  # event loop
        self._closed = False  # event loop

    def due(self, info: Any) -> bool:
        """Whether to send after this step (model thread; ``info`` is a ``StepInfo``)."""
        now = time.perf_counter()
        if info.step == 1 or info.remaining == 0 or now - self._last >= EVERY_S:
            self._last = now
            return True
        return False

    def send(self, spans: Sequence[SpanText]) -> None:
        """Send the current text of each span (from any thread)."""
        self.loop.call_soon_threadsafe(self._emit, self._params(spans, done=False, cancelled=False))

    def finish(self, spans: Sequence[SpanText]) -> None:
        """The last notification (event loop): every span with its final text; the edit follows."""
        self._close(self._params(spans, done=True, cancelled=False), always=True)

    def cancel(self) -> None:
        """The last notification (event loop): the generation stopped, no edit follows."""
        self._close(self._params((), done=False, cancelled=True))

    def _params(self, spans: Sequence[SpanText], done: bool, cancelled: bool) -> PreviewParams:
        shown = [PreviewSpan(range=self.index.range(a, b), text=text) for a, b, text in spans]
        return PreviewParams(self.uri, self.version, self.id, shown, done=done, cancelled=cancelled)

    def _emit(self, params: PreviewParams) -> None:
        if self._closed:
            return
        self._sent = True
        self.server.protocol.notify(PREVIEW, params)

    def _close(self, params: PreviewParams, always: bool = False) -> None:
        if self._closed:
            return
        if self._sent or always:
            self.server.protocol.notify(PREVIEW, params)
        self._closed = True
