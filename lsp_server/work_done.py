"""Work-done progress for a generation: begin, "step i of N" reports from the model thread, end.

The token is the client's (``workDoneToken`` of the request) or one the server creates with
``window/workDoneProgress/create`` when the client supports it. A ``window/workDoneProgress/cancel`` for
the token cancels the generation's ticket, which stops between denoising steps.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from lsp_server.worker import Ticket

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

log = logging.getLogger(__name__)
REPORT_EVERY_S = 0.05


def client_supports_progress(server: LanguageServer) -> bool:
    window = server.client_capabilities.window if server.client_capabilities else None
    return bool(window is not None and window.work_done_progress)


class WorkDone:
    """One progress bar tied to one ticket."""

    def __init__(self, server: LanguageServer, token: types.ProgressToken, ticket: Ticket) -> None:
        self.server = server
        self.token = token
        self.ticket = ticket
        self.loop = asyncio.get_running_loop()
        self._last = 0.0

    @classmethod
    async def begin(
        cls, server: LanguageServer, token: types.ProgressToken | None, title: str, ticket: Ticket
    ) -> WorkDone | None:
        """Start a cancellable progress; None when there is no token and the client cannot create one."""
        progress = server.work_done_progress
        if token is None:
            if not client_supports_progress(server):
                return None
            token = f"diffill-{uuid.uuid4()}"
            try:
                await progress.create_async(token)
            except Exception as exc:  # the client refused: go on without progress
                log.info("no progress for %s: %s", title, exc)
                return None
        progress.begin(token, types.WorkDoneProgressBegin(title=title, cancellable=True, percentage=0))
        cancel = progress.tokens.get(token)
        if cancel is not None:
            cancel.add_done_callback(lambda f: ticket.cancel() if f.cancelled() else None)
        return cls(server, token, ticket)

    def on_step(self, info: Any) -> None:
        """The engine's ``on_step`` (model thread): a ``StepInfo`` with ``step`` and ``steps``."""
        now = time.perf_counter()
        if info.step != 1 and info.step != info.steps and now - self._last < REPORT_EVERY_S:
            return
        self._last = now
        self.loop.call_soon_threadsafe(self._report, int(info.step), int(info.steps))

    def _report(self, step: int, steps: int) -> None:
        value = types.WorkDoneProgressReport(
            message=f"step {step} of {steps}",
            percentage=min(100, round(100 * step / max(steps, 1))),
            cancellable=True,
        )
        self.server.work_done_progress.report(self.token, value)

    def end(self, message: str) -> None:
        self.server.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))
        self.server.work_done_progress.tokens.pop(self.token, None)
