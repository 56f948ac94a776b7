"""A huge document: edits and requests cost the size of what changed, and the server keeps answering.

Units: the line index follows edits as a rebuild would (``LineIndex.splice``, ``Document``), and
should-complete parses a bounded region around the cursor of a large text, deciding as on the whole text.
End to end (the real server): a 5 MB document gets the ghost text the same place gets in a small document,
and a status request sent while ghost text is generated for it is answered first.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types
from pygls.workspace import TextDocument
from server_support import fixture_text, inline, inline_params, open_doc, start, status, stop, uri_for, wait_state

from lsp_server.documents import Document
from lsp_server.edits import LineIndex
from lsp_server.should_complete import REGION_LINES_AFTER, REGION_LINES_BEFORE, Mode, PythonSyntax, should_complete

BIG = 5_000_000


def filler(size: int) -> str:
    """Valid Python of about ``size`` characters: small functions, each its own name."""
    parts, total, i = [], 0, 0
    while total < size:
        part = (
            f"def helper_{i}(values):\n    total = 0\n    for v in values:\n        total += v * {i}\n"
            "    return total\n\n\n"
        )
        parts.append(part)
        total += len(part)
        i += 1
    return "".join(parts)


def place(text_before: str, text_after: str) -> tuple[str, int]:
    """A function with an empty body line between two fillers; the row of that line."""
    body = "def perimeter(circle):\n    \n\n\n"
    text = text_before + body + text_after
    return text, text_before.count("\n") + 1


# --- units -------------------------------------------------------------------------------------------


def test_splice_matches_a_rebuilt_index() -> None:
    rng = random.Random(0)
    pieces = ["a", "é", "😀", "\n", "\r", "\r\n", " "]
    for _ in range(300):
        index = LineIndex("".join(rng.choice(pieces) for _ in range(rng.randrange(30))))
        for _ in range(4):
            start = rng.randrange(len(index.text) + 1)
            end = rng.randrange(start, len(index.text) + 1)
            new = "".join(rng.choice(pieces) for _ in range(rng.randrange(4)))
            edited = index.splice(start, end, new)
            rebuilt = LineIndex(index.text[:start] + new + index.text[end:])
            assert edited.text == rebuilt.text
            assert list(edited.starts) == list(rebuilt.starts)
            assert list(edited.ends) == list(rebuilt.ends)
            index = edited


def test_document_applies_incremental_changes_as_pygls_does() -> None:
    rng = random.Random(1)
    for _ in range(200):
        text = "".join(rng.choice(["ab", "é", "😀", "\n", " "]) for _ in range(rng.randrange(20)))
        ours, theirs = Document("file:///x.py", source=text, version=1), TextDocument("file:///x.py", text, 1)
        for _ in range(4):
            lines = theirs.source.split("\n")
            row = rng.randrange(len(lines))
            column = rng.randrange(len(lines[row].encode("utf-16-le")) // 2 + 1)
            at = types.Position(line=row, character=column)
            change = types.TextDocumentContentChangePartial(
                range=types.Range(start=at, end=at), text=rng.choice("x\né")
            )
            ours.apply_change(change)
            theirs.apply_change(change)
            assert ours.source == theirs.source
            assert ours.line_index.text is ours.source


def test_an_edit_gives_a_new_index_and_leaves_the_old_one_as_it_was() -> None:
    doc = Document("file:///x.py", source="a\nb\n", version=1)
    before = LineIndex.of(doc)
    at = types.Position(line=0, character=1)
    doc.apply_change(types.TextDocumentContentChangePartial(range=types.Range(start=at, end=at), text="\nz"))
    assert before.text == "a\nb\n" and list(before.starts) == [0, 2, 4]
    assert LineIndex.of(doc).text == "a\nz\nb\n"


def test_should_complete_parses_a_bounded_region_of_a_big_text() -> None:
    text, row = place(filler(BIG // 2), filler(BIG // 2))
    offset = LineIndex(text).offset(types.Position(line=row, character=4))
    assert offset is not None
    syntax = PythonSyntax(text, around=offset)
    region_lines = syntax.text.count("\n")
    assert REGION_LINES_BEFORE + REGION_LINES_AFTER <= region_lines < 4 * (REGION_LINES_BEFORE + REGION_LINES_AFTER)
    assert syntax.text.startswith("def ")  # cut at a top-level statement
    assert should_complete(text, offset, "python").mode is Mode.BLOCK  # the empty body of "def perimeter():"
    small, small_row = place(filler(3000), filler(3000))
    small_offset = LineIndex(small).offset(types.Position(line=small_row, character=4))
    assert should_complete(small, small_offset, "python") == should_complete(text, offset, "python")


def test_a_string_is_seen_as_one_in_a_big_text() -> None:
    text = filler(BIG // 2) + 'NOTE = """\nsome words, \n"""\n' + filler(BIG // 2)
    offset = text.index("some words, ") + len("some words, ")
    assert should_complete(text, offset, "python").mode is Mode.NONE


# --- the server ------------------------------------------------------------------------------------


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def client(tiny_model_dir: Path) -> AsyncIterator:
    settings = {"steps": 4, "minConfidence": 0.0, "adaptiveDebounce": False, "debounceMs": 0, "prefetch": False}
    lsp = await start(tiny_model_dir, init={"diffill": settings})
    await wait_state(lsp, "ready")
    yield lsp
    await stop(lsp)


@pytest.mark.asyncio(loop_scope="module")
async def test_a_big_document_gets_the_ghost_text_of_the_same_place_in_a_small_one(client) -> None:
    around = fixture_text("sample.py")
    small, small_row = place(filler(20_000), around)
    big, big_row = place(filler(BIG), around)
    open_doc(client, uri_for("small.py"), small)
    open_doc(client, uri_for("big.py"), big)
    small_items = await inline(client, uri_for("small.py"), small_row, 4)
    big_items = await inline(client, uri_for("big.py"), big_row, 4)
    assert small_items and [i.insert_text for i in big_items] == [i.insert_text for i in small_items]
    assert big_items[0].range.start == types.Position(line=big_row, character=0)


@pytest.mark.asyncio(loop_scope="module")
async def test_a_status_request_is_answered_while_ghost_text_for_a_big_document_is_made(slow_model_dir: Path) -> None:
    slow = {"steps": 256, "lineLength": 256, "multilineLength": 256, "endProbability": 0, "minConfidence": 0.0}
    lsp = await start(slow_model_dir, init={"diffill": {**slow, "adaptiveDebounce": False, "prefetch": False}})
    try:
        await wait_state(lsp, "ready")
        big, row = place(filler(BIG), "")
        open_doc(lsp, uri_for("big-status.py"), big)
        params = inline_params(uri_for("big-status.py"), row, 4)
        ghost = asyncio.wrap_future(lsp.protocol.send_request("textDocument/inlineCompletion", params))  # sent now
        answered = await status(lsp)
        assert answered["state"] in ("ready", "busy")
        assert not ghost.done()  # the status came back first
        await asyncio.wait_for(ghost, 120)
    finally:
        await stop(lsp)
