"""Scoring samples against the tasks: exact match, edit similarity and parse rate, per kind, per project, overall.

Definitions (each task counts once; a task without a sample is scored as the empty completion):

- **exact match**: the completion equals the canonical solution after both are normalised by ``normalize``:
  trailing whitespace removed from every line, then trailing newlines removed. Leading indentation, inner
  blank lines and leading newlines all still count.
- **edit similarity**: ``1 - Levenshtein(a, b) / max(len(a), len(b))`` over characters of the two normalised
  strings (rapidfuzz's ``Levenshtein.normalized_similarity``; two empty strings score 1).
- **parse rate**: ``prompt + completion + suffix`` parses with ``ast.parse`` under the running Python.
  ``canonical parses`` does the same with the canonical solution: a sanity check that should read 100%.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

from benchmarks.repo_bench.errors import RepoBenchError
from benchmarks.repo_bench.split import parse_python
from benchmarks.repo_bench.taskfile import Kind, RepoTask

METRICS = ("exact_match", "edit_similarity", "parse_rate", "canonical_parse_rate")


@dataclass(frozen=True)
class TaskScore:
    """One task's outcome."""

    task_id: str
    repo: str
    kind: str
    missing: bool  # no sample: scored as the empty completion
    exact_match: bool
    edit_similarity: float
    parses: bool
    canonical_parses: bool


def normalize(text: str) -> str:
    """Each line without its trailing whitespace, and no trailing newlines."""
    return "\n".join(line.rstrip() for line in text.split("\n")).rstrip("\n")


def exact_match(completion: str, reference: str) -> bool:
    return normalize(completion) == normalize(reference)


def edit_similarity(completion: str, reference: str) -> float:
    """1 - normalised character Levenshtein distance of the normalised strings, in [0, 1]."""
    return float(_levenshtein()(normalize(completion), normalize(reference)))


@cache
def _levenshtein() -> Callable[[str, str], float]:
    try:
        from rapidfuzz.distance import Levenshtein
    except ImportError as exc:
        raise RepoBenchError("scoring needs rapidfuzz: pip install -e '.[bench]' (or pip install rapidfuzz)") from exc
    return Levenshtein.normalized_similarity


def parses(program: str) -> bool:
    return parse_python(program) is not None


def score_task(task: RepoTask, completion: str | None, canonical_parses: bool | None = None) -> TaskScore:
    """Score one completion (None: no sample); ``canonical_parses`` may be passed when already known."""
    text = completion if completion is not None else ""
    if canonical_parses is None:
        canonical_parses = parses(task.text)
    return TaskScore(
        task_id=task.task_id,
        repo=task.repo,
        kind=task.kind,
        missing=completion is None,
        exact_match=exact_match(text, task.canonical_solution),
        edit_similarity=edit_similarity(text, task.canonical_solution),
        parses=parses(task.prompt + text + task.suffix),
        canonical_parses=canonical_parses,
    )


def score_tasks(tasks: Iterable[RepoTask | Mapping[str, Any]], samples: Mapping[str, str]) -> list[TaskScore]:
    """Each task's score, in task order; every file is parsed once for the canonical check."""
    canonical: dict[str, bool] = {}
    out = []
    for task in tasks:
        task = task if isinstance(task, RepoTask) else RepoTask.from_mapping(task)
        if task.text not in canonical:
            canonical[task.text] = parses(task.text)
        out.append(score_task(task, samples.get(task.task_id), canonical[task.text]))
    return out


def aggregate(scores: Sequence[TaskScore]) -> dict[str, Any]:
    """Means over ``scores`` (0 tasks gives zeros) and the count of missing samples."""
    n = len(scores)

    def mean(values: Iterable[float]) -> float:
        return sum(values) / n if n else 0.0

    return {
        "tasks": n,
        "missing": sum(s.missing for s in scores),
        "exact_match": mean(s.exact_match for s in scores),
        "edit_similarity": mean(s.edit_similarity for s in scores),
        "parse_rate": mean(s.parses for s in scores),
        "canonical_parse_rate": mean(s.canonical_parses for s in scores),
    }


def score(tasks: Iterable[RepoTask | Mapping[str, Any]], samples: Mapping[str, str]) -> dict[str, Any]:
    """Score ``samples`` (``{task_id: completion}``) on ``tasks``: overall, by kind and by project.

    ``tasks`` may be ``RepoTask``s or the dicts of a tasks file. Samples for unknown task ids are counted in
    ``unknown_samples`` and otherwise ignored.
    """
    return summarize(score_tasks(tasks, samples), samples)


def summarize(scores: Sequence[TaskScore], samples: Mapping[str, str]) -> dict[str, Any]:
    """``score``'s result from the per-task scores."""
    by_kind: dict[str, list[TaskScore]] = defaultdict(list)
    by_repo: dict[str, list[TaskScore]] = defaultdict(list)
    for s in scores:
        by_kind[s.kind].append(s)
        by_repo[s.repo].append(s)
    kinds = [k.value for k in Kind if k.value in by_kind] + sorted(set(by_kind) - {k.value for k in Kind})
    known = {s.task_id for s in scores}
    return {
        "overall": aggregate(scores),
        "by_kind": {k: aggregate(by_kind[k]) for k in kinds},
        "by_repo": {r: aggregate(by_repo[r]) for r in sorted(by_repo)},
        "unknown_samples": sum(task_id not in known for task_id in samples),
    }


def markdown(result: Mapping[str, Any]) -> str:
    """The scores as a Markdown table: one row per kind, then one per project, then all tasks."""
    rows = [
        "| group | tasks | exact match | edit similarity | parses | canonical parses | missing |",
        "|---|---|---|---|---|---|---|",
    ]
    groups = [*result["by_kind"].items(), *result["by_repo"].items(), ("**all**", result["overall"])]
    for name, r in groups:
        rows.append(
            f"| {name} | {r['tasks']} | {r['exact_match']:.1%} | {r['edit_similarity']:.3f} "
            f"| {r['parse_rate']:.1%} | {r['canonical_parse_rate']:.1%} | {r['missing']} |"
        )
    return "\n".join(rows)


def per_task_jsonl(scores: Sequence[TaskScore]) -> str:
    return "".join(json.dumps(asdict(s)) + "\n" for s in scores)
