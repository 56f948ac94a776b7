"""Task and sample files (HumanEval-infilling's jsonl format): what ``diffill fill --tasks`` reads and writes.

Filling needs only ``task_id``, ``prompt`` (the text before the hole) and ``suffix`` (the text after it);
any other field (``canonical_solution``, ``test``, ``repo``, ...) is left to whoever scores the samples.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diffill.errors import DiffillError

FILL_FIELDS = ("task_id", "prompt", "suffix")


class TaskFileError(DiffillError, ValueError):
    """A task or samples file that is missing or malformed."""


@dataclass(frozen=True)
class FillTask:
    """One hole: the filled text is ``prompt + completion + suffix``."""

    task_id: str
    prompt: str
    suffix: str


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line of a ``.jsonl`` or ``.jsonl.gz`` file."""
    path = Path(path)
    if not path.is_file():
        raise TaskFileError(f"{path}: no such file")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise TaskFileError(f"{path}:{lineno}: invalid JSON ({e.msg})") from e
                if not isinstance(obj, dict):
                    raise TaskFileError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
                yield lineno, obj
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise TaskFileError(f"{path}: cannot read ({e})") from e


def require_str_fields(obj: dict[str, Any], fields: Sequence[str], where: str) -> None:
    """Raise ``TaskFileError`` unless every one of ``fields`` is present in ``obj`` and a string."""
    missing = [k for k in fields if k not in obj]
    if missing:
        raise TaskFileError(f"{where}: missing field(s) {', '.join(missing)}")
    wrong = [k for k in fields if not isinstance(obj[k], str)]
    if wrong:
        raise TaskFileError(f"{where}: field(s) {', '.join(wrong)} must be strings")


def load_fill_tasks(path: str | Path, limit: int | None = None) -> list[FillTask]:
    """The tasks of a file, in file order (the first ``limit``); task ids must be unique."""
    tasks: list[FillTask] = []
    seen: set[str] = set()
    for lineno, obj in read_jsonl(path):
        if limit is not None and len(tasks) >= limit:
            break
        require_str_fields(obj, FILL_FIELDS, f"{path}:{lineno}")
        if obj["task_id"] in seen:
            raise TaskFileError(f"{path}:{lineno}: duplicate task_id {obj['task_id']!r}")
        seen.add(obj["task_id"])
        tasks.append(FillTask(obj["task_id"], obj["prompt"], obj["suffix"]))
    return tasks


def load_samples(path: str | Path) -> dict[str, str]:
    """Read ``{"task_id", "completion"}`` lines (as ``diffill fill --tasks`` writes them)."""
    samples: dict[str, str] = {}
    for lineno, obj in read_jsonl(path):
        require_str_fields(obj, ("task_id", "completion"), f"{path}:{lineno}")
        if obj["task_id"] in samples:
            raise TaskFileError(f"{path}:{lineno}: duplicate task_id {obj['task_id']!r}")
        samples[obj["task_id"]] = obj["completion"]
    return samples


def samples_jsonl(task_ids: Sequence[str], completions: Sequence[str]) -> str:
    """The samples file's text: one ``{"task_id", "completion"}`` line per task."""
    return "".join(json.dumps({"task_id": t, "completion": c}) + "\n" for t, c in zip(task_ids, completions))
