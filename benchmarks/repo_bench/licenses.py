"""Admission checks: the pinned license matches the sdist, and the project is not in the model's training corpus."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from email.message import Message
from pathlib import Path

from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression
from packaging.utils import canonicalize_name

from benchmarks.repo_bench.errors import RepoBenchError

PERMISSIVE = frozenset({"MIT", "BSD-2-Clause", "BSD-3-Clause", "Apache-2.0", "PSF-2.0", "ISC"})

# Trove classifiers (``License :: OSI Approved :: ...``) each permissive SPDX id may be declared by.
CLASSIFIERS = {
    "MIT": "MIT License",
    "BSD-2-Clause": "BSD License",
    "BSD-3-Clause": "BSD License",
    "Apache-2.0": "Apache Software License",
    "PSF-2.0": "Python Software Foundation License",
    "ISC": "ISC License (ISCL)",
}

# Phrases that identify a license text (lower case, whitespace collapsed); checked in this order.
TEXT_MARKERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("GPL", ("gnu general public license",)),
    ("LGPL", ("gnu lesser general public license",)),
    ("MPL-2.0", ("mozilla public license",)),
    ("Apache-2.0", ("apache license", "version 2.0")),
    ("MIT", ("permission is hereby granted, free of charge",)),
    ("ISC", ("permission to use, copy, modify, and/or distribute this software for any purpose",)),
    ("PSF-2.0", ("python software foundation license",)),
    ("BSD-3-Clause", ("redistribution and use in source and binary forms", "endorse or promote")),
    ("BSD-2-Clause", ("redistribution and use in source and binary forms",)),
)

# Where the bundled model's corpus manifest lives, before and after the engine moved to the ``diffill`` package.
CORPUS_LICENSES = (
    Path("diffill/models/default/corpus_licenses.json"),
    Path("lsp_server/models/default/corpus_licenses.json"),
)


def license_ids(expression: str) -> set[str]:
    """The SPDX ids of a license expression (``MIT OR Apache-2.0`` -> ``{"MIT", "Apache-2.0"}``)."""
    return {t for t in re.split(r"\s+|[()]", expression) if t and t.upper() not in {"AND", "OR", "WITH"}}


def text_license(text: str) -> str | None:
    """The license a license file's text is, by its characteristic phrases; None when unrecognised."""
    flat = " ".join(text.lower().split())
    for spdx, phrases in TEXT_MARKERS:
        if all(p in flat for p in phrases):
            return spdx
    return None


def declared_license(metadata: Message) -> str | None:
    """The SPDX expression the metadata declares (``License-Expression``, or a ``License`` that is one)."""
    for header in ("License-Expression", "License"):
        value = (metadata.get(header) or "").strip()
        if value and "\n" not in value:
            try:
                return str(canonicalize_license_expression(value))
            except InvalidLicenseExpression:
                continue
    return None


def verify_license(pinned: str, metadata: Message, license_files: dict[str, bytes]) -> dict[str, str]:
    """Fail loudly unless the sdist declares ``pinned`` and its license files hold each of its licenses.

    Returns each license file's recognised license (``"?"`` when none), for the manifest.
    """
    pinned = str(canonicalize_license_expression(pinned))
    ids = license_ids(pinned)
    if not ids <= PERMISSIVE:
        raise RepoBenchError(f"pinned license {pinned!r} is not one of the permissive {sorted(PERMISSIVE)}")
    declared = declared_license(metadata)
    if declared is not None and declared != pinned:
        raise RepoBenchError(f"metadata declares {declared!r}, the pin says {pinned!r}")
    if declared is None:
        classifiers = {c.rsplit(" :: ", 1)[-1] for c in metadata.get_all("Classifier") or [] if "License" in c}
        missing = [i for i in ids if CLASSIFIERS[i] not in classifiers]
        if missing:
            raise RepoBenchError(f"metadata declares no license expression and no classifier for {missing}")
    found = {path: text_license(data.decode("utf-8", errors="replace")) or "?" for path, data in license_files.items()}
    absent = sorted(ids - set(found.values()))
    if absent:
        raise RepoBenchError(f"no license file holds the text of {absent} (files: {found or 'none'})")
    strong = sorted({v for v in found.values() if v != "?" and v not in PERMISSIVE})
    if strong:
        raise RepoBenchError(f"license files include non-permissive text: {strong}")
    return found


def find_corpus_licenses(root: Path) -> Path:
    """The bundled model's ``corpus_licenses.json`` under the repository ``root``."""
    for candidate in CORPUS_LICENSES:
        if (root / candidate).is_file():
            return root / candidate
    raise RepoBenchError(f"no corpus_licenses.json under {root} (looked for {[str(c) for c in CORPUS_LICENSES]})")


def corpus_sources(path: Path) -> set[str]:
    """The normalised names of the packages in the model's training corpus (``site-packages:NAME`` keys)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for entry in data.get("kept", {}).values():
        for source in entry.get("sources", {}):
            names.add(canonicalize_name(source.split(":", 1)[-1]))
    if not names:
        raise RepoBenchError(f"{path}: no kept sources listed; is it a corpus license manifest?")
    return names


def check_not_in_corpus(names: Iterable[str], corpus: set[str], project: str) -> None:
    """Refuse a project whose distribution or top-level package names are in the training corpus."""
    hits = sorted({canonicalize_name(n) for n in names} & corpus)
    if hits:
        raise RepoBenchError(f"{project}: {', '.join(hits)} is in the model's training corpus; choose another project")
