"""The live preview: where the spans sit in the denoised rows (in process), and diffill/preview on the wire.

In process, the tracker's placements are checked against the engine's own layouts (spied) for hole fills,
full and light rewrites, and a rewrite too long for one window (several rounds). End to end, a fill previews
its holes and ends with done=true before its edit; a cancelled one ends with cancelled=true and no edit, by
$/cancelRequest, by a progress cancel and by a newer fill of the same document.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled
from server_support import (
    cancel_request,
    configure,
    edits_by_uri,
    fixture_text,
    open_doc,
    raw_request,
    start,
    stop,
    uri_for,
    wait_state,
)

from diffill.holes import Span, find_holes
from lsp_server.edits import LineIndex
from lsp_server.protocol import PREVIEW, PREVIEW_MASK

SLOW = {"steps": 256, "multilineLength": 256, "lineLength": 256, "inlineLength": 4, "endProbability": 0}
WAIT_S = 60.0


# In process: the tracker against the engine.


@pytest.fixture(scope="module")
def infiller(tiny_model_dir: Path):
    from diffill.infill import Infiller
    from diffill.model import load_model

    return Infiller(load_model(tiny_model_dir, "cpu", "auto"))


def _tracked(infiller, monkeypatch: pytest.MonkeyPatch, text: str, spans: list[Span], steps: int = 4):
    """Fill ``spans``; per round, the engine's (row, lo, hi) of each span and the tracker's, and every step's
    preview texts."""
    from diffill.denoise import DenoiseConfig
    from diffill.infill import FillOptions, Infiller
    from lsp_server.jobs.preview import SpanTracker

    engine: list[list[tuple[int, int, int]]] = []
    windows = Infiller._windows

    def spy(self, state, options, generator):
        found = windows(self, state, options, generator)
        engine.append([(row, lo, hi) for row, lay in enumerate(found) for lo, hi in lay.slices])
        return found

    monkeypatch.setattr(Infiller, "_windows", spy)
    options = FillOptions(DenoiseConfig(steps=steps))
    tracker = SpanTracker(infiller, text, spans, options)
    placed: list[list[tuple[int, int, int]]] = []
    texts: list[list[tuple[int, int, str]]] = []

    def on_step(info) -> None:
        tracker.observe(info)
        if info.step == 1:
            placed.append([(p.row, p.lo, p.hi) for p in tracker.round])
        texts.append(tracker.texts())

    result = infiller.fill(text, spans, options, on_step=on_step)
    return engine, placed, texts, result


def test_the_tracker_finds_every_hole_where_the_engine_put_it(infiller, monkeypatch) -> None:
    text = fixture_text("holes.py") + "".join(f"\n\ndef f{i}(x):\n    return ???\n" for i in range(3))
    spans = find_holes(text)
    engine, placed, texts, result = _tracked(infiller, monkeypatch, text, spans)
    assert placed == engine and len(engine[0]) == len(spans)
    assert all({(a, b) for a, b, _ in step} == {(s.start, s.end) for s in spans} for step in texts)
    assert any(PREVIEW_MASK in t for _, _, t in texts[0])  # the first step leaves masks
    assert not any(PREVIEW_MASK in t for _, _, t in texts[-1])  # the last step none
    assert not any("<|" in t for step in texts for _, _, t in step)  # no special token shows
    assert not result.stopped


def test_the_tracker_follows_a_long_rewrite_through_its_rounds(infiller, monkeypatch) -> None:
    text = "".join(f"value_{i} = compute(argument_{i}, {i})\n" for i in range(40)) + "tail = 1\n"
    spans = infiller.rewrite_spans(text, 0, text.index("tail"))
    engine, placed, _, _ = _tracked(infiller, monkeypatch, text, spans)
    assert len(engine) > 1, "the selection should take several rounds with this model's window"
    assert placed == engine


@pytest.mark.parametrize("strength", [1.0, 0.4])
def test_the_tracker_places_full_and_light_rewrites(infiller, monkeypatch, strength: float) -> None:
    text = fixture_text("sample.py")
    start = text.index("    def area")
    end = text.index("\n\n", start) + 1
    spans = infiller.rewrite_spans(text, start, end, strength)
    engine, placed, texts, _ = _tracked(infiller, monkeypatch, text, spans)
    assert placed == engine and placed[0]
    assert [(a, b) for a, b, _ in texts[0]] == [(s.start, s.end) for s in spans]


# End to end with the tiny model.


def _plain(value: Any) -> Any:
    """A notification's params (pygls gives namedtuples for methods it does not know) as plain JSON values."""
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _recording(lsp) -> None:
    """Record diffill/preview notifications and applied edits, in arrival order, on ``lsp.events``."""
    lsp.events = []

    class Edits(list):
        def append(self, item: Any) -> None:
            lsp.events.append(("edit", item))
            super().append(item)

    lsp.applied_edits = Edits()
    lsp.feature(PREVIEW)(lambda params: lsp.events.append(("preview", _plain(params))))


