"""Learning the workspace: the ``diffill.adaptNow`` command, background adaptation while the user is idle,
progress, and serving the adapted model once it is ready (``lsp_server/adaptation.py`` runs the process).

Setting ``adapt``: ``off`` (never; the base model serves), ``manual`` (on the command only; a finished
adaptation of this workspace is served), ``background`` (also by itself, after ``IDLE_S`` seconds without
generations, when there is no adapted model or enough files changed since). While the model generates, the
adapter process is stopped, so ghost text never waits for training.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from lsprotocol import types

from diffill.model_dir import default_model_dir
from lsp_server.adaptation import Adapter
from lsp_server.protocol import CMD_ADAPT_NOW, Adaptation
from lsp_server.work_done import client_supports_progress

if TYPE_CHECKING:
    from lsp_server.server import DiffillServer

log = logging.getLogger(__name__)

POLL_S = 1.0
IDLE_S = 30.0  # background mode: seconds without generations before adapting
STALE_CHECK_S = 300.0  # background mode: how often a finished adaptation is checked against the files


def folder_of(uri: str | None) -> Path | None:
    if not uri:
        return None
    parsed = urlparse(uri)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else None


class AdaptationFeature:
    """The server's side of adaptation: one ``Adapter`` for the first workspace folder."""

    def __init__(self, server: DiffillServer) -> None:
        self.server = server
        self.adapter: Adapter | None = None
        self.last_active = time.monotonic()
        self.last_stale_check = 0.0
        self._task: asyncio.Task | None = None
        self._progress: str | None = None

    # --- what the server asks ---------------------------------------------------------------------------

    def serving_model(self) -> str | None:
        """The model directory to load: the workspace's adapted model when there is one and ``adapt`` is on."""
        if self.server.settings.adapt == "off" or self.adapter is None:
            return self.server.settings.model
        model = self.adapter.finished()
        return str(model) if model is not None else self.server.settings.model

    def wire(self) -> Adaptation | None:
        if self.adapter is None:
            return None
        s = self.adapter.state
        return Adaptation(state=s.state, workspace=s.workspace, progress=s.progress, model=s.model, message=s.message)

    def model_busy(self, busy: bool) -> None:
        """The model started or stopped generating: stop or let go on the adapter."""
        if busy:
            self.last_active = time.monotonic()
        if self.adapter is not None:
            self.adapter.pause(busy)

    # --- lifecycle ----------------------------------------------------------------------------------------

    def start(self, folder: Path | None) -> None:
        """After ``initialized`` (or for another folder): the adapter of the workspace folder, and the watch loop."""
        if self.adapter is not None and folder is not None and self.adapter.folder != folder.resolve():
            self.adapter.cancel()
        if folder is not None and folder.is_dir():
            base = Path(self.server.settings.model) if self.server.settings.model else default_model_dir()
            self.adapter = Adapter(folder, base, self.server.settings.adapt_minutes)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._watch())

    def adapt_now(self) -> str:
        """Start adapting now; the answer for the user."""
        if self.server.settings.adapt == "off":
            return "adaptation is off (setting adapt); set it to manual or background"
        if self.adapter is None:
            return "no workspace folder to learn from"
        if self.adapter.running:
            return "already adapting"
        self.adapter.minutes = self.server.settings.adapt_minutes
        self.adapter.start()
        self._begin_progress()
        self.server.status_changed()
        return f"adapting to {self.adapter.folder}"

    def shutdown(self) -> None:
        if self.adapter is not None:
            self.adapter.cancel()
        if self._task is not None:
            self._task.cancel()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(POLL_S)
            try:
                self._tick()
            except Exception:  # the watch loop must outlive any one failure
                log.exception("adaptation watch failed")

    def _tick(self) -> None:
        adapter = self.adapter
        if adapter is None:
            return
        if adapter.running or adapter.process is not None:
            was = adapter.state.state
            if adapter.poll():
                self._report()
                self.server.status_changed()
                if was == "running" and adapter.state.state == "ready":
                    self._end_progress("done")
                    self.server.load_model()  # serves the adapted model from now on
                elif adapter.state.state == "failed":
                    self._end_progress("failed")
                    self.server.show(f"diffill: adaptation failed: {adapter.state.message}")
            return
        if self.server.settings.adapt != "background" or not self.server.worker.ready:
            return
        now = time.monotonic()
        if now - self.last_active < IDLE_S or now - self.last_stale_check < STALE_CHECK_S:
            return
        self.last_stale_check = now
        if adapter.stale():
            log.info("background adaptation: %s has no up-to-date adapted model", adapter.folder)
            self.adapt_now()

    # --- work-done progress -------------------------------------------------------------------------------

    def _begin_progress(self) -> None:
        if not client_supports_progress(self.server):
            return
        token = f"diffill-adapt-{uuid.uuid4()}"
        self._progress = token

        async def begin() -> None:
            try:
                await self.server.work_done_progress.create_async(token)
            except Exception as exc:  # the client refused: status notifications still say it
                log.info("no progress for adaptation: %s", exc)
                self._progress = None
                return
            title = "diffill: learning this workspace"
            self.server.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=title, percentage=0))

        asyncio.get_running_loop().create_task(begin())

    def _report(self) -> None:
        state = self.adapter.state if self.adapter is not None else None
        if self._progress is None or state is None or state.state != "running":
            return
        percent = round(100 * (state.progress or 0.0))
        report = types.WorkDoneProgressReport(message=state.message or "", percentage=percent)
        self.server.work_done_progress.report(self._progress, report)

    def _end_progress(self, message: str) -> None:
        if self._progress is not None:
            self.server.work_done_progress.end(self._progress, types.WorkDoneProgressEnd(message=message))
            self._progress = None


def register(server: DiffillServer) -> None:
    feature = server.adaptation

    @server.command(CMD_ADAPT_NOW)
    def adapt_now(*arguments: Any) -> dict[str, Any]:
        folder = folder_of(arguments[0]) if arguments and isinstance(arguments[0], str) else None
        if folder is not None and (feature.adapter is None or feature.adapter.folder != folder.resolve()):
            feature.start(folder)
        message = feature.adapt_now()
        return {"started": feature.adapter is not None and feature.adapter.running, "message": message}
