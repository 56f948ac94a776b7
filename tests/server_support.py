"""Helpers for the end-to-end server tests: start ``diffill serve`` as a subprocess and talk to it as a client."""

from __future__ import annotations

import asyncio
import json
import sys
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.protocol import JsonRPCResponseMessage
from pytest_lsp import LanguageClient, client_capabilities
from pytest_lsp.client import make_test_lsp_client

from lsp_server.edits import apply_edits

FIXTURES = Path(__file__).parent / "fixtures" / "server"
READY_TIMEOUT_S = 60.0


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def uri_for(name: str) -> str:
    return f"file:///diffill-tests/{name}"


def _plain_results(client: LanguageClient) -> None:
    """Results of diffill's custom requests as plain dicts (pygls turns unknown results into namedtuples)."""
    client.protocol._converter.register_structure_hook(JsonRPCResponseMessage, lambda obj, cls: cls(**obj))


def _record_apply_edit(client: LanguageClient) -> None:
    """A client that applies ``workspace/applyEdit`` to the documents it opened."""
    client.applied_edits = []  # type: ignore[attr-defined]
    client.texts = {}  # type: ignore[attr-defined]

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        client.applied_edits.append(params)  # type: ignore[attr-defined]
        for uri, edits in edits_by_uri(params.edit).items():
            client.texts[uri] = apply_edits(client.texts[uri], edits)  # type: ignore[attr-defined]
        return types.ApplyWorkspaceEditResult(applied=True)


def edits_by_uri(edit: types.WorkspaceEdit) -> dict[str, list[types.TextEdit]]:
    out: dict[str, list[types.TextEdit]] = {}
    for uri, edits in (edit.changes or {}).items():
        out.setdefault(uri, []).extend(edits)
    for change in edit.document_changes or []:
        assert isinstance(change, types.TextDocumentEdit)
        out.setdefault(change.text_document.uri, []).extend(change.edits)  # type: ignore[arg-type]
    return out


def server_command(model: Path | str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "lsp_server.cli", "serve", "--model", str(model), *extra]


async def start(
    model: Path | str,
    *extra: str,
    init: dict[str, Any] | None = None,
    client: str = "visual-studio-code",
    root: Path | None = None,
) -> LanguageClient:
    """A client connected to a fresh server, initialized (the model may still be loading); ``root`` is the
    workspace folder."""
    lsp = make_test_lsp_client()
    lsp.status_changes = []  # type: ignore[attr-defined]
    lsp.feature("diffill/statusChanged")(lambda params: lsp.status_changes.append(params))  # type: ignore[attr-defined]
    _plain_results(lsp)
    _record_apply_edit(lsp)
    await lsp.start_io(*server_command(model, *extra))
    params = types.InitializeParams(
        capabilities=client_capabilities(client),
        initialization_options=init,
        root_uri=root.resolve().as_uri() if root is not None else None,
    )
    lsp.init_result = await lsp.initialize_session(params)  # type: ignore[attr-defined]
    return lsp


async def stop(client: LanguageClient) -> None:
    await client.shutdown_session()
    await client.stop()


async def status(client: LanguageClient) -> dict[str, Any]:
    return await client.protocol.send_request_async("diffill/status", None)


async def wait_state(client: LanguageClient, *states: str, timeout: float = READY_TIMEOUT_S) -> dict[str, Any]:
    """Poll ``diffill/status`` until the model is in one of ``states``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        current = await status(client)
        if current["state"] in states:
            return current
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"model still {current} after {timeout} s")
        await asyncio.sleep(0.05)


def open_doc(client: LanguageClient, uri: str, text: str, language: str = "python", version: int = 1) -> None:
    client.texts[uri] = text  # type: ignore[attr-defined]
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id=language, version=version, text=text)
        )
    )


def configure(client: LanguageClient, settings: dict[str, Any]) -> None:
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"diffill": settings}))


def inline_params(uri: str, line: int, character: int, invoked: bool = False) -> types.InlineCompletionParams:
    kind = types.InlineCompletionTriggerKind.Invoked if invoked else types.InlineCompletionTriggerKind.Automatic
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
        context=types.InlineCompletionContext(trigger_kind=kind),
    )


async def inline(client: LanguageClient, uri: str, line: int, character: int, invoked: bool = False):
    result = await client.text_document_inline_completion_async(inline_params(uri, line, character, invoked))
    items = result.items if isinstance(result, types.InlineCompletionList) else (result or [])
    return list(items)


async def raw_request(client: LanguageClient, msg_id: int | str, method: str, params: Any) -> Any:
    """Send a request exactly as given (e.g. malformed params the client library would refuse to build)."""
    future: Future[Any] = Future()
    client.protocol._request_futures[msg_id] = future
    body = json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}).encode()
    client.protocol.writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)  # type: ignore[union-attr]
    return await asyncio.wrap_future(future)


def cancel_request(client: LanguageClient, msg_id: int | str) -> None:
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
