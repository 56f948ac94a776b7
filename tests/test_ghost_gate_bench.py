"""The gate benchmark's scoring of unseen tasks (``benchmarks/ghost_gate.py --fresh``): the shipped gate at the
default ``minConfidence``, with a 95% interval on precision."""

from __future__ import annotations

import math

import pytest

from benchmarks.ghost_gate import Record, fresh_check, wilson
from lsp_server.settings import Settings


def _record(task: str, split: str, confidence: float, right: bool) -> Record:
    log = math.log(confidence)
    features = {"mean": confidence, "minimum": confidence, "mean_log": log, "end_peak": 1.0, "log_tokens": 1.0}
    return Record(task, "humaneval", split, True, right, "x", features)


def test_wilson_interval_holds_the_proportion_and_stays_in_bounds() -> None:
    assert wilson(0, 0) == [0.0, 1.0]
    lo, hi = wilson(5, 10)
    assert 0.18 < lo < 0.5 < hi < 0.82
    assert wilson(0, 20)[0] == 0.0 and wilson(20, 20)[1] == 1.0
    narrow, wide = wilson(50, 100), wilson(5, 10)
    assert narrow[1] - narrow[0] < wide[1] - wide[0]


def test_fresh_check_counts_only_what_the_shipped_gate_shows() -> None:
    sure = [_record(f"s{i}", "test" if i % 2 else "fit", 0.99, i < 3) for i in range(4)]
    unsure = [_record(f"u{i}", "test", 0.01, True) for i in range(4)]
    check = fresh_check(sure + unsure)
    assert check["min_confidence"] == Settings().min_confidence
    whole = check["all"]
    assert (whole["requests"], whole["shown"]) == (8, 4)  # the unsure ones are held back, right or not
    assert whole["coverage"] == pytest.approx(0.5)
    assert whole["precision"] == pytest.approx(0.75)
    assert whole["right_all"] == pytest.approx(7 / 8)
    assert whole["precision_95"][0] < 0.75 < whole["precision_95"][1]
    assert check["fit problems"]["requests"] + check["test problems"]["requests"] == 8
