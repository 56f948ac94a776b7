"""End to end: the real ``diffill serve`` over stdio with a tiny random model, driven as an editor would.

One server serves the whole module (each test opens its own document). The model's text is gibberish, so
the tests check structure: where edits land, what they replace, which messages arrive.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from server_support import (
    edits_by_uri,
    fixture_text,
    inline,
    open_doc,
    raw_request,
    start,
    stop,
    uri_for,
    wait_state,
)

from diffill.postprocess import bracket_balance
from lsp_server.edits import apply_edits

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def client(tiny_model_dir: Path) -> AsyncIterator:
    lsp = await start(tiny_model_dir, init={"diffill": {"steps": 4, "candidates": 3, "minConfidence": 0.0}})
    await wait_state(lsp, "ready")
    yield lsp
    await stop(lsp)


def _utf16(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


async def test_capabilities_advertise_every_feature(client) -> None:
    caps = client.init_result.capabilities
    assert caps.inline_completion_provider is not None
    assert caps.code_action_provider.resolve_provider is True
    commands = set(caps.execute_command_provider.commands)
    assert {"diffill.fillHoles", "diffill.rewriteRange", "diffill.accepted"} <= commands
    assert caps.text_document_sync.change == types.TextDocumentSyncKind.Incremental


async def test_automatic_trigger_gives_one_item_with_the_indentation_kept(client) -> None:
    uri = uri_for("auto.py")
    text = fixture_text("sample.py")
    open_doc(client, uri, text)
    line = text.split("\n").index("def perimeter(circle):") + 1  # its empty body, cursor after 4 spaces
    items = await inline(client, uri, line, 4)
    assert len(items) == 1
    item = items[0]
    assert item.range.start == types.Position(line=line, character=0)
    assert item.range.end == types.Position(line=line, character=4)
    assert item.insert_text.startswith("    ") and item.insert_text.strip()


async def test_invoked_trigger_gives_distinct_candidates(client) -> None:
    uri = uri_for("invoked.py")
    text = fixture_text("sample.py")
    open_doc(client, uri, text)
    line = text.split("\n").index("def perimeter(circle):") + 1
    items = await inline(client, uri, line, 4, invoked=True)
    texts = [i.insert_text for i in items]
    assert len(texts) >= 2 and len(set(texts)) == len(texts)


async def test_each_item_says_how_sure_it_is_and_where_it_is_unsure(client) -> None:
    uri = uri_for("accepted.py")
    text = fixture_text("sample.py")
    open_doc(client, uri, text)
    line = text.split("\n").index("def perimeter(circle):") + 1
    for invoked in (False, True):
        for item in await inline(client, uri, line, 4, invoked=invoked):
            assert item.command is not None and item.command.command == "diffill.accepted"
            (accepted,) = item.command.arguments
            assert accepted["uri"] == uri and 0.0 <= accepted["confidence"] <= 1.0
            # a random model is unsure of every token (all below uncertainBelow 0.5): the code is marked
            assert accepted["uncertain"]
            for lo, hi in accepted["uncertain"]:
                assert 0 <= lo < hi <= len(item.insert_text) and item.insert_text[lo:hi].strip()
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="diffill.accepted", arguments=[accepted])
    )
    assert result is None


async def test_invoked_at_the_end_of_a_complete_line_suggests_the_next_line(client) -> None:
    from lsp_server.should_complete import Mode, should_complete

    text = "total = compute(values)\nprint(total)\n"
    end = text.index("\n")
    assert should_complete(text, end, "python", invoked=True).mode is Mode.SINGLE
    assert should_complete(text, end, "python").mode is Mode.LINE  # automatic: the rest of the line, as before
    assert should_complete("x = compute(a,\n", 14, "python", invoked=True).mode is Mode.LINE  # not complete
    uri = uri_for("next-line.py")
    open_doc(client, uri, text)
    items = await inline(client, uri, 0, end, invoked=True)
    assert items, "an invoked request at the end of a line answers"
    for item in items:
        assert item.insert_text.startswith("\n") and item.insert_text.strip()
        assert item.range.start == item.range.end == types.Position(line=0, character=end)


async def test_mid_line_completion_does_not_repeat_the_suffix(client) -> None:
    uri = uri_for("midline.py")
    text = "total = compute(values, )\n"
    open_doc(client, uri, text)
    for invoked in (False, True):
        for item in await inline(client, uri, 0, text.index(")"), invoked=invoked):
            assert "\n" not in item.insert_text and item.insert_text.strip()
            assert item.insert_text != ")"  # not the suffix itself
            assert not (item.insert_text.endswith(")") and bracket_balance(item.insert_text) < 0)  # nor its ")"


async def test_nothing_to_complete_gives_an_empty_result(client) -> None:
    uri = uri_for("nothing.py")
    open_doc(client, uri, 'name = "inside a string"\nvalue = 1  # a comment\n')
    assert await inline(client, uri, 0, 12) == []  # in a string
    assert await inline(client, uri, 1, 20) == []  # in a comment
    assert await inline(client, uri, 1, 2) == []  # in the middle of a word
    assert await inline(client, uri, 40, 0) == []  # past the end of the document
    assert await inline(client, uri_for("never-opened.py"), 0, 0) == []
    open_doc(client, uri_for("notes.txt"), "todo: \n", language="plaintext")
    assert await inline(client, uri_for("notes.txt"), 0, 6) == []  # language not enabled


async def test_non_ascii_before_the_cursor_lands_at_the_utf16_column(client) -> None:
    uri = uri_for("unicode.py")
    text = fixture_text("unicode.py")
    open_doc(client, uri, text)
    first = text.split("\n")[0]
    column = _utf16(first)
    assert column != len(first)  # the emoji counts twice
    items = await inline(client, uri, 0, column)
    assert items, "the tiny model gave nothing here"
    assert items[0].range.start == items[0].range.end == types.Position(line=0, character=column)
    edited = apply_edits(text, [types.TextEdit(range=items[0].range, new_text=items[0].insert_text)])
    assert edited == first + items[0].insert_text + text[len(first) :]


async def test_incremental_changes_after_non_ascii_are_tracked(client) -> None:
    uri = uri_for("incremental.py")
    text = 'label = "☃😀"\n'
    open_doc(client, uri, text)
    end = types.Position(line=0, character=_utf16(text.rstrip("\n")))
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangePartial(range=types.Range(start=end, end=end), text=" + ")],
        )
    )
    column = end.character + 3
    items = await inline(client, uri, 0, column)
    assert items and items[0].range.start == types.Position(line=0, character=column)


async def test_code_actions_rewrite_only_the_selection(client) -> None:
    uri = uri_for("rewrite.py")
    text = fixture_text("sample.py")
    open_doc(client, uri, text)
    lines = text.split("\n")
    row = lines.index("        return math.pi * self.radius ** 2")
    selection = types.Range(start=types.Position(line=row, character=8), end=types.Position(line=row + 1, character=0))
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=selection,
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    titles = [a.title for a in actions]
    assert titles == ["Rewrite selection", "Rewrite selection (light)"]  # no holes in this file
    start = sum(len(s) + 1 for s in lines[:row]) + 8
    end = start + len(lines[row]) - 8 + 1
    for action in actions:
        resolved = await client.code_action_resolve_async(action)
        (edit,) = edits_by_uri(resolved.edit)[uri]
        assert edit.range == selection
        edited = apply_edits(text, [edit])
        assert edited[:start] == text[:start] and edited.endswith(text[end:])


async def test_fill_holes_action_leaves_no_marker(client) -> None:
    uri = uri_for("holes-action.py")
    text = fixture_text("holes.py")
    open_doc(client, uri, text)
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    (action,) = actions
    assert action.title == "Fill 2 holes" and action.edit is None  # computed lazily
    resolved = await client.code_action_resolve_async(action)
    edits = edits_by_uri(resolved.edit)[uri]
    assert len(edits) == 2
    assert "???" not in apply_edits(text, edits)


async def test_commands_apply_their_edit_through_the_client(client) -> None:
    uri = uri_for("holes-command.py")
    text = fixture_text("holes.py")
    open_doc(client, uri, text)
    client.applied_edits.clear()
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="diffill.fillHoles", arguments=[uri])
    )
    assert result == {"applied": True, "cancelled": False}
    assert len(client.applied_edits) == 1 and "???" not in client.texts[uri]
    rng = {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}}
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="diffill.rewriteRange", arguments=[uri, rng, 0.5])
    )
    assert result["applied"] is True and len(client.applied_edits) == 2
    (edit,) = edits_by_uri(client.applied_edits[-1].edit)[uri]
    assert (edit.range.start.line, edit.range.end.line) == (0, 1)


async def test_fill_request_returns_edits_with_progress(client) -> None:
    uri = uri_for("holes-request.py")
    text = fixture_text("holes.py")
    open_doc(client, uri, text)
    client.progress_reports.setdefault("fill-token", [])
    result = await client.protocol.send_request_async(
        "diffill/fill", {"textDocument": {"uri": uri}, "workDoneToken": "fill-token"}
    )
    assert result["uri"] == uri and result["version"] == 1 and result["cancelled"] is False
    edits = [client.protocol._converter.structure(e, types.TextEdit) for e in result["edits"]]
    assert "???" not in apply_edits(text, edits)
    assert client.texts[uri] == text  # nothing was applied
    kinds = [type(r).__name__ for r in client.progress_reports["fill-token"]]
    assert kinds[0] == "WorkDoneProgressBegin" and kinds[-1] == "WorkDoneProgressEnd"
    assert "WorkDoneProgressReport" in kinds


async def test_fill_request_for_an_unknown_document_is_empty(client) -> None:
    result = await client.protocol.send_request_async("diffill/fill", {"textDocument": {"uri": uri_for("nope.py")}})
    assert result["edits"] == []


async def test_malformed_params_get_an_invalid_params_error(client) -> None:
    no_document = {"position": {"line": 0, "character": 0}, "context": {"triggerKind": 1}}
    for msg_id, method, params in [
        (9001, "textDocument/inlineCompletion", no_document),
        (9002, "diffill/fill", {"range": 3}),
        (9003, "textDocument/codeAction", [1, 2]),
    ]:
        with pytest.raises(JsonRpcInvalidParams) as caught:
            await raw_request(client, msg_id, method, params)
        assert caught.value.code == -32602
    assert (await wait_state(client, "ready"))["state"] == "ready"  # and the server is still there


async def test_status_reports_the_model(client) -> None:
    uri = uri_for("status.py")
    open_doc(client, uri, "def f(x):\n    \n")
    await inline(client, uri, 1, 4)
    status = await wait_state(client, "ready")
    assert status["device"] == "cpu" and status["error"] is None and status["model"]
    assert status["settings"]["steps"] == 4
    assert {"ready", "busy"} <= {change.state for change in client.status_changes}  # diffill/statusChanged


async def test_a_long_selection_is_rewritten_whole_and_a_too_long_line_refused(client) -> None:
    uri = uri_for("long.py")
    text = "".join(f"value_{i} = compute(argument_{i})\n" for i in range(60)) + "tail = 1\n"
    open_doc(client, uri, text)
    rng = {"start": {"line": 0, "character": 0}, "end": {"line": 60, "character": 0}}
    result = await client.protocol.send_request_async("diffill/fill", {"textDocument": {"uri": uri}, "range": rng})
    (edit,) = [client.protocol._converter.structure(e, types.TextEdit) for e in result["edits"]]
    assert client.protocol._converter.unstructure(edit.range) == rng  # one edit: exactly the selection
    assert apply_edits(text, [edit]).endswith("\ntail = 1\n")
    uri = uri_for("long-line.py")
    text = "values = [" + ", ".join(str(i) for i in range(300)) + "]\n"
    open_doc(client, uri, text)
    rng = {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}}
    with pytest.raises(JsonRpcException) as caught:
        await client.protocol.send_request_async("diffill/fill", {"textDocument": {"uri": uri}, "range": rng})
    assert caught.value.code == -32803 and "at most" in caught.value.message
    shown = len(client.messages)
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="diffill.rewriteRange", arguments=[uri, rng])
    )
    assert result["applied"] is False and len(client.messages) == shown + 1
    assert client.texts[uri] == text


async def test_server_and_engine_agree_for_the_same_input_and_seed(client, tiny_model_dir: Path) -> None:
    """Parity: ``diffill/fill`` gives what ``Infiller.fill`` gives in-process with the same settings and seed."""
    from diffill.denoise import DenoiseConfig
    from diffill.holes import find_holes
    from diffill.infill import FillOptions, Infiller
    from diffill.model import load_model

    uri = uri_for("parity.py")
    text = fixture_text("holes.py")
    open_doc(client, uri, text)
    result = await client.protocol.send_request_async("diffill/fill", {"textDocument": {"uri": uri}})
    served = apply_edits(text, [client.protocol._converter.structure(e, types.TextEdit) for e in result["edits"]])
    infiller = Infiller(load_model(tiny_model_dir, "cpu", "auto"))
    local = infiller.fill(text, find_holes(text), FillOptions(DenoiseConfig(steps=4)), seed=0)
    assert served == local.text
