"""The diffill language server: the server object, its lifecycle (settings, model loading) and registration.

Features live in ``lsp_server.features`` (inline completion, code actions, commands, fill); this module
owns what they share: the settings, the model holder, document lookup, messages to the user and the
``diffill/status`` request with its ``diffill/statusChanged`` notification. The model starts loading when
the client says ``initialized`` and loads again when ``model``/``device``/``dtype`` change (or after a
failure); until it is ready every feature answers with an empty result.
"""

from __future__ import annotations

import itertools
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.workspace import TextDocument

from diffill import __version__
from diffill.errors import DiffillError
from diffill.retrieval.files import MAX_FILE_BYTES
from lsp_server.features.adapt import AdaptationFeature, folder_of
from lsp_server.jobs.options import ContextFn
from lsp_server.jsonrpc import DiffillProtocol
from lsp_server.protocol import STATUS, STATUS_CHANGED, Status, StatusParams
from lsp_server.settings import SECTION, Settings, parse_settings, problems_message, section
from lsp_server.suggestions import Suggestions
from lsp_server.transport import serve_io, serve_tcp
from lsp_server.worker import ModelState, Worker
from lsp_server.workspace_context import WorkspaceContext

log = logging.getLogger(__name__)


class DiffillServer(LanguageServer):
    """pygls server holding diffill's settings and model."""

    def __init__(self, base: Settings | None = None) -> None:
        super().__init__("diffill", __version__, protocol_cls=DiffillProtocol)
        self.base_settings = base or Settings()
        self.settings = self.base_settings
        self.worker = Worker(self.status_changed)
        self.seeds = itertools.count(1)
        self.suggestions = Suggestions()  # ghost text shown, served again while the user types through it
        self._init_options: Mapping[str, Any] = {}
        self._config: Mapping[str, Any] = {}
        self._problems: list[str] = []
        self._started = False
        self._last_state = ModelState.LOADING
        self.adaptation = AdaptationFeature(self)  # learning the workspace (features/adapt.py)
        self._serving: str | None = None  # the model directory loaded (None: the bundled one)
        self.folder: Path | None = None  # the workspace folder (the first the client named)
        self.workspace_context: WorkspaceContext | None = None  # its index, while contextTokens > 0

    def document(self, uri: str) -> TextDocument | None:
        """An open document, or None (documents the client never opened are not read from disk)."""
        try:
            return self.workspace.text_documents.get(unquote(uri))
        except RuntimeError:  # not initialized
            return None

    def show(self, message: str, kind: types.MessageType = types.MessageType.Warning) -> None:
        log.log(logging.ERROR if kind is types.MessageType.Error else logging.WARNING, "%s", message)
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def status(self) -> Status:
        worker = self.worker
        adapted = self._serving is not None and self._serving != self.settings.model
        return Status(
            state=worker.state,
            model=worker.model_name,
            device=worker.device,
            error=worker.error,
            settings=self.settings.to_wire(),
            adaptation=self.adaptation.wire(),
            serving="adapted" if adapted else "base",
        )

    def status_changed(self) -> None:
        """The model holder's state changed: tell the client, and show a load failure once."""
        self.adaptation.model_busy(self.worker.state is ModelState.BUSY)
        status = self.status()
        busy_toggle = {self._last_state, status.state} <= {ModelState.READY, ModelState.BUSY}
        self._last_state = status.state
        log.log(
            logging.DEBUG if busy_toggle else logging.INFO,
            "model state %s%s",
            status.state.value,
            f": {status.error}" if status.error else "",
        )
        if status.state is ModelState.FAILED:
            self.show(
                f"diffill: the model could not be loaded: {sentence(status.error or '')} Set diffill.model to "
                "a checkpoint directory.",
                types.MessageType.Error,
            )
        if self._started:
            self.protocol.notify(STATUS_CHANGED, status)

    def update_settings(self, init: Mapping[str, Any] | None = None, config: Mapping[str, Any] | None = None) -> None:
        """Re-read the settings layers; reload the model when its key changed or it failed to load."""
        if init is not None:
            self._init_options = init
        if config is not None:
            self._config = config
        previous = self.settings
        merged = {**self._init_options, **self._config}
        self.settings, problems = parse_settings(merged, self.base_settings)
        fresh = [p for p in problems if p not in self._problems]  # each problem is shown once while it lasts
        if fresh:
            self.show(problems_message(fresh))
        self._problems = problems
        log.info("settings: %s", self.settings)
        if self._started and (
            self.settings.model_key() != previous.model_key()
            or self.adaptation.serving_model() != self._serving
            or self.worker.state is ModelState.FAILED
        ):
            self.load_model()
        self.follow_context_setting()

    def follow_context_setting(self) -> None:
        """Build the workspace's index (in a thread) when repository context is asked for; drop it when not."""
        wanted = self.settings.context_tokens > 0 and self.folder is not None and self._started
        if wanted and self.workspace_context is None and self.folder is not None:
            self.workspace_context = WorkspaceContext(self.folder)
            self.workspace_context.start()
        elif not wanted and self.workspace_context is not None:
            self.workspace_context.stop()
            self.workspace_context = None

    def repository_context(self, uri: str) -> ContextFn | None:
        """The repository context of fills in ``uri`` (None when off): the workspace's code most like the text
        before the fill, read on the model thread, with the editor's text of ``uri`` standing for its file."""
        workspace, doc = self.workspace_context, self.document(uri)
        if workspace is None or doc is None:
            return None
        path = folder_of(uri)
        text, version = doc.source, doc.version

        def context(infiller: Any, fill_text: str, at: int) -> str:
            if path is not None and len(text) <= MAX_FILE_BYTES:
                workspace.sync(path, text, version)
            return workspace.context(path, fill_text, at, infiller.lm.max_length, infiller.count_tokens)

        return context

    def load_model(self) -> None:
        """Load the model that serves: the workspace's adapted one when there is one, else the setting's."""
        self._started = True
        self.suggestions.clear()  # they were the previous model's
        self._serving = self.adaptation.serving_model()
        _, *rest = self.settings.model_key()
        self.worker.load(self._serving, *rest)


