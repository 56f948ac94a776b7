"""The file-level split of a project: which .py files may be evaluation files, the seeded draw, and the copies."""

from __future__ import annotations

import ast
import random
import shutil
import warnings
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

# Folders and files that are not ordinary library code: they stay in the workspace, never become eval files.
NON_LIBRARY_DIRS = frozenset(
    {
        "tests",
        "test",
        "testing",
        "docs",
        "doc",
        "examples",
        "example",
        "benchmark",
        "benchmarks",
        "bench",
        "scripts",
        "tools",
    }
)
NON_LIBRARY_FILES = frozenset({"setup.py", "conftest.py", "noxfile.py", "fabfile.py"})
MIN_LINES = 30  # an evaluation file has at least this many lines and one function


@dataclass(frozen=True)
class Split:
    """Relative paths of a project's .py files: ``workspace`` and ``eval`` are disjoint and cover them all."""

    workspace: tuple[str, ...]
    eval: tuple[str, ...]


def top_level_packages(paths: Iterable[str]) -> set[str]:
    """Import names at the top of an sdist: ``pkg/__init__.py`` or ``src/pkg/__init__.py`` -> ``pkg``."""
    names = set()
    for path in paths:
        parts = PurePosixPath(path).parts
        parts = parts[1:] if parts[0] == "src" else parts
        if len(parts) == 2 and parts[1] == "__init__.py" and parts[0] not in NON_LIBRARY_DIRS:
            names.add(parts[0])
    return names


def is_library(path: str, packages: Collection[str]) -> bool:
    """Whether ``path`` is library code: inside one of ``packages``, not in its tests, docs or tooling."""
    parts = PurePosixPath(path).parts
    parts = parts[1:] if parts[0] == "src" else parts
    name = parts[-1]
    if len(parts) < 2 or parts[0] not in packages or any(p in NON_LIBRARY_DIRS for p in parts[:-1]):
        return False
    return name not in NON_LIBRARY_FILES and not (name.startswith("test_") or name.endswith("_test.py"))


def parse_python(text: str) -> ast.Module | None:
    """The module's AST, or None when this Python cannot parse it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning for invalid escape sequences and the like
            return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def decode(data: bytes) -> str | None:
    """UTF-8 text with line endings left as they are; None for other encodings or ``\\r`` line endings."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if "\r" in text else text


def is_eligible(path: str, data: bytes, packages: Collection[str]) -> bool:
    """An evaluation file: library code, UTF-8 with ``\\n`` lines, parses, and has some functions to cut from."""
    if not is_library(path, packages) or (text := decode(data)) is None or text.count("\n") < MIN_LINES:
        return False
    tree = parse_python(text)
    return tree is not None and any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in ast.walk(tree))


def split_files(files: Mapping[str, bytes], project: str, seed: int, eval_share: float = 0.2) -> Split:
    """Draw ``eval_share`` of all the .py files (rounded, at least one) from the eligible ones, seeded.

    The draw depends only on ``seed``, ``project`` and the file paths and contents, not on dict order.
    """
    if not 0.0 < eval_share < 1.0:
        raise ValueError(f"eval_share must lie in (0, 1), got {eval_share}")
    paths = sorted(files)
    packages = top_level_packages(paths)
    eligible = [p for p in paths if is_eligible(p, files[p], packages)]
    count = min(len(eligible), max(1, round(eval_share * len(paths))))
    chosen = set(random.Random(f"{seed}:split:{project}").sample(eligible, count))
    return Split(workspace=tuple(p for p in paths if p not in chosen), eval=tuple(p for p in paths if p in chosen))


def write_split(
    project_dir: Path, split: Split, files: Mapping[str, bytes], license_files: Mapping[str, bytes]
) -> None:
    """Write ``workspace/`` and ``eval/`` under ``project_dir`` afresh (old contents are removed first).

    Both folders get the license files, so each copy carries its terms; only .py files are split.
    """
    if project_dir.exists():
        shutil.rmtree(project_dir)
    for folder, paths in (("workspace", split.workspace), ("eval", split.eval)):
        root = project_dir / folder
        for rel in paths:
            _write(root / rel, files[rel])
        for rel, data in license_files.items():
            if not rel.endswith(".py"):
                _write(root / rel, data)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
