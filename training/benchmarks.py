"""HumanEval-infilling benchmark files: its tasks (with their tests), where they live, and multi-hole variants.

A task is a program cut in three: ``prompt`` (before the hole), ``canonical_solution`` (the removed middle)
and ``suffix`` (after it), plus a ``test`` that defines ``check(candidate)``. Multi-hole tasks are rebuilt
from the single-line tasks of one problem: the full program is put back together and 2-3 of its lines are
cut out again.
"""

from __future__ import annotations

import itertools
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from diffill.tasks import TaskFileError, read_jsonl, require_str_fields

ENV_BENCHMARKS = "DIFFILL_BENCHMARKS"
DEFAULT_ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks" / "humaneval-infilling"

BENCHMARKS: dict[str, str] = {
    "single-line": "HumanEval-SingleLineInfilling.jsonl.gz",
    "multi-line": "HumanEval-MultiLineInfilling.jsonl.gz",
    "random-span": "HumanEval-RandomSpanInfilling.jsonl.gz",
    "random-span-light": "HumanEval-RandomSpanInfillingLight.jsonl.gz",
}

TASK_FIELDS = ("task_id", "prompt", "suffix", "canonical_solution", "test", "entry_point")


BenchmarkError = TaskFileError  # a benchmark or samples file that is missing or malformed


@dataclass(frozen=True)
class InfillTask:
    """One hole: the program is ``prompt + completion + suffix``; ``test`` defines ``check``."""

    task_id: str
    prompt: str
    suffix: str
    canonical_solution: str
    test: str
    entry_point: str


@dataclass(frozen=True)
class MultiHoleTask:
    """Several holes in one program: ``segments[0] + answers[0] + segments[1] + ... + segments[-1]``."""

    task_id: str
    segments: tuple[str, ...]  # len(answers) + 1 text pieces around the holes
    answers: tuple[str, ...]  # the removed lines, each with its newline
    test: str
    entry_point: str

    @property
    def holes(self) -> int:
        return len(self.answers)

    def program(self, fills: Sequence[str] | None = None) -> str:
        """The program with ``fills`` (default: the answers) put in the holes."""
        return join_holes(self.segments, self.answers if fills is None else fills)


def join_holes(segments: Sequence[str], fills: Sequence[str]) -> str:
    """Interleave ``segments`` with ``fills``; there must be exactly one more segment than fills."""
    if len(segments) != len(fills) + 1:
        raise ValueError(f"{len(segments)} segments need {len(segments) - 1} fills, got {len(fills)}")
    parts = [segments[0]]
    for fill, segment in zip(fills, segments[1:], strict=True):
        parts += [fill, segment]
    return "".join(parts)


# --- reading files -------------------------------------------------------------------------------


def load_tasks(path: str | Path, limit: int | None = None) -> list[InfillTask]:
    """Read infilling tasks from a ``.jsonl`` or ``.jsonl.gz`` file, in file order (first ``limit``)."""
    tasks: list[InfillTask] = []
    seen: set[str] = set()
    for lineno, obj in read_jsonl(path):
        if limit is not None and len(tasks) >= limit:
            break
        require_str_fields(obj, TASK_FIELDS, f"{path}:{lineno}")
        if obj["task_id"] in seen:
            raise BenchmarkError(f"{path}:{lineno}: duplicate task_id {obj['task_id']!r}")
        seen.add(obj["task_id"])
        tasks.append(InfillTask(**{k: obj[k] for k in TASK_FIELDS}))
    return tasks


def benchmarks_root() -> Path:
    """``$DIFFILL_BENCHMARKS``, or ``../shared/benchmarks/humaneval-infilling`` next to the repository."""
    env = os.environ.get(ENV_BENCHMARKS)
    return Path(env) if env else DEFAULT_ROOT


