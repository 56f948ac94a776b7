"""Source distributions: download one with pip, check its sha256, and read its files from the archive."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path, PurePosixPath

from benchmarks.repo_bench.errors import RepoBenchError
from benchmarks.repo_bench.projects import Project

PIP_FLAGS = ("--no-binary", ":all:", "--no-deps", "--quiet", "--disable-pip-version-check")
LICENSE_PREFIXES = ("LICENSE", "LICENCE", "COPYING", "NOTICE")


@dataclass
class SourceTree:
    """The files of an sdist that the benchmark uses, keyed by their path below the archive's top folder."""

    pkg_info: str  # the sdist's PKG-INFO (core metadata)
    python: dict[str, bytes] = field(default_factory=dict)  # every .py file
    licenses: dict[str, bytes] = field(default_factory=dict)  # License-File entries and top-level LICENSE*, ...

    @property
    def metadata(self) -> Message:
        return HeaderParser().parsestr(self.pkg_info)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_sdist(project: Project, download_dir: Path) -> Path:
    """The project's sdist in ``download_dir``: reused when its hash matches the pin, else downloaded by pip."""
    download_dir.mkdir(parents=True, exist_ok=True)
    target = download_dir / project.sdist
    if target.is_file() and sha256_of(target) == project.sha256:
        return target
    with tempfile.TemporaryDirectory(dir=download_dir, prefix=".pip-") as tmp:
        command = [sys.executable, "-m", "pip", "download", *PIP_FLAGS, project.requirement, "-d", tmp]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RepoBenchError(f"pip download {project.requirement} failed:\n{done.stderr.strip()}")
        got = sorted(Path(tmp).iterdir())
        if [p.name for p in got] != [project.sdist]:
            raise RepoBenchError(
                f"pip download {project.requirement} gave {[p.name for p in got]}, expected {project.sdist}"
            )
        shutil.move(str(got[0]), target)
    check_sha256(target, project.sha256)
    return target


def check_sha256(path: Path, expected: str) -> None:
    """Fail loudly when the file is not the pinned one (a re-upload or a tampered mirror)."""
    actual = sha256_of(path)
    if actual != expected:
        raise RepoBenchError(f"{path.name}: sha256 {actual} does not match the pinned {expected}")


def read_sdist(path: Path) -> SourceTree:
    """Read the .py files, license files and PKG-INFO of a ``.tar.gz`` sdist without extracting it."""
    if not path.name.endswith((".tar.gz", ".tgz")):
        raise RepoBenchError(f"{path.name}: only .tar.gz sdists are supported")
    with tarfile.open(path, "r:gz") as archive:
        members = {rel: m for m in archive.getmembers() if m.isfile() and (rel := _relative(m.name)) is not None}
        if "PKG-INFO" not in members:
            raise RepoBenchError(f"{path.name}: no PKG-INFO at the top of the archive; is it an sdist?")
        tree = SourceTree(_read(archive, members["PKG-INFO"]).decode("utf-8", errors="replace"))
        declared = set(tree.metadata.get_all("License-File") or [])
        for rel, member in sorted(members.items()):
            if rel.endswith(".py"):
                tree.python[rel] = _read(archive, member)
            if rel in declared or ("/" not in rel and rel.upper().startswith(LICENSE_PREFIXES)):
                tree.licenses[rel] = _read(archive, member)
    return tree


def _read(archive: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = archive.extractfile(member)
    if handle is None:
        raise RepoBenchError(f"{member.name}: cannot be read from the archive")
    return handle.read()


def _relative(name: str) -> str | None:
    """``top/a/b.py`` -> ``a/b.py``; None for absolute paths, ``..`` parts or files at the top itself."""
    parts = PurePosixPath(name).parts
    if len(parts) < 2 or name.startswith("/") or ".." in parts:
        return None
    return "/".join(parts[1:])
