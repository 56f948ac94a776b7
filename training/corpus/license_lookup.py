"""Finding the license of a file: LICENSE/COPYING files up a source tree, or a distribution's metadata."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from training.corpus import licenses

LICENSE_FILE = re.compile(r"^(LICEN[CS]E|COPYING|UNLICENSE)([-._].*)?$", re.IGNORECASE)
MAX_LICENSE_BYTES = 256_000
MAX_LEVELS_ABOVE_ROOT = 6


def _read_text(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read(MAX_LICENSE_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return ""


def classify_license_files(paths: Iterable[str]) -> str | None:
    """License of a directory holding these license files.

    ``LICENSE-MIT`` + ``LICENSE-APACHE`` style names are alternatives (dual licensing); any other set of
    files must all be satisfied, so the least permissive decides (``COPYING`` + ``COPYING.LESSER`` -> GPL).
    """
    paths = sorted(paths)
    found = [licenses.classify_text(_read_text(p)) for p in paths]
    dual = len(paths) > 1 and all("-" in os.path.basename(p) for p in paths)
    return licenses.best(found) if dual else licenses.worst(found)


def _pyproject_license(path: str) -> str | None:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        return None
    try:
        with open(path, "rb") as f:
            project = tomllib.load(f).get("project", {})
    except (OSError, ValueError):
        return None
    value = project.get("license")
    if isinstance(value, dict):
        value = value.get("text")
    found = licenses.classify_field(value) if isinstance(value, str) else None
    return found or licenses.classify_classifiers(project.get("classifiers", []))


class TreeLicenses:
    """License of files in a plain source tree, from the nearest directory that declares one.

    The search goes from a file's directory up to the tree root, then above the root as far as the
    enclosing git checkout (a source given as a subdirectory of a repository still finds its LICENSE).
    """

    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)
        self.stop = self._find_stop(self.root)
        self._cache: dict[str, str | None] = {}

    @staticmethod
    def _find_stop(root: str) -> str:
        current = root
        for _ in range(MAX_LEVELS_ABOVE_ROOT):
            if os.path.isdir(os.path.join(current, ".git")):
                return current
            parent = os.path.dirname(current)
            if parent == current:
                break
            current = parent
        return root

    def for_file(self, path: str) -> str | None:
        """License id for a file inside the tree, or None when unknown."""
        return self.for_dir(os.path.dirname(os.path.realpath(path)))

    def for_dir(self, directory: str) -> str | None:
        if directory in self._cache:
            return self._cache[directory]
        declared, found = self._declared(directory)
        if not found:
            parent = os.path.dirname(directory)
            inside = directory != self.stop and is_within(directory, self.stop)
            declared = self.for_dir(parent) if inside and parent != directory else None
        self._cache[directory] = declared
        return declared

    @staticmethod
    def _declared(directory: str) -> tuple[str | None, bool]:
        """(license, whether this directory declares one at all)."""
        try:
            names = os.listdir(directory)
        except OSError:
            return None, False
        files = [os.path.join(directory, n) for n in names if LICENSE_FILE.match(n)]
        files = [f for f in files if os.path.isfile(f)]
        if files:
            return classify_license_files(files), True
        if "pyproject.toml" in names:
            found = _pyproject_license(os.path.join(directory, "pyproject.toml"))
            if found:
                return found, True
        return None, False


def is_within(path: str, root: str) -> bool:
    """Whether `path` is `root` or lies under it (both real paths)."""
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:
        return False


def distribution_license(dist: metadata.Distribution) -> str | None:
    """License id of an installed distribution from its metadata, or None when unknown.

    Order: ``License-Expression`` (PEP 639), the ``License`` field, trove classifiers, license files.
    """
    meta = dist.metadata
    expression = meta.get("License-Expression")
    if expression and (found := licenses.classify_expression(expression)):
        # keep a compound expression as the label (its category is evaluated from it)
        return " ".join(expression.split()) if " " in expression.strip() else found
    field = meta.get("License")
    if field and (found := licenses.classify_field(field)):
        return found
    if found := licenses.classify_classifiers(meta.get_all("Classifier") or []):
        return found
    files = [
        str(dist.locate_file(f)) for f in dist.files or [] if LICENSE_FILE.match(f.name) and ".dist-info" in str(f)
    ]
    files = [f for f in files if os.path.isfile(f)]
    return classify_license_files(files) if files else None


def distribution_name(dist: metadata.Distribution) -> str:
    return dist.metadata.get("Name") or "unknown"


def distribution_files(site_dir: str) -> dict[str, tuple[str, str | None]]:
    """Absolute real path -> (distribution name, license id) for files listed in RECORDs under site_dir."""
    owners: dict[str, tuple[str, str | None]] = {}
    dists = sorted(metadata.distributions(path=[site_dir]), key=lambda d: distribution_name(d).lower())
    for dist in dists:
        files = dist.files
        if not files:
            continue
        name = distribution_name(dist)
        license_id = distribution_license(dist)
        for entry in files:
            path = os.path.realpath(Path(site_dir) / entry)
            owners.setdefault(path, (name, license_id))
    return owners