def resolve_benchmark(name_or_path: str | Path, root: str | Path | None = None) -> Path:
    """A short name from ``BENCHMARKS`` (looked up under ``root``) or a path to a jsonl file."""
    if str(name_or_path) in BENCHMARKS:
        base = Path(root) if root is not None else benchmarks_root()
        path = base / BENCHMARKS[str(name_or_path)]
        if not path.is_file():
            raise BenchmarkError(
                f"benchmark {name_or_path!r}: {path} not found; set {ENV_BENCHMARKS} to the folder holding it"
            )
        return path
    path = Path(name_or_path)
    if path.is_file():
        return path
    names = ", ".join(BENCHMARKS)
    raise BenchmarkError(f"unknown benchmark {str(name_or_path)!r}: give one of {names}, or a jsonl file")


# --- multi-hole variants -------------------------------------------------------------------------


def problem_id(task_id: str) -> str:
    """``SingleLineInfilling/HumanEval/12/L3`` -> ``HumanEval/12``."""
    parts = task_id.split("/")
    if len(parts) < 3:
        raise BenchmarkError(f"task_id {task_id!r} is not of the form Benchmark/HumanEval/N/...")
    return "/".join(parts[1:3])


def _hole_line(program_lines: Sequence[str], task: InfillTask) -> int:
    """Index of the line that ``task`` cut out of ``program_lines``, counted from the end.

    Counting from the end is robust to a quirk of the benchmark: when the hole is the first body line the
    prompt carries one extra blank line, so the full programs of one problem differ by that line.
    """
    index = len(program_lines) - 1 - len(task.suffix.splitlines(keepends=True))
    if index < 0 or program_lines[index] != task.canonical_solution:
        raise BenchmarkError(f"{task.task_id}: its hole is not a line of the rebuilt program")
    return index


def _reference_program(group: Sequence[InfillTask]) -> str:
    """The full program of a problem: the shortest ``prompt + canonical_solution + suffix`` of its tasks."""
    programs = {t.prompt + t.canonical_solution + t.suffix for t in group}
    return min(programs, key=lambda p: (len(p), p))


def _hole_sets(lines: Sequence[int], k: int) -> list[tuple[int, ...]]:
    """All ``k``-subsets of ``lines`` in which no two holes are adjacent (a segment between holes)."""
    return [c for c in itertools.combinations(sorted(lines), k) if all(b - a >= 2 for a, b in itertools.pairwise(c))]


def _multi_hole_task(pid: str, group: Sequence[InfillTask], holes: Sequence[int], seed: int) -> MultiHoleTask | None:
    program = _reference_program(group)
    lines = program.splitlines(keepends=True)
    by_line = {_hole_line(lines, t): t for t in group if t.canonical_solution.strip()}
    rng = random.Random(f"{seed}:{pid}")  # per problem: a problem's holes do not depend on the others
    options = {k: _hole_sets(list(by_line), k) for k in sorted(set(holes))}
    feasible = [k for k, sets in options.items() if sets]
    if not feasible:
        return None
    chosen = rng.choice(options[rng.choice(feasible)])
    cuts = [0, *[i for line in chosen for i in (line, line + 1)], len(lines)]
    pieces = ["".join(lines[a:b]) for a, b in zip(cuts[::2], cuts[1::2], strict=True)]
    answers = tuple(lines[i] for i in chosen)
    labels = "_".join(by_line[i].task_id.rsplit("/", 1)[-1] for i in chosen)
    first = group[0]
    return MultiHoleTask(f"MultiHoleInfilling/{pid}/{labels}", tuple(pieces), answers, first.test, first.entry_point)


def make_multi_hole_tasks(
    tasks_single_line: Sequence[InfillTask], holes: Sequence[int] = (2, 3), seed: int = 0
) -> list[MultiHoleTask]:
    """One multi-hole task per HumanEval problem, cut from its single-line tasks' lines.

    The number of holes is drawn from ``holes`` (among those the problem allows), then a set of distinct,
    non-adjacent hole lines; problems with too few candidate lines are skipped. Deterministic for a seed.
    """
    if not holes or min(holes) < 1:
        raise ValueError(f"holes must be positive counts, got {tuple(holes)}")
    groups: dict[str, list[InfillTask]] = {}
    for task in tasks_single_line:
        groups.setdefault(problem_id(task.task_id), []).append(task)
    result = []
    for pid, group in groups.items():
        task = _multi_hole_task(pid, group, holes, seed)
        if task is not None:
            result.append(task)
    return result
