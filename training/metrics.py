"""Scores for infilling: exact match, parse check, pass@k, and aggregates over per-task records."""

from __future__ import annotations

import ast
import math
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from training.execution import STATUSES


@dataclass(frozen=True)
class TaskRecord:
    """One single-hole task scored: did the program pass, is the middle exact, does the program parse."""

    task_id: str
    completion: str
    passed: bool
    status: str  # passed, failed, timeout or error (see training.execution)
    exact: bool
    parses: bool
    detail: str = ""


@dataclass(frozen=True)
class MultiHoleRecord:
    """One multi-hole task scored: ``exact`` holds one flag per hole."""

    task_id: str
    completions: tuple[str, ...]
    passed: bool
    status: str
    exact: tuple[bool, ...]
    parses: bool
    detail: str = ""


def normalize(code: str) -> str:
    """Strip trailing whitespace from every line and blank lines around the text."""
    return "\n".join(line.rstrip() for line in code.splitlines()).strip("\n")


def exact_match(completion: str, reference: str) -> bool:
    """Whether ``completion`` equals ``reference`` up to trailing whitespace and surrounding blank lines."""
    return normalize(completion) == normalize(reference)


def parses(program: str) -> bool:
    """Whether ``program`` is valid Python (``ast.parse``)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. SyntaxWarning for invalid escape sequences
            ast.parse(program)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from ``n`` samples of which ``c`` passed (Chen et al., 2021)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def rate(flags: Sequence[bool]) -> float:
    """Fraction of true flags (0.0 for none)."""
    return sum(flags) / len(flags) if flags else 0.0


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def summarize(records: Sequence[TaskRecord]) -> dict[str, float | int]:
    """Aggregates over single-hole records: pass@1 (one sample per task), exact match, parse rate, lengths."""
    summary: dict[str, float | int] = {
        "tasks": len(records),
        "passed": sum(r.passed for r in records),
        "pass_at_1": rate([r.passed for r in records]),
        "exact": sum(r.exact for r in records),
        "exact_match": rate([r.exact for r in records]),
        "parsed": sum(r.parses for r in records),
        "parse_rate": rate([r.parses for r in records]),
        "mean_completion_chars": mean([len(r.completion) for r in records]),
        "mean_completion_lines": mean([len(r.completion.splitlines()) for r in records]),
    }
    return summary | _status_counts(r.status for r in records)


def summarize_multi_hole(records: Sequence[MultiHoleRecord]) -> dict[str, float | int]:
    """Aggregates over multi-hole records: pass@1 (all holes as a program), per-hole and all-hole exact."""
    holes = [flag for r in records for flag in r.exact]
    summary: dict[str, float | int] = {
        "tasks": len(records),
        "holes": len(holes),
        "passed": sum(r.passed for r in records),
        "pass_at_1": rate([r.passed for r in records]),
        "exact_holes": sum(holes),
        "hole_exact_match": rate(holes),
        "all_holes_exact_match": rate([all(r.exact) for r in records]),
        "parsed": sum(r.parses for r in records),
        "parse_rate": rate([r.parses for r in records]),
        "mean_completion_chars": mean([len(c) for r in records for c in r.completions]),
    }
    return summary | _status_counts(r.status for r in records)


def _status_counts(statuses: Iterable[str]) -> dict[str, int]:
    counts = Counter(statuses)
    return {f"status_{s}": counts.get(s, 0) for s in STATUSES}
