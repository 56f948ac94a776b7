"""The workloads: single-line ghost text, a 128-token hole, a 3-hole fill and a 20-line rewrite.

Each is cut from one long real Python module (the standard library's ``argparse.py``) around the line
nearest its middle that is indented code, so every context length has real code on both sides; the engine's
``window`` option then caps the sequence at the context length being measured.
"""

from __future__ import annotations

import argparse
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from diffill.errors import HoleError
from diffill.holes import Span
from diffill.infill import Infiller


@dataclass(frozen=True)
class Case:
    """A text, the spans to fill in it, and whether completions keep one line."""

    name: str
    description: str
    text: str
    spans: list[Span]
    single_line: bool = False
    skipped: str | None = None  # why this model cannot run the case


def source_path() -> Path:
    return Path(argparse.__file__)


def _lines(path: Path | None = None) -> list[str]:
    return (path or source_path()).read_text(encoding="utf-8").splitlines(keepends=True)


def _anchor(lines: list[str]) -> int:
    """The first line at or after the middle that is indented code, not a block opener and not a comment."""
    for row in range(len(lines) // 2, len(lines) - 30):
        s = lines[row].strip()
        if lines[row].startswith("    ") and s and not s.startswith(("#", '"', "'")) and not s.endswith(":"):
            return row
    raise ValueError("no line to cut a hole at")


def _cut(lines: list[str], rows: list[int]) -> tuple[str, list[int]]:
    """The text without ``rows`` (whole lines, newline included) and the offsets where they were."""
    out, offsets, used = [], [], 0
    for i, line in enumerate(lines):
        if i in rows:
            offsets.append(used)
            continue
        out.append(line)
        used += len(line)
    return "".join(out), offsets


def ghost(lines: list[str], infiller: Infiller) -> Case:
    row = _anchor(lines)
    text, (offset,) = _cut(lines, [row])
    return Case(
        "ghost",
        "single-line ghost text: one line hole (the line budget), single-line",
        text,
        [Span(offset, offset)],
        single_line=True,
    )


def hole128(lines: list[str], infiller: Infiller) -> Case:
    row = _anchor(lines)
    text, offsets = _cut(lines, list(range(row, row + 8)))
    return Case(
        "hole128", "a hole with a 128-token budget where 8 lines were", text, [Span(offsets[0], offsets[0], length=128)]
    )


def three_holes(lines: list[str], infiller: Infiller) -> Case:
    row = _anchor(lines)
    text, offsets = _cut(lines, [row - 5, row, row + 5])
    return Case(
        "three-holes",
        "3 line holes (the line budget each) 5 lines apart, filled jointly",
        text,
        [Span(o, o) for o in offsets],
    )


def rewrite20(lines: list[str], infiller: Infiller) -> Case:
    """Lines around the anchor regenerated at strength 1, cut into pieces as the server does."""
    row = _anchor(lines) - 10
    text = "".join(lines)
    start = sum(len(s) for s in lines[:row])
    end = start + sum(len(s) for s in lines[row : row + 20])
    try:
        spans = infiller.rewrite_spans(text, start, end, 1.0)
    except HoleError as exc:
        return Case("rewrite20", "a 20-line rewrite at strength 1", text, [], skipped=str(exc))
    return Case("rewrite20", f"a 20-line rewrite at strength 1 ({len(spans)} piece(s))", text, spans)


BUILDERS: dict[str, Callable[[list[str], Infiller], Case]] = {
    "ghost": ghost,
    "hole128": hole128,
    "three-holes": three_holes,
    "rewrite20": rewrite20,
}


def build_cases(names: tuple[str, ...], infiller: Infiller) -> list[Case]:
    lines = _lines()
    return [BUILDERS[name](lines, infiller) for name in names]


def large_file(lines: int) -> str:
    """At least ``lines`` lines of real code: standard-library modules, concatenated in a fixed order."""
    root = Path(sysconfig.get_paths()["stdlib"])
    out: list[str] = []
    for path in sorted(root.glob("*.py")):
        out += path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
        if len(out) >= lines:
            break
    return "".join(out[:lines])
