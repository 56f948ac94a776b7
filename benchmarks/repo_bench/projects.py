"""The pinned projects of the benchmark: exact sdist versions, their licenses and the sdists' sha256."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Project:
    """One source distribution on PyPI, pinned by version and by the hash of its file."""

    name: str  # the distribution name on PyPI
    version: str
    license: str  # SPDX expression, checked against the sdist's metadata and license files at build time
    sdist: str  # the file name pip downloads
    sha256: str  # of that file, as first downloaded

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"


# Pure-Python libraries, none of them in the bundled model's corpus (the build checks that again).
PROJECTS: tuple[Project, ...] = (
    Project(
        name="boltons",
        version="26.2.0",
        license="BSD-3-Clause",
        sdist="boltons-26.2.0.tar.gz",
        sha256="d39cfd15c1a1c3bd4d705c82252fa9edb8e4f5e8cc039f8e39afac7b1b47e92c",
    ),
    Project(
        name="marshmallow",
        version="4.4.0",
        license="MIT",
        sdist="marshmallow-4.4.0.tar.gz",
        sha256="9e6ffa8511012ca89732324c1c253efd7b4d35632dcbdf80aa793fe01804af3e",
    ),
    Project(
        name="mistune",
        version="3.4.0",
        license="BSD-3-Clause",
        sdist="mistune-3.4.0.tar.gz",
        sha256="2eaf7952af928ca8d33b779762effc1da517b62c6ad85ec8ca957e3b07b9782a",
    ),
    Project(
        name="structlog",
        version="26.1.0",
        license="MIT OR Apache-2.0",
        sdist="structlog-26.1.0.tar.gz",
        sha256="f63a716cbd1b1291cf7661de7794b455acfa4c43c5bcf1630e6ad5ddc1adb3b7",
    ),
)


def select_projects(names: list[str] | None) -> tuple[Project, ...]:
    """The pinned projects named in ``names`` (all of them when None); unknown names raise ``ValueError``."""
    if not names:
        return PROJECTS
    known = {p.name: p for p in PROJECTS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown project(s) {', '.join(unknown)}; pinned: {', '.join(known)}")
    return tuple(known[n] for n in names)
