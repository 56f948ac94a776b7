"""Walking the sources: directory trees, the standard library and site-packages, in a stable order.

Each candidate file (a registered language extension) comes out as a `SourceFile` carrying its license.
Symlinked directories are never followed; a symlinked file is used only when it points inside its root.
"""

from __future__ import annotations

import os
import site
import sysconfig
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from training.corpus.errors import CorpusError
from training.corpus.languages import LanguageSpec
from training.corpus.license_lookup import TreeLicenses, distribution_files, is_within

STDLIB = "stdlib"
SITE_PACKAGES = "site-packages"
STDLIB_LICENSE = "PSF-2.0"

SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        "__pycache__",
        ".venv",
        ".tox",
        ".nox",
        ".eggs",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".ipynb_checkpoints",
        ".idea",
        ".vscode",
    }
)
STDLIB_SKIP_DIRS = frozenset({"site-packages", "dist-packages", "test", "tests", "idlelib", "lib2to3", "turtledemo"})


@dataclass(frozen=True)
class SourceFile:
    """One candidate file. `index` is its position in the global order (decides dedup ties and RNG)."""

    index: int
    path: str  # absolute path as walked (may be a symlink inside the root)
    rel: str  # path relative to its root, with "/" separators
    source: str  # "stdlib", "site-packages:<dist>", or a tree's name
    license: str | None
    lang: str
    outside_symlink: bool = False


@dataclass
class WalkCounts:
    """Files met while walking that never become candidates."""

    ignored_extension: int = 0
    skipped_dirs: Counter[str] = field(default_factory=Counter)


def _is_venv(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "pyvenv.cfg"))


def walk_files(root: str, skip_dirs: frozenset[str], counts: WalkCounts) -> Iterator[tuple[str, str, bool]]:
    """(absolute path, relative path, points outside root) for regular files under root, sorted."""
    real_root = os.path.realpath(root)
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        kept_dirs = []
        for name in sorted(dirnames):
            full = os.path.join(directory, name)
            if name in skip_dirs or os.path.islink(full) or _is_venv(full):
                counts.skipped_dirs[name] += 1
            else:
                kept_dirs.append(name)
        dirnames[:] = kept_dirs
        for name in sorted(filenames):
            full = os.path.join(directory, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            outside = False
            if os.path.islink(full):
                target = os.path.realpath(full)
                outside = not (os.path.isfile(target) and is_within(target, real_root))
            elif not os.path.isfile(full):
                continue
            yield full, rel, outside


def stdlib_dir() -> str:
    return sysconfig.get_paths()["stdlib"]


def site_packages_dirs() -> list[str]:
    """The running interpreter's site-packages directories that exist, without repeats."""
    candidates = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        candidates.append(site.getusersitepackages())
    paths = sysconfig.get_paths()
    candidates += [paths["purelib"], paths["platlib"]]
    seen: dict[str, str] = {}
    for path in candidates:
        if os.path.isdir(path):
            seen.setdefault(os.path.realpath(path), path)
    return list(seen.values())


class SourceWalker:
    """Turns the SRC arguments into an ordered list of SourceFiles."""

    def __init__(self, extensions: dict[str, LanguageSpec]) -> None:
        self.extensions = extensions
        self.counts = WalkCounts()
        self.files: list[SourceFile] = []
        self._names: Counter[str] = Counter()

    def add(self, source: str) -> None:
        if source == STDLIB:
            self._add_stdlib()
        elif source == SITE_PACKAGES:
            for site_dir in site_packages_dirs():
                self._add_site_packages(site_dir)
        elif os.path.isdir(source):
            self._add_tree(source)
        else:
            raise CorpusError(f"source {source!r} is not a directory (use a path, {STDLIB!r} or {SITE_PACKAGES!r})")

    def _lang(self, rel: str) -> LanguageSpec | None:
        spec = self.extensions.get(os.path.splitext(rel)[1])
        if spec is None:
            self.counts.ignored_extension += 1
        return spec

    def _append(
        self, path: str, rel: str, source: str, license_id: str | None, spec: LanguageSpec, outside: bool
    ) -> None:
        self.files.append(SourceFile(len(self.files), path, rel, source, license_id, spec.name, outside))

    def _add_stdlib(self) -> None:
        for path, rel, outside in walk_files(stdlib_dir(), SKIP_DIRS | STDLIB_SKIP_DIRS, self.counts):
            if spec := self._lang(rel):
                self._append(path, rel, STDLIB, STDLIB_LICENSE, spec, outside)

    def _add_site_packages(self, site_dir: str) -> None:
        owners = distribution_files(site_dir)
        for path, rel, outside in walk_files(site_dir, SKIP_DIRS, self.counts):
            if spec := self._lang(rel):
                dist, license_id = owners.get(os.path.realpath(path), ("unknown", None))
                self._append(path, rel, f"{SITE_PACKAGES}:{dist}", license_id, spec, outside)

    def _add_tree(self, root: str) -> None:
        name = os.path.basename(os.path.normpath(os.path.abspath(root))) or "root"
        self._names[name] += 1
        if self._names[name] > 1:
            name = f"{name}#{self._names[name]}"
        tree = TreeLicenses(root)
        for path, rel, outside in walk_files(root, SKIP_DIRS, self.counts):
            if spec := self._lang(rel):
                license_id = None if outside else tree.for_file(path)
                self._append(path, rel, name, license_id, spec, outside)


def collect_sources(
    sources: tuple[str, ...], extensions: dict[str, LanguageSpec]
) -> tuple[list[SourceFile], WalkCounts]:
    """All candidate files of all sources, in argument order then path order."""
    walker = SourceWalker(extensions)
    for source in sources:
        walker.add(source)
    return walker.files, walker.counts
