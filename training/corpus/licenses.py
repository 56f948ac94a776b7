"""License classification: license texts, SPDX expressions, free-text fields and trove classifiers.

Everything maps to a short SPDX-like id (or None when unknown) and each id to a category. Where a text or
expression allows several licenses (``MIT OR Apache-2.0``) the most permissive wins; where it requires
several (``AND``, or several license files side by side) the least permissive decides.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable


class Category(enum.IntEnum):
    """How a license lets us use the code; a higher value is more permissive."""

    UNKNOWN = 0
    COPYLEFT = 1
    WEAK_COPYLEFT = 2
    PERMISSIVE = 3


# fmt: off
CATEGORIES: dict[str, Category] = {
    **dict.fromkeys(
        (
            "MIT", "MIT-0", "BSD-2-Clause", "BSD-3-Clause", "BSD", "0BSD", "Apache-2.0", "PSF-2.0", "ISC",
            "Unlicense", "CC0-1.0", "Zlib", "BSL-1.0", "HPND", "Python-2.0", "PostgreSQL", "X11",
        ),
        Category.PERMISSIVE,
    ),
    **dict.fromkeys(("MPL-2.0", "MPL-1.1", "EPL-1.0", "EPL-2.0", "CDDL-1.0"), Category.WEAK_COPYLEFT),
    **dict.fromkeys(
        (
            "GPL", "GPL-2.0", "GPL-3.0", "LGPL", "LGPL-2.1", "LGPL-3.0", "AGPL", "AGPL-3.0",
        ),
        Category.COPYLEFT,
    ),
}

# fmt: on

# Ordered: copyleft markers first so that a GPL text quoting "MIT" is not read as MIT.
_TEXT_PATTERNS: tuple[tuple[str, str], ...] = (
    ("AGPL-3.0", r"GNU AFFERO GENERAL PUBLIC LICENSE"),
    ("LGPL", r"GNU (LESSER|LIBRARY) GENERAL PUBLIC LICENSE"),
    ("GPL", r"GNU GENERAL PUBLIC LICENSE"),
    ("MPL-2.0", r"Mozilla Public License,? (Version |v\.? ?)?2\.0"),
    ("Apache-2.0", r"Apache License,?\s+Version 2\.0"),
    ("PSF-2.0", r"PYTHON SOFTWARE FOUNDATION LICENSE"),
    ("Unlicense", r"free and unencumbered software released into the public domain"),
    ("ISC", r"Permission to use, copy, modify, and(/or)? distribute this software for any\s+purpose"),
    ("MIT", r"Permission is hereby granted, free of charge, to any person obtaining a copy"),
    ("BSD-3-Clause", r"Redistribution and use in source and binary forms(.|\n)*Neither the name"),
    ("BSD-2-Clause", r"Redistribution and use in source and binary forms"),
    ("CC0-1.0", r"CC0 1\.0 Universal"),
)
_COMPILED = tuple((lic, re.compile(pat, re.IGNORECASE)) for lic, pat in _TEXT_PATTERNS)

# Short names seen in `License:` metadata fields and pyproject files, lower-cased, spaces/dashes squeezed.
# fmt: off
_ALIASES: dict[str, str] = {
    "mit": "MIT", "mitlicense": "MIT", "expat": "MIT", "mit-0": "MIT-0",
    "bsd": "BSD", "bsdlicense": "BSD", "newbsd": "BSD-3-Clause", "bsd3": "BSD-3-Clause",
    "bsd3clause": "BSD-3-Clause", "3clausebsd": "BSD-3-Clause", "modifiedbsd": "BSD-3-Clause",
    "bsd2": "BSD-2-Clause", "bsd2clause": "BSD-2-Clause", "simplifiedbsd": "BSD-2-Clause",
    "0bsd": "0BSD", "apache": "Apache-2.0", "apache2": "Apache-2.0", "apache20": "Apache-2.0",
    "apachelicense20": "Apache-2.0", "apachesoftwarelicense": "Apache-2.0", "apachelicenseversion20": "Apache-2.0",
    "apachesoftwarelicense20": "Apache-2.0", "apachesoftware": "Apache-2.0", "asl2": "Apache-2.0",
    "asl20": "Apache-2.0",
    "psf": "PSF-2.0", "psf2": "PSF-2.0", "psf20": "PSF-2.0", "psfl": "PSF-2.0", "python20": "Python-2.0",
    "pythonsoftwarefoundation": "PSF-2.0", "isc": "ISC", "isclicense": "ISC", "iscl": "ISC",
    "unlicense": "Unlicense", "theunlicense": "Unlicense", "cc0": "CC0-1.0", "cc010": "CC0-1.0",
    "publicdomain": "Unlicense", "zlib": "Zlib", "bsl10": "BSL-1.0", "boost": "BSL-1.0", "hpnd": "HPND",
    "mpl2": "MPL-2.0", "mpl20": "MPL-2.0", "mozillapubliclicense20": "MPL-2.0",
    "gpl": "GPL", "gplv2": "GPL-2.0", "gpl2": "GPL-2.0", "gpl20": "GPL-2.0", "gplv3": "GPL-3.0", "gpl3": "GPL-3.0",
    "gpl30": "GPL-3.0", "gpl20only": "GPL-2.0", "gpl20orlater": "GPL-2.0", "gpl30only": "GPL-3.0",
    "gpl30orlater": "GPL-3.0", "lgpl": "LGPL", "lgplv2": "LGPL", "lgplv21": "LGPL-2.1", "lgpl21": "LGPL-2.1",
    "lgplv3": "LGPL-3.0", "lgpl30": "LGPL-3.0", "lgpl21orlater": "LGPL-2.1", "lgpl30orlater": "LGPL-3.0",
    "agpl": "AGPL", "agplv3": "AGPL-3.0", "agpl30": "AGPL-3.0", "agpl30orlater": "AGPL-3.0",
}

# fmt: on

# Trove classifier tails ("License :: OSI Approved :: <tail>").
_CLASSIFIERS: tuple[tuple[str, str], ...] = (
    ("GNU Affero", "AGPL"),
    ("GNU Lesser", "LGPL"),
    ("GNU Library", "LGPL"),
    ("GNU General Public License", "GPL"),
    ("Mozilla Public License 2.0", "MPL-2.0"),
    ("MIT No Attribution", "MIT-0"),
    ("MIT License", "MIT"),
    ("BSD License", "BSD"),
    ("Apache Software License", "Apache-2.0"),
    ("Python Software Foundation License", "PSF-2.0"),
    ("ISC License", "ISC"),
    ("The Unlicense", "Unlicense"),
    ("CC0", "CC0-1.0"),
    ("zlib/libpng", "Zlib"),
    ("Boost Software License", "BSL-1.0"),
    ("Public Domain", "Unlicense"),
)


def category(license_id: str | None) -> Category:
    """The category of a license id or SPDX expression; unknown ids are UNKNOWN."""
    if license_id is None:
        return Category.UNKNOWN
    if license_id in CATEGORIES:
        return CATEGORIES[license_id]
    if " " in license_id:  # an expression kept as the label, e.g. "Apache-2.0 AND MIT"
        return category(classify_expression(license_id))
    return Category.UNKNOWN


def best(ids: Iterable[str | None]) -> str | None:
    """The most permissive of several alternatives (OR)."""
    ranked = [i for i in ids if i is not None]
    return max(ranked, key=category, default=None)


def worst(ids: Iterable[str | None]) -> str | None:
    """The least permissive of several licenses that all apply (AND); None if any is unknown."""
    ranked = list(ids)
    if not ranked or any(i is None or category(i) is Category.UNKNOWN for i in ranked):
        return None
    return min(ranked, key=category)  # type: ignore[arg-type]


def classify_text(text: str) -> str | None:
    """Classify the text of a LICENSE/COPYING file."""
    head = text[:20000]
    for license_id, pattern in _COMPILED:
        if pattern.search(head):
            return license_id
    return None


def classify_name(name: str) -> str | None:
    """Classify a short license name or SPDX id ("MIT", "Apache 2.0", "BSD-3-Clause", "GPLv3+")."""
    key = re.sub(r"[\s\-_.,()+]", "", name.strip().lower())
    for candidate in (key, re.sub(r"(license|licence)$", "", key), key.removeprefix("the")):
        if candidate in _ALIASES:
            return _ALIASES[candidate]
    return None


def classify_field(value: str) -> str | None:
    """Classify a free-text `License:` metadata field: a short name, an SPDX expression or a full text."""
    value = value.strip()
    if not value or value.upper() in {"UNKNOWN", "NONE"}:
        return None
    if "\n" not in value and len(value) < 200:
        found = classify_name(value) or classify_expression(value)
        if found:
            return found
    return classify_text(value)


def classify_classifiers(classifiers: Iterable[str]) -> str | None:
    """Classify trove classifiers; several license classifiers are read as alternatives (dual licensing)."""
    found = []
    for classifier in classifiers:
        if not classifier.startswith("License ::"):
            continue
        for needle, license_id in _CLASSIFIERS:
            if needle in classifier:
                found.append(license_id)
                break
    return best(found)


_TOKEN = re.compile(r"\(|\)|[^\s()]+")


def classify_expression(expression: str) -> str | None:
    """Evaluate an SPDX license expression: OR takes the best, AND the worst, WITH keeps the license."""
    tokens = _TOKEN.findall(expression)
    if not tokens:
        return None
    try:
        result, rest = _parse_or(tokens)
    except (IndexError, ValueError):
        return None
    return result if not rest else None


def _parse_or(tokens: list[str]) -> tuple[str | None, list[str]]:
    left, tokens = _parse_and(tokens)
    options = [left]
    while tokens and tokens[0].upper() == "OR":
        right, tokens = _parse_and(tokens[1:])
        options.append(right)
    return (best(options) if len(options) > 1 else left), tokens


def _parse_and(tokens: list[str]) -> tuple[str | None, list[str]]:
    left, tokens = _parse_atom(tokens)
    parts = [left]
    while tokens and tokens[0].upper() == "AND":
        right, tokens = _parse_atom(tokens[1:])
        parts.append(right)
    return (worst(parts) if len(parts) > 1 else left), tokens


def _parse_atom(tokens: list[str]) -> tuple[str | None, list[str]]:
    head = tokens[0]
    if head == "(":
        value, rest = _parse_or(tokens[1:])
        if not rest or rest[0] != ")":
            raise ValueError("unbalanced parenthesis")
        rest = rest[1:]
    elif head in {")"} or head.upper() in {"AND", "OR", "WITH"}:
        raise ValueError(f"unexpected {head!r}")
    else:
        value, rest = _spdx_id(head), tokens[1:]
    if rest and rest[0].upper() == "WITH":  # an exception only widens the license
        rest = rest[2:]
    return value, rest


def _spdx_id(token: str) -> str | None:
    token = token.rstrip("+")
    token = re.sub(r"-(only|or-later)$", "", token)
    if token in CATEGORIES:
        return token
    return classify_name(token)