def _previews(client, uri: str) -> list[dict[str, Any]]:
    return [p for kind, p in client.events if kind == "preview" and p["uri"] == uri]


async def _until(check: Callable[[], bool], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.02)


def _range(index: LineIndex, span: Span) -> dict[str, Any]:
    rng = index.range(span.start, span.end)
    return {"start": {"line": rng.start.line, "character": rng.start.character},
            "end": {"line": rng.end.line, "character": rng.end.character}}  # fmt: skip


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def client(tiny_model_dir: Path) -> AsyncIterator:
    lsp = await start(tiny_model_dir, init={"diffill": {"steps": 4}})
    _recording(lsp)
    await wait_state(lsp, "ready")
    yield lsp
    await stop(lsp)


@pytest.mark.asyncio(loop_scope="module")
async def test_a_fill_previews_its_holes_then_says_done_before_it_returns(client) -> None:
    uri = uri_for("preview-fill.py")
    text = fixture_text("holes.py")
    open_doc(client, uri, text)
    result = await client.protocol.send_request_async("diffill/fill", {"textDocument": {"uri": uri}})
    previews = _previews(client, uri)  # all arrived before the result
    holes = [_range(LineIndex(text), s) for s in find_holes(text)]
    *steps, last = previews
    assert steps and len({p["id"] for p in previews}) == 1
    assert all(p["version"] == 1 and not p["done"] and not p["cancelled"] for p in steps)
    assert all([s["range"] for s in p["spans"]] == holes for p in steps)
    assert last["done"] is True and last["cancelled"] is False
    assert [s["range"] for s in last["spans"]] == holes
    assert [s["text"] for s in last["spans"]] == [e["newText"] for e in result["edits"]]


@pytest.mark.asyncio(loop_scope="module")
async def test_a_command_previews_then_applies_its_edit(client) -> None:
    uri = uri_for("preview-command.py")
    text = "def area(r):\n    return 3.14 * r * r\n\n\nprint(area(2))\n"
    open_doc(client, uri, text)
    before = len(client.events)
    rng = {"start": {"line": 1, "character": 0}, "end": {"line": 2, "character": 0}}
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="diffill.rewriteRange", arguments=[uri, rng])
    )
    assert result["applied"] is True
    events = [(kind, p) for kind, p in client.events[before:] if kind == "edit" or p["uri"] == uri]
    kinds = [kind if kind == "edit" else ("done" if p["done"] else "step") for kind, p in events]
    assert kinds[-2:] == ["done", "edit"] and set(kinds[:-2]) == {"step"}
    for _, p in events[:-1]:
        (span,) = p["spans"]  # one line: one piece, inside the selection
        assert span["range"]["start"]["line"] == 1 and span["range"]["end"]["line"] == 1
    (edit,) = edits_by_uri(events[-1][1].edit)[uri]
    assert edit.new_text.rstrip("\n") == events[-2][1]["spans"][0]["text"].rstrip("\n")


