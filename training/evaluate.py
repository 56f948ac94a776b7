"""The HumanEval-infilling harness: fill holes with any function, run the tests, score, write a report.

The harness does not know how completions are made: a ``FillFn`` takes a batch of tasks and returns one
completion per task (the diffusion engine, a samples file, or the canonical solutions for a sanity check).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tqdm import tqdm

from training.benchmarks import InfillTask, MultiHoleTask
from training.execution import run_programs, use_sandbox
from training.metrics import (
    MultiHoleRecord,
    TaskRecord,
    exact_match,
    parses,
    summarize,
    summarize_multi_hole,
)

FillFn = Callable[[list[InfillTask]], list[str]]
MultiFillFn = Callable[[list[MultiHoleTask]], list[list[str]]]

DEFAULT_TIMEOUT_S = 5.0  # far above the run time of the slowest canonical single-line solution

T = TypeVar("T")
R = TypeVar("R")


class EvaluationError(ValueError):
    """A fill function or samples file that does not match the tasks."""


@dataclass
class EvalReport:
    """Aggregates, per-task records and timings of one evaluation run; ``meta`` is free for the caller."""

    kind: str  # "single-hole" or "multi-hole"
    summary: dict[str, float | int]
    records: list[TaskRecord] | list[MultiHoleRecord]
    fill_seconds: float = 0.0
    exec_seconds: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        tasks = max(len(self.records), 1)
        return {
            "kind": self.kind,
            "summary": self.summary,
            "timing": {
                "fill_seconds": self.fill_seconds,
                "exec_seconds": self.exec_seconds,
                "fill_seconds_per_task": self.fill_seconds / tasks,
            },
            "meta": self.meta,
            "records": [asdict(r) for r in self.records],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)


# --- programs ------------------------------------------------------------------------------------


def with_test(code: str, test: str, entry_point: str) -> str:
    """``code`` followed by the test and the call that runs it."""
    return code + "\n" + test + "\n" + f"check({entry_point})\n"


def build_program(task: InfillTask, completion: str) -> str:
    """The program that passes when ``completion`` fills ``task`` correctly."""
    return with_test(task.prompt + completion + task.suffix, task.test, task.entry_point)


def build_multi_hole_program(task: MultiHoleTask, completions: Sequence[str]) -> str:
    return with_test(task.program(completions), task.test, task.entry_point)


# --- baselines (sanity checks) -------------------------------------------------------------------


def canonical_fill(tasks: list[InfillTask]) -> list[str]:
    """The reference middles: every task should pass."""
    return [t.canonical_solution for t in tasks]


def empty_fill(tasks: list[InfillTask]) -> list[str]:
    """Nothing in the holes: the floor any model should beat."""
    return ["" for _ in tasks]


def canonical_multi_fill(tasks: list[MultiHoleTask]) -> list[list[str]]:
    return [list(t.answers) for t in tasks]


# --- filling -------------------------------------------------------------------------------------


def fill_in_batches(
    items: Sequence[T],
    fill_fn: Callable[[list[T]], list[R]],
    batch_size: int,
    progress: bool = False,
) -> tuple[list[R], float]:
    """Call ``fill_fn`` on consecutive batches; returns the outputs in order and the seconds it took."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    outputs: list[R] = []
    start = time.perf_counter()
    with tqdm(total=len(items), desc="fill", unit="task", disable=not progress, file=sys.stderr) as bar:
        for i in range(0, len(items), batch_size):
            batch = list(items[i : i + batch_size])
            result = list(fill_fn(batch))
            if len(result) != len(batch):
                raise EvaluationError(f"fill function returned {len(result)} outputs for {len(batch)} tasks")
            outputs += result
            bar.update(len(batch))
    return outputs, time.perf_counter() - start


def _check_completion(task_id: str, completion: object) -> str:
    if not isinstance(completion, str):
        raise EvaluationError(f"{task_id}: completion must be a str, got {type(completion).__name__}")
    return completion


# --- scoring -------------------------------------------------------------------------------------


def score_completions(
    tasks: Sequence[InfillTask],
    completions: Sequence[str],
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    workers: int = 2,
    memory_mb: int = 1024,
    progress: bool = False,
    allow_unsandboxed: bool = False,
) -> tuple[list[TaskRecord], float]:
    """Run and score one completion per task; returns the records and the seconds execution took.

    Programs run in the sandbox of ``training.execution``; without one they run only with ``allow_unsandboxed``.
    """
    if len(tasks) != len(completions):
        raise EvaluationError(f"{len(completions)} completions for {len(tasks)} tasks")
    completions = [_check_completion(t.task_id, c) for t, c in zip(tasks, completions, strict=True)]
    programs = [build_program(t, c) for t, c in zip(tasks, completions, strict=True)]
    start = time.perf_counter()
    results = run_programs(programs, workers, timeout_s, memory_mb, progress, allow_unsandboxed=allow_unsandboxed)
    seconds = time.perf_counter() - start
    records = [
        TaskRecord(
            task_id=t.task_id,
            completion=c,
            passed=r.passed,
            status=r.status,
            exact=exact_match(c, t.canonical_solution),
            parses=parses(t.prompt + c + t.suffix),
            detail=r.detail,
        )
        for t, c, r in zip(tasks, completions, results, strict=True)
    ]
    return records, seconds


