"""Uncertain marks: placed in the edited document (units), and sent after fills and rewrites (end to end)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types
from server_support import edits_by_uri, fixture_text, open_doc, start, stop, uri_for, wait_state

from lsp_server.edits import LineIndex, apply_edits
from lsp_server.marks import Pending, PendingMarks, Replacement, edited_text, marks_after, send_marks
from lsp_server.protocol import MARKS, Mark, MarksParams


def _pos(line: int, character: int) -> types.Position:
    return types.Position(line=line, character=character)


def test_marks_land_in_the_edited_document_after_earlier_replacements_moved_them() -> None:
    text = "a = ???\nb = ???\n"
    first = Replacement(4, 7, "long_name(x)", ((0, 9, 0.9), (9, 10, 0.2), (10, 11, 0.3), (11, 12, 0.95)))
    second = Replacement(12, 15, "y\nz", ((0, 1, 0.1), (1, 2, 0.9), (2, 3, 0.4)))
    edited = edited_text(text, [second, first])
    assert edited == "a = long_name(x)\nb = y\nz\n"
    marks = marks_after(text, [second, first], 0.5)
    assert [(m.range.start, m.range.end) for m in marks] == [
        (_pos(0, 13), _pos(0, 15)),  # "(x": the two uncertain tokens merged
        (_pos(1, 4), _pos(1, 5)),  # "y", moved by the first replacement's growth
        (_pos(2, 0), _pos(2, 1)),  # "z" on the line the second replacement added
    ]
    assert [m.confidence for m in marks] == [0.2, 0.1, 0.4]
    index = LineIndex(edited)
    assert [edited[index.offset(m.range.start) : index.offset(m.range.end)] for m in marks] == ["(x", "y", "z"]


def test_runs_are_trimmed_of_whitespace_and_nothing_is_marked_at_zero() -> None:
    text = "x = ???\n"
    rep = Replacement(4, 7, "  f( 1 )  ", ((0, 4, 0.1), (4, 6, 0.1), (6, 10, 0.1)))
    (mark,) = marks_after(text, [rep], 0.5)
    assert (mark.range.start, mark.range.end) == (_pos(0, 6), _pos(0, 12))  # "f( 1 )", no outer spaces
    assert marks_after(text, [rep], 0.0) == []
    assert marks_after(text, [Replacement(4, 7, "   ", ((0, 3, 0.1),))], 0.5) == []  # blank: nothing to mark


def test_mark_ranges_count_utf16_units() -> None:
    text = "s = '😀' + ???\n"
    start = text.index("???")
    (mark,) = marks_after(text, [Replacement(start, start + 3, "name", ((0, 4, 0.3),))], 0.5)
    assert mark.range.start == _pos(0, start + 1)  # the emoji takes two UTF-16 units


class _Doc:
    def __init__(self, source: str, version: int) -> None:
        self.source, self.version = source, version


class _Server:
    """Just enough of a server for ``send_marks``."""

    def __init__(self, doc: _Doc | None) -> None:
        self.doc = doc
        self.sent: list[tuple[str, Any]] = []
        self.protocol = self

    def document(self, uri: str) -> _Doc | None:
        return self.doc

    def notify(self, method: str, params: Any) -> None:
        self.sent.append((method, params))


def test_the_version_is_the_documents_only_when_the_server_holds_the_edited_text() -> None:
    mark = Mark(range=types.Range(start=_pos(0, 0), end=_pos(0, 1)), confidence=0.1)
    for doc, version in [(_Doc("new", 7), 7), (_Doc("old", 6), None), (None, None)]:
        server = _Server(doc)
        send_marks(server, "file:///a.py", "new", [mark])  # type: ignore[arg-type]
        assert server.sent == [(MARKS, MarksParams(uri="file:///a.py", version=version, marks=[mark]))]


def test_pending_marks_are_taken_once_and_only_the_latest_are_kept() -> None:
    pending = PendingMarks(keep=2)
    for key in ("a", "b", "c"):
        pending.put(key, Pending("file:///a.py", key, []))
    assert pending.pop("a") is None  # pushed out
    assert pending.pop("b") is not None and pending.pop("b") is None
    assert pending.pop(3) is None  # a malformed argument


# End to end: the real server with the tiny random model (its confidences are all far below 0.5).

BELOW = 0.5


def _plain(value: Any) -> Any:
    """A notification's params (pygls gives namedtuples for methods it does not know) as plain JSON values."""
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def client(tiny_model_dir: Path) -> AsyncIterator:
    lsp = await start(tiny_model_dir, init={"diffill": {"steps": 4, "uncertainBelow": BELOW}})
    lsp.marks = []  # type: ignore[attr-defined]
    lsp.feature(MARKS)(lambda params: lsp.marks.append(_plain(params)))  # type: ignore[attr-defined]
    await wait_state(lsp, "ready")
    yield lsp
    await stop(lsp)


