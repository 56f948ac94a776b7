"""Holes, regions and positions in a text: where to fill, in character offsets.

A ``Span`` is a character range of the text to replace. A ``???`` hole is the range of its marker; a
zero-width span is a cursor (fill-in-the-middle); a region rewrite is a range with a ``strength``.
Lines and columns on the command line are 1-based and count characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from itertools import pairwise

from diffill.errors import HoleError

DEFAULT_MARKER = "???"


@dataclass(frozen=True)
class Span:
    """Replace ``text[start:end]``.

    ``length`` is the token budget (None: chosen from the surrounding layout). ``strength`` 1 regenerates
    the range with a free length; below 1 re-masks only that fraction of its tokens and keeps the rest.
    """

    start: int
    end: int
    length: int | None = None
    strength: float = 1.0

    def __post_init__(self) -> None:
        if self.start < 0 or self.end < self.start:
            raise HoleError(f"invalid span {self.start}..{self.end}")
        if not 0 < self.strength <= 1:
            raise HoleError(f"strength must be in (0, 1], got {self.strength}")
        if self.length is not None and self.length < 1:
            raise HoleError(f"length budget must be >= 1, got {self.length}")

    def shifted(self, delta: int) -> Span:
        return replace(self, start=self.start + delta, end=self.end + delta)


def find_holes(text: str, marker: str = DEFAULT_MARKER) -> list[Span]:
    """Every occurrence of ``marker`` as a span, in order."""
    if not marker:
        raise HoleError("the hole marker must not be empty")
    return [Span(m.start(), m.end()) for m in re.finditer(re.escape(marker), text)]


def starts_line(text: str, offset: int) -> bool:
    """True when only spaces or tabs stand between the previous newline (or the start) and ``offset``."""
    line_start = text.rfind("\n", 0, offset) + 1
    return text[line_start:offset].strip(" \t") == ""


def ends_line(text: str, offset: int) -> bool:
    """True when only spaces or tabs stand between ``offset`` and the next newline (or the end)."""
    line_end = text.find("\n", offset)
    rest = text[offset:] if line_end < 0 else text[offset:line_end]
    return rest.strip(" \t") == ""


def is_line_hole(text: str, span: Span) -> bool:
    """The span covers whole lines: nothing but indentation before it and nothing after it on its line.

    A zero-width span at the very start of a line inserts whole lines before that line.
    """
    if not starts_line(text, span.start):
        return False
    at_line_start = span.start == 0 or text[span.start - 1] == "\n"
    return ends_line(text, span.end) or (span.start == span.end and at_line_start)


def offset_at(text: str, line: int, column: int) -> int:
    """Character offset of 1-based ``line`` and ``column``; column may be one past the line's end."""
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        raise HoleError(f"line {line} is outside the file (1..{len(lines)})")
    if not 1 <= column <= len(lines[line - 1]) + 1:
        raise HoleError(f"column {column} is outside line {line} (1..{len(lines[line - 1]) + 1})")
    return sum(len(s) + 1 for s in lines[: line - 1]) + column - 1


_REGION = re.compile(r"^(\d+):(\d+)-(\d+):(\d+)$")


def parse_region(spec: str, text: str, strength: float = 1.0) -> Span:
    """Parse ``L:C-L:C`` (1-based, end exclusive) into a span of ``text``."""
    match = _REGION.match(spec.strip())
    if match is None:
        raise HoleError(f"invalid region {spec!r}; expected LINE:COL-LINE:COL, e.g. 3:1-5:1")
    l1, c1, l2, c2 = (int(g) for g in match.groups())
    start, end = offset_at(text, l1, c1), offset_at(text, l2, c2)
    if end <= start:
        raise HoleError(f"region {spec!r} is empty or ends before it starts")
    return Span(start, end, strength=strength)


def check_spans(text: str, spans: list[Span]) -> list[Span]:
    """Sorted spans inside the text that do not overlap, or a HoleError."""
    ordered = sorted(spans, key=lambda s: (s.start, s.end))
    for span in ordered:
        if span.end > len(text):
            raise HoleError(f"span {span.start}..{span.end} is outside the text (length {len(text)})")
    for a, b in pairwise(ordered):
        if b.start < a.end:
            raise HoleError(f"spans {a.start}..{a.end} and {b.start}..{b.end} overlap")
    return ordered