def evaluate_tasks(
    tasks: Sequence[InfillTask],
    fill_fn: FillFn,
    *,
    batch_size: int = 16,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    workers: int = 2,
    memory_mb: int = 1024,
    progress: bool = False,
    allow_unsandboxed: bool = False,
) -> EvalReport:
    """Fill every task with ``fill_fn`` (in batches), run the tests and score."""
    use_sandbox(allow_unsandboxed, warn=False)  # refuse before spending time on filling
    completions, fill_seconds = fill_in_batches(tasks, fill_fn, batch_size, progress)
    records, exec_seconds = score_completions(
        tasks,
        completions,
        timeout_s=timeout_s,
        workers=workers,
        memory_mb=memory_mb,
        progress=progress,
        allow_unsandboxed=allow_unsandboxed,
    )
    return EvalReport("single-hole", summarize(records), records, fill_seconds, exec_seconds)


def _match_samples(
    tasks: Sequence[InfillTask], samples: Mapping[str, str], strict: bool
) -> tuple[list[InfillTask], int]:
    """The tasks that have a sample, and how many tasks have none; strict: every id must match."""
    known = {t.task_id for t in tasks}
    covered = [t for t in tasks if t.task_id in samples]
    unknown = [k for k in samples if k not in known]
    missing = len(tasks) - len(covered)
    if not covered:
        raise EvaluationError(f"no sample matches any of the {len(tasks)} tasks (is it the right benchmark?)")
    if strict and (missing or unknown):
        first = next((t.task_id for t in tasks if t.task_id not in samples), None) or unknown[0]
        raise EvaluationError(
            f"samples cover {len(covered)} of {len(tasks)} tasks and name {len(unknown)} unknown ids "
            f"(first mismatch: {first}); evaluate the same tasks that were filled, or allow partial samples"
        )
    return covered, missing


def evaluate_samples(
    tasks: Sequence[InfillTask],
    samples: Mapping[str, str],
    *,
    strict: bool = True,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    workers: int = 2,
    memory_mb: int = 1024,
    progress: bool = False,
    allow_unsandboxed: bool = False,
) -> EvalReport:
    """Score completions read from a samples file (``task_id -> completion``).

    With ``strict`` the samples must cover exactly ``tasks``; otherwise only the tasks with a sample are
    scored and ``meta["missing_samples"]`` counts the others.
    """
    covered, missing = _match_samples(tasks, samples, strict)
    completions = [samples[t.task_id] for t in covered]
    records, exec_seconds = score_completions(
        covered,
        completions,
        timeout_s=timeout_s,
        workers=workers,
        memory_mb=memory_mb,
        progress=progress,
        allow_unsandboxed=allow_unsandboxed,
    )
    meta: dict[str, Any] = {"missing_samples": missing} if missing else {}
    return EvalReport("single-hole", summarize(records), records, 0.0, exec_seconds, meta)


def _check_multi_fills(task: MultiHoleTask, fills: object) -> tuple[str, ...]:
    if isinstance(fills, str) or not isinstance(fills, Sequence):
        raise EvaluationError(f"{task.task_id}: expected a list of {task.holes} completions")
    if len(fills) != task.holes:
        raise EvaluationError(f"{task.task_id}: {len(fills)} completions for {task.holes} holes")
    return tuple(_check_completion(task.task_id, f) for f in fills)


def evaluate_multi_hole(
    tasks: Sequence[MultiHoleTask],
    fill_fn: MultiFillFn,
    *,
    batch_size: int = 16,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    workers: int = 2,
    memory_mb: int = 1024,
    progress: bool = False,
    allow_unsandboxed: bool = False,
) -> EvalReport:
    """Fill every hole of every task, run the tests and score (pass@1 needs all holes right)."""
    use_sandbox(allow_unsandboxed, warn=False)  # refuse before spending time on filling
    outputs, fill_seconds = fill_in_batches(tasks, fill_fn, batch_size, progress)
    fills = [_check_multi_fills(t, f) for t, f in zip(tasks, outputs, strict=True)]
    programs = [build_multi_hole_program(t, f) for t, f in zip(tasks, fills, strict=True)]
    start = time.perf_counter()
    results = run_programs(programs, workers, timeout_s, memory_mb, progress, allow_unsandboxed=allow_unsandboxed)
    exec_seconds = time.perf_counter() - start
    records = [
        MultiHoleRecord(
            task_id=t.task_id,
            completions=f,
            passed=r.passed,
            status=r.status,
            exact=tuple(exact_match(c, a) for c, a in zip(f, t.answers, strict=True)),
            parses=parses(t.program(f)),
            detail=r.detail,
        )
        for t, f, r in zip(tasks, fills, results, strict=True)
    ]
    return EvalReport("multi-hole", summarize_multi_hole(records), records, fill_seconds, exec_seconds)


# --- output --------------------------------------------------------------------------------------


def write_report(report: EvalReport, path: str | Path) -> Path:
    """Write the report as JSON, atomically (a temporary file in the same folder, then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(report.to_json())
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
