"""Exact match, parse check, pass@k and the aggregates."""

from __future__ import annotations

import pytest

from training.metrics import (
    MultiHoleRecord,
    TaskRecord,
    exact_match,
    parses,
    pass_at_k,
    summarize,
    summarize_multi_hole,
)


@pytest.mark.parametrize(
    ("completion", "reference", "expected"),
    [
        ("    return x\n", "    return x\n", True),
        ("    return x   \n", "    return x\n", True),
        ("\n\n    return x\n\n", "    return x\n", True),
        ("    return x", "    return x\n", True),
        ("return x\n", "    return x\n", False),  # leading indentation matters
        ("    return  x\n", "    return x\n", False),
        ("    a = 1\n\n    b = 2\n", "    a = 1\n    b = 2\n", False),  # inner blank lines matter
        ("", "\n", True),
    ],
)
def test_exact_match(completion: str, reference: str, expected: bool) -> None:
    assert exact_match(completion, reference) is expected


@pytest.mark.parametrize(
    ("program", "expected"),
    [
        ("def f(x):\n    return x\n", True),
        ("def f(x):\n    return (x\n", False),
        ("def f(x):\nreturn x\n", False),
        ("x = 1\x00\n", False),
        ("s = '\\d'\n", True),  # a SyntaxWarning, not an error
    ],
)
def test_parses(program: str, expected: bool) -> None:
    assert parses(program) is expected


def test_pass_at_k() -> None:
    assert pass_at_k(1, 1, 1) == 1.0
    assert pass_at_k(1, 0, 1) == 0.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(10, 9, 2) == 1.0
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)


def _record(passed: bool, exact: bool, ok: bool, completion: str = "x\n", status: str = "") -> TaskRecord:
    return TaskRecord("t", completion, passed, status or ("passed" if passed else "failed"), exact, ok)


def test_summarize() -> None:
    records = [
        _record(True, True, True, "a\n"),
        _record(False, False, True, "bb\ncc\n"),
        _record(False, False, False, "", status="timeout"),
        _record(True, False, True, "dddd\n"),
    ]
    summary = summarize(records)
    assert summary["tasks"] == 4 and summary["passed"] == 2
    assert summary["pass_at_1"] == 0.5
    assert summary["exact"] == 1 and summary["exact_match"] == 0.25
    assert summary["parse_rate"] == 0.75
    assert summary["mean_completion_chars"] == (2 + 6 + 0 + 5) / 4
    assert summary["mean_completion_lines"] == (1 + 2 + 0 + 1) / 4
    assert summary["status_passed"] == 2 and summary["status_failed"] == 1 and summary["status_timeout"] == 1


def test_summarize_empty() -> None:
    assert summarize([])["pass_at_1"] == 0.0


def test_summarize_multi_hole() -> None:
    records = [
        MultiHoleRecord("a", ("x\n", "y\n"), True, "passed", (True, True), True),
        MultiHoleRecord("b", ("x\n", "", "z\n"), False, "error", (True, False, False), False),
    ]
    summary = summarize_multi_hole(records)
    assert summary["tasks"] == 2 and summary["holes"] == 5
    assert summary["pass_at_1"] == 0.5
    assert summary["hole_exact_match"] == 3 / 5
    assert summary["all_holes_exact_match"] == 0.5
    assert summary["parse_rate"] == 0.5
    assert summary["status_error"] == 1
