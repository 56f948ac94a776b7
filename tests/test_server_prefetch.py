"""End to end: ``diffill/prefetch`` fills ahead where the cursor rests, and remembered suggestions.

A request where the prefetch filled is answered from its suggestion (the request log says ``cached=True``);
a keystroke that leaves it starts from the prefetch's context states (``warm=True``). Typing through any
suggestion is answered from it, and a keystroke that does not match goes to the model again."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types
from server_support import configure, fixture_text, inline, open_doc, start, stop, uri_for, wait_state

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def served(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator:
    log = tmp_path_factory.mktemp("prefetch") / "server.log"
    lsp = await start(tiny_model_dir, "--log-file", str(log), init={"diffill": {"steps": 4, "minConfidence": 0.0}})
    await wait_state(lsp, "ready")
    yield lsp, log
    await stop(lsp)


def _prefetch(client, uri: str, line: int, character: int) -> None:
    params = {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}
    client.protocol.notify("diffill/prefetch", params)


def _type(client, uri: str, version: int, line: int, character: int, text: str) -> None:
    at = types.Position(line=line, character=character)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangePartial(range=types.Range(start=at, end=at), text=text)],
        )
    )


async def _log_lines(log: Path, pattern: str, count: int, timeout: float = 30.0) -> list[str]:
    """The request-log lines matching ``pattern``, once there are at least ``count`` of them."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        lines = [s for s in log.read_text(encoding="utf-8").splitlines() if re.search(pattern, s)]
        if len(lines) >= count or asyncio.get_running_loop().time() > deadline:
            return lines
        await asyncio.sleep(0.05)


def _body_line(text: str, header: str) -> int:
    return text.split("\n").index(header) + 1


def _open_sample(client, name: str) -> tuple[str, str, int]:
    """The sample fixture opened as ``name``: its uri, its text and the empty body line of ``perimeter``."""
    text, uri = fixture_text("sample.py"), uri_for(name)
    open_doc(client, uri, text)
    return uri, text, _body_line(text, "def perimeter(circle):")


async def test_a_keystroke_after_a_prefetch_starts_warm(served) -> None:
    client, log = served
    text = fixture_text("sample.py")
    cold_uri, warm_uri = uri_for("prefetch-cold.py"), uri_for("prefetch-warm.py")
    other = "\n".join(f"value_{i} = {i} * {i}" for i in range(80)) + "\n"
    elsewhere = (uri_for("prefetch-other.py"), 40, len("value_40 = 40 * 40"))
    open_doc(client, cold_uri, text)
    open_doc(client, warm_uri, text)
    open_doc(client, uri_for("prefetch-other.py"), other)
    line = _body_line(text, "def perimeter(circle):")

    # A request elsewhere leaves its states; typing at a new place then starts cold.
    assert await inline(client, *elsewhere) is not None
    _type(client, cold_uri, 2, line, 4, "r")
    await inline(client, cold_uri, line, 5)
    assert "warm=False" in (await _log_lines(log, r"inline#\S+ ok", 2))[-1]

    # The cursor rests at the same place of another copy first: a request there is answered from the
    # prefetch's suggestion, and a keystroke that leaves it starts warm.
    assert await inline(client, *elsewhere) is not None
    _prefetch(client, warm_uri, line, 4)
    prefetched = await _log_lines(log, r"prefetch#- ok", 1)
    assert prefetched, "the prefetch never ran"
    shown = await inline(client, warm_uri, line, 4)
    assert shown, "the prefetch left no suggestion"
    assert "cached=True" in (await _log_lines(log, r"inline#\S+ ok", 4))[-1]
    typed = "r" if shown[0].insert_text[4:5] != "r" else "x"
    _type(client, warm_uri, 2, line, 4, typed)
    await inline(client, warm_uri, line, 5)
    last = (await _log_lines(log, r"inline#\S+ ok", 5))[-1]
    assert "warm=True" in last and "cached=False" in last


async def test_typing_through_a_suggestion_is_answered_from_it(served) -> None:
    client, log = served
    uri, text, line = _open_sample(client, "type-through.py")
    shown = await inline(client, uri, line, 4)
    assert shown, "no suggestion to type through"
    suggestion = shown[0].insert_text.split("\n")[0]
    assert suggestion.startswith("    ") and len(suggestion) > 6, suggestion
    requests = len(await _log_lines(log, r"inline#\S+ ok", 1))

    _type(client, uri, 2, line, 4, suggestion[4])  # the first character the ghost text shows
    rest = await inline(client, uri, line, 5)
    assert [i.insert_text for i in rest] == [suggestion[5:]]
    cursor = types.Position(line=line, character=5)
    assert rest[0].range == types.Range(start=cursor, end=cursor)
    assert "cached=True" in (await _log_lines(log, r"inline#\S+ ok", requests + 1))[-1]

    _type(client, uri, 3, line, 5, "\u00a7")  # a character it does not show: the model again
    await inline(client, uri, line, 6)
    assert "cached=False" in (await _log_lines(log, r"inline#\S+ ok", requests + 2))[-1]

    # Closing the document forgets its suggestions.
    closed = types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    client.text_document_did_close(closed)
    open_doc(client, uri, text)
    await inline(client, uri, line, 4)
    assert "cached=False" in (await _log_lines(log, r"inline#\S+ ok", requests + 3))[-1]


async def test_a_cursor_on_a_word_warms_the_end_of_its_line(served) -> None:
    client, log = served
    uri, _, line = _open_sample(client, "prefetch-word.py")
    before = len(await _log_lines(log, r"prefetch#- ok", 0))
    _prefetch(client, uri, line - 1, 0)  # on "def"
    assert len(await _log_lines(log, r"prefetch#- ok", before + 1)) == before + 1


async def test_prefetch_is_ignored_where_there_is_nothing_to_do(served) -> None:
    client, log = served
    uri, _, line = _open_sample(client, "prefetch-off.py")
    before = len(await _log_lines(log, r"prefetch#", 0))
    _prefetch(client, uri_for("never-opened.py"), 0, 0)  # an unknown document
    _prefetch(client, uri, 10_000, 0)  # a position past the end
    client.protocol.notify("diffill/prefetch", {"textDocument": {"uri": uri}})  # malformed: no position
    configure(client, {"steps": 4, "prefetch": False})
    await asyncio.sleep(0.3)
    _prefetch(client, uri, line, 4)  # switched off
    await asyncio.sleep(0.5)
    configure(client, {"steps": 4})
    assert await inline(client, uri, line, 4) is not None  # the server still answers
    assert len(await _log_lines(log, r"prefetch#", 0)) == before
