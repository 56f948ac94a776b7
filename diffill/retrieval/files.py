"""The source files of a workspace that count as the user's own code: git-ignored and vendored files are not.

When the folder is the top of a git work tree the list is git's own (tracked and untracked,
``--exclude-standard``); elsewhere (no git, or a folder inside a larger repository, which may even ignore
it) the ``.gitignore`` files under the folder are read with ``pathspec``. Either way, vendored and generated folders
(virtual environments, ``node_modules``, ``site-packages``, build output) and oversized files are skipped.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pathspec

SUFFIXES = (".py",)
MAX_FILE_BYTES = 512 * 1024  # larger files are data or generated code
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "env",
        ".env",
        "node_modules",
        "site-packages",
        "dist-packages",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        ".nox",
        "build",
        "dist",
        ".eggs",
        "vendor",
        "_vendor",
        "vendored",
        "third_party",
        "third-party",
    }
)


def workspace_files(root: Path, suffixes: tuple[str, ...] = SUFFIXES, max_bytes: int = MAX_FILE_BYTES) -> list[Path]:
    """The user's source files under ``root``, sorted, as absolute paths."""
    root = root.resolve()
    listed = _git_files(root)
    candidates = listed if listed is not None else _walk(root)
    out = []
    for path in candidates:
        rel = path.relative_to(root)
        if path.suffix not in suffixes or any(part in SKIP_DIRS or part.endswith(".egg-info") for part in rel.parts):
            continue
        try:
            if not path.is_file() or path.stat().st_size > max_bytes:
                continue
        except OSError:
            continue
        out.append(path)
    return sorted(out)


def _git_files(root: Path) -> list[Path] | None:
    """git's view of the tree (None when ``root`` is not the top of a work tree or git is missing)."""
    git = shutil.which("git")
    if git is None:
        return None
    try:
        top = subprocess.run(
            [git, "-C", str(root), "rev-parse", "--show-toplevel"], capture_output=True, timeout=30, check=True
        )
        if Path(top.stdout.decode().strip()).resolve() != root:
            return None
        out = subprocess.run(
            [git, "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "."],
            capture_output=True,
            timeout=60,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    names = [n for n in out.stdout.decode("utf-8", "surrogateescape").split("\0") if n]
    return [root / n for n in names]


def _walk(root: Path) -> Iterator[Path]:
    """Every file under ``root`` that no ``.gitignore`` on its way down ignores."""
    specs: list[tuple[Path, pathspec.PathSpec]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        specs = [(d, s) for d, s in specs if d == here or d in here.parents]
        ignore_file = here / ".gitignore"
        if ignore_file.is_file():
            try:
                lines = ignore_file.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                lines = []
            specs.append((here, pathspec.GitIgnoreSpec.from_lines(lines)))
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not _ignored(here / d, specs, True))
        for name in sorted(filenames):
            path = here / name
            if not _ignored(path, specs, False):
                yield path


def _ignored(path: Path, specs: list[tuple[Path, pathspec.PathSpec]], is_dir: bool) -> bool:
    for base, spec in specs:
        rel = path.relative_to(base).as_posix() + ("/" if is_dir else "")
        if spec.match_file(rel):
            return True
    return False


def content_hash(text: str) -> str:
    """A file's content hash (what tells an adapted model's files from the workspace's files now)."""
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


def file_hashes(root: Path) -> dict[str, str]:
    """Relative path -> content hash of the workspace's source files."""
    root = root.resolve()
    out = {}
    for path in workspace_files(root):
        try:
            out[path.relative_to(root).as_posix()] = content_hash(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
    return out


def changed_share(before: dict[str, str], now: dict[str, str]) -> float:
    """The share of files added, removed or edited between two ``file_hashes`` maps (over both sets)."""
    keys = set(before) | set(now)
    if not keys:
        return 0.0
    return sum(1 for k in keys if before.get(k) != now.get(k)) / len(keys)