def sentence(text: str) -> str:
    """``text`` ending in exactly one full stop (or its own ``?`` / ``!``)."""
    text = text.rstrip().rstrip(".")
    return text if text.endswith(("?", "!")) else text + "."


def build_server(base: Settings | None = None) -> DiffillServer:
    """A server with every feature registered."""
    from lsp_server.features import actions, adapt, commands, fill, inline, prefetch

    server = DiffillServer(base)
    _register_lifecycle(server)
    inline.register(server)
    fill.register(server)
    actions.register(server)
    commands.register(server)
    prefetch.register(server)
    adapt.register(server)
    return server


def _register_lifecycle(server: DiffillServer) -> None:
    @server.feature(types.INITIALIZE)
    def on_initialize(params: types.InitializeParams) -> None:
        server.update_settings(init=section(params.initialization_options) or {})

    @server.feature(types.INITIALIZED)
    def on_initialized(params: types.InitializedParams) -> None:
        server.folder = _workspace_folder(server)
        server.adaptation.start(server.folder)
        server.load_model()
        server.follow_context_setting()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def on_configuration(params: types.DidChangeConfigurationParams) -> None:
        raw = section(params.settings)
        if raw is None and _can_pull_configuration(server):
            pulled = await server.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
            )
            raw = pulled[0] if pulled and isinstance(pulled[0], Mapping) else None
        if raw is not None:
            server.update_settings(config=raw)

    @server.feature(types.SHUTDOWN)
    def on_shutdown(params: None) -> None:
        server.adaptation.shutdown()
        if server.workspace_context is not None:
            server.workspace_context.stop()
        server.worker.shutdown()

    @server.feature(types.EXIT)
    def on_exit(params: None) -> None:
        """Leave at once: a model thread still importing torch or denoising must not hold the process."""
        server.adaptation.shutdown()
        server.worker.shutdown()
        logging.shutdown()
        os._exit(0 if server.protocol._shutdown else 1)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def on_files_changed(params: types.DidChangeWatchedFilesParams) -> None:
        if server.workspace_context is not None:
            server.workspace_context.changed_on_disk()

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def on_save(params: types.DidSaveTextDocumentParams) -> None:
        if server.workspace_context is not None:
            server.workspace_context.changed_on_disk()

    @server.feature(STATUS)
    def on_status(params: StatusParams | None) -> Status:
        return server.status()


def _workspace_folder(server: DiffillServer) -> Path | None:
    """The first workspace folder (or the root) the client named, as a local path."""
    try:
        folders = list(server.workspace.folders.values())
        root = server.workspace.root_uri
    except RuntimeError:
        return None
    uri = folders[0].uri if folders else root
    return folder_of(uri)


def _can_pull_configuration(server: DiffillServer) -> bool:
    workspace = server.client_capabilities.workspace
    return bool(workspace is not None and workspace.configuration)


def parse_tcp(spec: str) -> tuple[str, int]:
    """``HOST:PORT`` -> (host, port)."""
    host, sep, port = spec.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise DiffillError(f"invalid --tcp {spec!r}; expected HOST:PORT, e.g. 127.0.0.1:2087")
    return host, int(port)


def setup_logging(log_file: Path | None, level: str) -> None:
    """Logs to ``log_file`` or stderr, never stdout (it carries JSON-RPC); pygls's own chatter only at DEBUG."""
    handler: logging.Handler = (
        logging.FileHandler(log_file, encoding="utf-8") if log_file else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=getattr(logging, level.upper()), handlers=[handler], force=True)
    if level.upper() != "DEBUG":
        logging.getLogger("pygls").setLevel(logging.WARNING)


def serve(base: Settings, tcp: str | None = None, log_file: Path | None = None, log_level: str = "info") -> int:
    """Run the server until the client exits (``diffill serve``)."""
    address = parse_tcp(tcp) if tcp else None
    setup_logging(log_file, log_level)
    server = build_server(base)
    log.info("diffill %s serving on %s", __version__, f"{address[0]}:{address[1]}" if address else "stdio")
    if address is not None:
        serve_tcp(server, *address)
        return 0
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the JSON-RPC stream
    serve_io(server, stdin, stdout)  # pygls's loops, with a reader that survives broken frames
    return 0
