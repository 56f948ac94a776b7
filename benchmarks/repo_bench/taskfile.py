"""Task and samples files: HumanEval-infilling's jsonl fields plus ``repo``, ``path`` and ``kind``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from benchmarks.repo_bench.errors import RepoBenchError

TASK_FIELDS = ("task_id", "prompt", "suffix", "canonical_solution", "repo", "path", "kind")


class Kind(str, Enum):
    """What a hole removes: one code line, 2-6 whole statements' lines, or a random character span."""

    SINGLE_LINE = "single-line"
    MULTI_LINE = "multi-line"
    RANDOM_SPAN = "random-span"


@dataclass(frozen=True)
class RepoTask:
    """One hole in one evaluation file: the file is ``prompt + canonical_solution + suffix``."""

    task_id: str
    prompt: str
    suffix: str
    canonical_solution: str
    repo: str
    path: str
    kind: str  # a ``Kind`` value

    @property
    def text(self) -> str:
        return self.prompt + self.canonical_solution + self.suffix

    @classmethod
    def from_mapping(cls, obj: Mapping[str, Any], where: str = "task") -> RepoTask:
        missing = [k for k in TASK_FIELDS if not isinstance(obj.get(k), str)]
        if missing:
            raise RepoBenchError(f"{where}: missing or non-string field(s) {', '.join(missing)}")
        return cls(**{k: obj[k] for k in TASK_FIELDS})


def task_id(repo: str, path: str, kind: Kind, n: int) -> str:
    return f"repo/{repo}/{path}/{kind.value}/{n}"


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; malformed lines raise ``RepoBenchError``."""
    try:
        with path.open(encoding="utf-8") as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise RepoBenchError(f"{path}:{lineno}: invalid JSON ({exc.msg})") from exc
                if not isinstance(obj, dict):
                    raise RepoBenchError(f"{path}:{lineno}: expected a JSON object")
                yield lineno, obj
    except OSError as exc:
        raise RepoBenchError(f"{path}: cannot read ({exc.strerror or exc})") from exc


def load_tasks(path: Path) -> list[RepoTask]:
    """The tasks of a file, in order; task ids must be unique."""
    tasks = [RepoTask.from_mapping(obj, f"{path}:{lineno}") for lineno, obj in read_jsonl(path)]
    seen: set[str] = set()
    for task in tasks:
        if task.task_id in seen:
            raise RepoBenchError(f"{path}: duplicate task_id {task.task_id!r}")
        seen.add(task.task_id)
    return tasks


def load_samples(path: Path) -> dict[str, str]:
    """``{task_id: completion}`` from ``{"task_id", "completion"}`` lines (as ``diffill fill --tasks`` writes)."""
    samples: dict[str, str] = {}
    for lineno, obj in read_jsonl(path):
        if not isinstance(obj.get("task_id"), str) or not isinstance(obj.get("completion"), str):
            raise RepoBenchError(f"{path}:{lineno}: need string fields task_id and completion")
        if obj["task_id"] in samples:
            raise RepoBenchError(f"{path}:{lineno}: duplicate task_id {obj['task_id']!r}")
        samples[obj["task_id"]] = obj["completion"]
    return samples


def write_tasks(path: Path, tasks: Iterable[RepoTask]) -> int:
    """Write one JSON object per task; returns how many."""
    lines = [json.dumps(asdict(t)) + "\n" for t in tasks]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines), encoding="utf-8")
    return len(lines)