@pytest.mark.asyncio(loop_scope="module")
async def test_no_preview_when_the_setting_is_off(client) -> None:
    configure(client, {"steps": 4, "preview": False})
    for _ in range(100):
        if (await client.protocol.send_request_async("diffill/status", None))["settings"]["preview"] is False:
            break
        await asyncio.sleep(0.05)
    uri = uri_for("preview-off.py")
    open_doc(client, uri, fixture_text("holes.py"))
    result = await client.protocol.send_request_async("diffill/fill", {"textDocument": {"uri": uri}})
    assert result["edits"] and _previews(client, uri) == []
    configure(client, {"steps": 4, "preview": True})


# End to end with the slow model: fills long enough to be stopped mid-way.


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def slow(slow_model_dir: Path) -> AsyncIterator:
    lsp = await start(slow_model_dir, init={"diffill": SLOW})
    _recording(lsp)
    await wait_state(lsp, "ready")
    yield lsp
    await stop(lsp)


def _ended(client, uri: str) -> list[dict[str, Any]]:
    return [p for p in _previews(client, uri) if p["done"] or p["cancelled"]]


@pytest.mark.asyncio(loop_scope="module")
async def test_cancel_request_ends_the_preview_cancelled(slow) -> None:
    uri = uri_for("preview-cancel-request.py")
    open_doc(slow, uri, fixture_text("holes.py"))
    running = asyncio.ensure_future(raw_request(slow, 8101, "diffill/fill", {"textDocument": {"uri": uri}}))
    await _until(lambda: bool(_previews(slow, uri)), "a first preview")
    cancel_request(slow, 8101)
    with pytest.raises(JsonRpcRequestCancelled):
        await asyncio.wait_for(running, WAIT_S)
    await _until(lambda: bool(_ended(slow, uri)), "the last preview")
    previews = _previews(slow, uri)
    assert previews[-1]["cancelled"] is True and previews[-1]["spans"] == []
    assert [p for p in previews if p["done"]] == [] and len({p["id"] for p in previews}) == 1
    await wait_state(slow, "ready", timeout=WAIT_S)  # the generation stopped


@pytest.mark.asyncio(loop_scope="module")
async def test_a_progress_cancel_stops_a_command_with_no_edit(slow) -> None:
    uri = uri_for("preview-cancel-progress.py")
    open_doc(slow, uri, fixture_text("holes.py"))
    tokens = set(slow.progress_reports)
    edits = len(slow.applied_edits)
    command = types.ExecuteCommandParams(command="diffill.fillHoles", arguments=[uri])
    running = asyncio.ensure_future(slow.workspace_execute_command_async(command))
    await _until(lambda: bool(_previews(slow, uri)) and len(slow.progress_reports) > len(tokens), "progress")
    (token,) = set(slow.progress_reports) - tokens
    slow.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    assert await asyncio.wait_for(running, WAIT_S) == {"applied": False, "cancelled": True}
    assert _previews(slow, uri)[-1]["cancelled"] is True and _ended(slow, uri) == _previews(slow, uri)[-1:]
    assert len(slow.applied_edits) == edits


@pytest.mark.asyncio(loop_scope="module")
async def test_a_newer_fill_of_the_document_cancels_the_older_preview(slow) -> None:
    uri = uri_for("preview-superseded.py")
    text = fixture_text("holes.py")
    open_doc(slow, uri, text)
    older = asyncio.ensure_future(slow.protocol.send_request_async("diffill/fill", {"textDocument": {"uri": uri}}))
    await _until(lambda: bool(_previews(slow, uri)), "a first preview")
    line = {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}}  # a short rewrite
    newer = await slow.protocol.send_request_async("diffill/fill", {"textDocument": {"uri": uri}, "range": line})
    assert (await asyncio.wait_for(older, WAIT_S))["cancelled"] is True and newer["cancelled"] is False
    by_id: dict[str, list[dict[str, Any]]] = {}
    for p in _previews(slow, uri):
        by_id.setdefault(p["id"], []).append(p)
    assert len(by_id) == 2
    first, second = by_id.values()
    assert first[-1]["cancelled"] is True and second[-1]["done"] is True
