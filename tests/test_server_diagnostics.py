"""A file that does not parse gets a word when a fill or rewrite is asked for (units, then end to end)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types
from server_support import fixture_text, open_doc, start, stop, uri_for, wait_state

from diffill.holes import find_holes
from lsp_server.diagnostics import parse_notice

BROKEN = "import math\n\nvalues = (1, 2\ntotal = ???\n"  # the tuple is never closed: line 3


def test_the_notice_names_the_first_error_line_and_covers_it() -> None:
    notice = parse_notice(BROKEN, "python", find_holes(BROKEN))
    assert notice is not None
    assert notice.message == "diffill: this file does not parse (line 3); fills may be worse"
    assert notice.severity == types.DiagnosticSeverity.Information and notice.source == "diffill"
    assert notice.range == types.Range(
        start=types.Position(line=2, character=0), end=types.Position(line=2, character=14)
    )


def test_holes_count_as_code_and_other_languages_are_not_checked() -> None:
    holes = fixture_text("holes.py")  # "total = ???" and an empty body "???": broken only at the holes
    assert parse_notice(holes, "python", find_holes(holes)) is None
    assert parse_notice(BROKEN, "plaintext", find_holes(BROKEN)) is None


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def client(tiny_model_dir: Path) -> AsyncIterator:
    lsp = await start(tiny_model_dir, init={"diffill": {"steps": 2}})
    await wait_state(lsp, "ready")
    yield lsp
    await stop(lsp)


async def _fill(client, uri: str, rng: dict | None = None) -> None:
    params = {"textDocument": {"uri": uri}} | ({"range": rng} if rng else {})
    await client.protocol.send_request_async("diffill/fill", params)


def _change(client, uri: str, version: int, text: str) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


@pytest.mark.asyncio(loop_scope="module")
async def test_a_fill_of_a_broken_file_publishes_a_notice_and_a_fill_of_a_fixed_one_clears_it(client) -> None:
    uri = uri_for("broken.py")
    open_doc(client, uri, BROKEN)
    await _fill(client, uri)
    (notice,) = client.diagnostics[uri]
    assert "(line 3)" in notice.message and notice.range.start.line == 2
    _change(client, uri, 2, BROKEN.replace("(1, 2\n", "(1, 2)\n"))
    await _fill(client, uri)
    assert list(client.diagnostics[uri]) == []


@pytest.mark.asyncio(loop_scope="module")
async def test_a_rewrite_gets_the_notice_too_and_other_languages_none(client) -> None:
    uri = uri_for("broken-rewrite.py")
    open_doc(client, uri, BROKEN)
    await _fill(client, uri, {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}})
    assert [d.range.start.line for d in client.diagnostics[uri]] == [2]
    notes = uri_for("notes.txt")
    open_doc(client, notes, BROKEN, language="plaintext")
    await _fill(client, notes)
    assert notes not in client.diagnostics


@pytest.mark.asyncio(loop_scope="module")
async def test_closing_the_document_clears_the_notice(client) -> None:
    uri = uri_for("broken-close.py")
    open_doc(client, uri, BROKEN)
    await _fill(client, uri)
    assert client.diagnostics[uri]
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    for _ in range(100):
        if not client.diagnostics[uri]:
            break
        await asyncio.sleep(0.05)
    assert list(client.diagnostics[uri]) == []