async def _next_marks(client, count: int) -> dict[str, Any]:
    for _ in range(200):
        if len(client.marks) >= count:
            return client.marks[count - 1]
        await asyncio.sleep(0.05)
    raise AssertionError("no diffill/marks notification")


def _edit_spans(text: str, edits: list[types.TextEdit]) -> list[tuple[int, int]]:
    """Where each edit's new text lies in the edited text (offsets)."""
    index = LineIndex(text)
    spans = sorted((index.offset(e.range.start), index.offset(e.range.end), e.new_text) for e in edits)
    out, shift = [], 0
    for lo, hi, new in spans:
        out.append((lo + shift, lo + shift + len(new)))
        shift += len(new) - (hi - lo)
    return out


def _assert_inside_new_text(edited: str, new_spans: list[tuple[int, int]], marks: list[dict[str, Any]]) -> None:
    index = LineIndex(edited)
    for mark in marks:
        rng = types.Range(start=types.Position(**mark["range"]["start"]), end=types.Position(**mark["range"]["end"]))
        a, b = index.offset(rng.start), index.offset(rng.end)
        assert any(lo <= a < b <= hi for lo, hi in new_spans), (mark, new_spans)
        assert edited[a:b].strip() == edited[a:b] and mark["confidence"] < BELOW


@pytest.mark.asyncio(loop_scope="module")
async def test_a_command_fill_sends_marks_and_diffill_fill_returns_the_same(client) -> None:
    text = fixture_text("holes.py")
    applied, returned = uri_for("marks-command.py"), uri_for("marks-request.py")
    open_doc(client, applied, text)
    open_doc(client, returned, text)
    seen = len(client.marks)
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="diffill.fillHoles", arguments=[applied])
    )
    assert result == {"applied": True, "cancelled": False}
    sent = await _next_marks(client, seen + 1)
    assert sent["uri"] == applied and sent["version"] is None  # this test client sends no didChange
    assert sent["marks"], "the tiny model is unsure of everything: some text must be marked"
    edits = edits_by_uri(client.applied_edits[-1].edit)[applied]
    _assert_inside_new_text(client.texts[applied], _edit_spans(text, edits), sent["marks"])
    # diffill/fill of the same text, same seed: the same edit and the same marks, returned instead of sent
    response = await client.protocol.send_request_async("diffill/fill", {"textDocument": {"uri": returned}})
    fill_edits = [client.protocol._converter.structure(e, types.TextEdit) for e in response["edits"]]
    assert apply_edits(text, fill_edits) == client.texts[applied]
    assert response["marks"] == sent["marks"]
    assert len(client.marks) == seen + 1  # diffill/fill sends none


@pytest.mark.asyncio(loop_scope="module")
async def test_a_rewrite_marks_lie_in_its_new_region(client) -> None:
    uri = uri_for("marks-rewrite.py")
    text = "".join(f"value_{i} = compute(argument_{i})\n" for i in range(4))
    open_doc(client, uri, text)
    seen = len(client.marks)
    rng = {"start": {"line": 1, "character": 0}, "end": {"line": 3, "character": 0}}
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="diffill.rewriteRange", arguments=[uri, rng])
    )
    assert result["applied"] is True
    sent = await _next_marks(client, seen + 1)
    (edit,) = edits_by_uri(client.applied_edits[-1].edit)[uri]
    _assert_inside_new_text(client.texts[uri], _edit_spans(text, [edit]), sent["marks"])


@pytest.mark.asyncio(loop_scope="module")
async def test_a_resolved_code_action_sends_its_marks_through_its_command(client) -> None:
    uri = uri_for("marks-action.py")
    text = fixture_text("holes.py")
    open_doc(client, uri, text)
    (action,) = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(start=_pos(0, 0), end=_pos(0, 0)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    resolved = await client.code_action_resolve_async(action)
    assert resolved.edit is not None and resolved.command.command == "diffill.showMarks"
    seen = len(client.marks)
    await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=resolved.command.command, arguments=resolved.command.arguments)
    )
    sent = await _next_marks(client, seen + 1)
    edits = edits_by_uri(resolved.edit)[uri]
    _assert_inside_new_text(apply_edits(text, edits), _edit_spans(text, edits), sent["marks"])


@pytest.mark.asyncio(loop_scope="module")
async def test_uncertain_below_zero_marks_nothing(client) -> None:
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"diffill": {"steps": 4, "uncertainBelow": 0}})
    )
    for _ in range(100):
        status = await client.protocol.send_request_async("diffill/status", None)
        if status["settings"]["uncertainBelow"] == 0:
            break
        await asyncio.sleep(0.05)
    uri = uri_for("marks-off.py")
    open_doc(client, uri, fixture_text("holes.py"))
    seen = len(client.marks)
    response = await client.protocol.send_request_async("diffill/fill", {"textDocument": {"uri": uri}})
    assert response["edits"] and response["marks"] == []
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="diffill.fillHoles", arguments=[uri])
    )
    assert result["applied"] is True
    await client.protocol.send_request_async("diffill/status", None)  # a round trip: anything sent has arrived
    assert len(client.marks) == seen
