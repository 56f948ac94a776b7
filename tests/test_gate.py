"""The confidence gate (``lsp_server/gate.py``): its statistic, and the server holding back unsure ghost text."""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from server_support import configure, fixture_text, inline, open_doc, start, stop, uri_for, wait_state

from lsp_server import gate
from lsp_server.completion import carry_spans


def test_features_of_the_shown_tokens() -> None:
    spans = [(0, 4, 0.9), (4, 6, 0.5), (6, 9, 0.1)]
    f = gate.features(spans, [])
    assert f.mean == pytest.approx(0.5)
    assert f.minimum == pytest.approx(0.1)
    assert f.mean_log == pytest.approx((math.log(0.9) + math.log(0.5) + math.log(0.1)) / 3)
    assert f.tokens == 3
    assert f.end_peak == 1.0  # no estimate: the length was given


def test_no_token_is_the_least_sure_suggestion() -> None:
    empty = gate.features([], [0.0, 0.9])
    some = gate.features([(0, 1, 0.2)], [0.0, 0.9])
    assert empty.tokens == 0 and empty.mean == 0.0
    assert gate.score(empty) <= gate.score(some)


def test_end_peak_is_the_most_likely_length() -> None:
    sharp = gate.end_peak([0.0, 0.0, 0.95, 0.99, 0.99])  # ends after two tokens, almost surely
    vague = gate.end_peak([0.0, 0.2, 0.2, 0.2, 0.2])
    assert sharp == pytest.approx(0.95)
    assert vague < 0.5 < sharp
    assert gate.end_peak([0.0, 0.0, 0.0]) == 1.0  # never ends inside the span: the whole span, surely


def test_the_score_is_a_probability_that_grows_with_confidence() -> None:
    low = gate.features([(0, 2, 0.2), (2, 4, 0.3)], [0.0, 0.1, 0.9])
    high = gate.features([(0, 2, 0.9), (2, 4, 0.95)], [0.0, 0.1, 0.9])
    assert 0.0 <= gate.score(low) < gate.score(high) <= 1.0


def test_a_logistic_of_named_features() -> None:
    model = gate.Logistic(bias=-1.0, weights=(("mean", 2.0), ("log_tokens", 0.5)))
    f = gate.Features(mean=0.5, minimum=0.1, mean_log=-1.0, end_peak=0.5, tokens=3)
    assert model(f) == pytest.approx(1 / (1 + math.exp(-(-1.0 + 1.0 + 0.5 * math.log(4)))))


def test_invoked_requests_are_always_shown() -> None:
    assert gate.shown(0.1, 0.5, invoked=True)
    assert not gate.shown(0.1, 0.5, invoked=False)
    assert gate.shown(0.5, 0.5, invoked=False)


def test_token_ranges_follow_the_middle_into_the_insert_text() -> None:
    middle = "        return x\n"
    spans = [(0, 8, 0.9), (8, 14, 0.8), (14, 16, 0.3), (16, 17, 0.99)]
    insert = "    return x"  # re-indented to what was typed, line break dropped
    carried = carry_spans(spans, middle, insert)
    assert [insert[a:b] for a, b, _ in carried][-2:] == ["return", " x"]
    assert carried[-1][2] == 0.3  # the line break's token kept no character


# --- the server --------------------------------------------------------------------------------------


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def gated(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator:
    """A server whose gate shows only suggestions surer than 0.99 (a random model's never are)."""
    log = tmp_path_factory.mktemp("gate") / "server.log"
    lsp = await start(tiny_model_dir, "--log-file", str(log), init={"diffill": {"steps": 4, "minConfidence": 0.99}})
    await wait_state(lsp, "ready")
    lsp.log_path = log  # type: ignore[attr-defined]
    yield lsp
    await stop(lsp)


@pytest.mark.asyncio(loop_scope="module")
async def test_an_unsure_automatic_request_gets_nothing_and_the_same_request_invoked_does(gated) -> None:
    uri = uri_for("gated.py")
    text = fixture_text("sample.py")
    open_doc(gated, uri, text)
    line = text.split("\n").index("def perimeter(circle):") + 1
    assert await inline(gated, uri, line, 4) == []
    items = await inline(gated, uri, line, 4, invoked=True)
    assert items and all(i.insert_text.strip() for i in items)
    logged = gated.log_path.read_text(encoding="utf-8")
    assert re.search(r"inline#\S+ gated .*gate=0\.\d+ shown=False", logged)
    assert re.search(r"inline#\S+ ok .*invoked=True .*shown=True", logged)


@pytest.mark.asyncio(loop_scope="module")
async def test_with_the_gate_open_the_automatic_request_is_answered(gated) -> None:
    uri = uri_for("open-gate.py")
    text = fixture_text("sample.py")
    open_doc(gated, uri, text)
    line = text.split("\n").index("def perimeter(circle):") + 1
    configure(gated, {"steps": 4, "minConfidence": 0.0})
    try:
        assert len(await inline(gated, uri, line, 4)) == 1
    finally:
        configure(gated, {"steps": 4, "minConfidence": 0.99})
