"""A client of a real ``diffill serve`` for the ghost-text benchmarks (``benchmarks/ghost_*.py``).

Starts the server over stdio as an editor does, waits for the model, opens and edits documents, sends inline
requests and reads the server's request log (one line per request: ``inline#12 ok parse=... gate=...``).
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient


@dataclass(frozen=True)
class ServerOptions:
    """How to start the server and what it is told at initialize."""

    log_file: Path
    settings: dict[str, Any]
    model: Path | None = None
    device: str = "auto"
    dtype: str = "auto"
    threads: int = 0


async def start(options: ServerOptions) -> LanguageClient:
    """A client connected to a fresh ``diffill serve``, initialized (the model may still be loading)."""
    cmd = [sys.executable, "-m", "lsp_server.cli", "serve", "--log-file", str(options.log_file)]
    cmd += ["--threads", str(options.threads), "--device", options.device, "--dtype", options.dtype]
    if options.model is not None:
        cmd += ["--model", str(options.model)]
    client = LanguageClient("diffill-ghost-bench", "0")
    client.feature("diffill/statusChanged")(lambda params: None)
    await client.start_io(*cmd)
    await client.initialize_async(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(), initialization_options={"diffill": options.settings}
        )
    )
    client.initialized(types.InitializedParams())
    return client


async def wait_ready(client: LanguageClient, timeout: float = 300.0) -> Any:
    """Poll ``diffill/status`` until the model is ready (or failed); exits when it never loads."""
    deadline = time.monotonic() + timeout
    while True:
        status = await client.protocol.send_request_async("diffill/status", None)
        if status.state in ("ready", "failed") or time.monotonic() > deadline:
            if status.state != "ready":
                raise SystemExit(f"the model did not load: {status.error}")
            return status
        await asyncio.sleep(0.1)


async def stop(client: LanguageClient) -> None:
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()


def open_doc(client: LanguageClient, uri: str, text: str, version: int = 1) -> None:
    item = types.TextDocumentItem(uri=uri, language_id="python", version=version, text=text)
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=item))


def close_doc(client: LanguageClient, uri: str) -> None:
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )


def change_doc(client: LanguageClient, uri: str, version: int, rng: types.Range, text: str) -> None:
    """An incremental ``didChange``: ``rng`` replaced by ``text``."""
    change = types.TextDocumentContentChangePartial(range=rng, text=text)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version), content_changes=[change]
        )
    )


def inline_params(uri: str, position: types.Position, invoked: bool = False) -> types.InlineCompletionParams:
    kind = types.InlineCompletionTriggerKind.Invoked if invoked else types.InlineCompletionTriggerKind.Automatic
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=position,
        context=types.InlineCompletionContext(trigger_kind=kind),
    )


async def inline(
    client: LanguageClient, uri: str, position: types.Position, invoked: bool = False
) -> list[types.InlineCompletionItem]:
    result = await client.text_document_inline_completion_async(inline_params(uri, position, invoked))
    items = result.items if isinstance(result, types.InlineCompletionList) else (result or [])
    return list(items)


def log_lines(log_file: Path, marker: str) -> list[str]:
    """The server log's lines that contain ``marker``."""
    if not log_file.exists():
        return []
    return [s for s in log_file.read_text(encoding="utf-8").splitlines() if marker in s]


def log_field(line: str, key: str) -> str | None:
    """The value of ``key=value`` in a request log line, or None."""
    for word in line.split():
        if word.startswith(key + "="):
            return word[len(key) + 1 :]
    return None


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
