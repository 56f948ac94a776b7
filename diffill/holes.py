"""Holes, regions and positions in a text: where to fill, in character offsets.

A ``Span`` is a character range of the text to replace. A ``???`` hole is the range of its marker; a
zero-width span is a cursor (fill-in-the-middle); a region rewrite is a range with a ``strength``.
Lines and columns on the command line are 1-based and count characters.

In Python text a marker inside a string literal (docstrings and f-strings too) or a comment is text, not a
hole: Python's own tokenizer (``tokenize``, which reads a stray ``?`` as an error token) says where strings
and comments lie. The core stays free of tree-sitter for this.
"""

from __future__ import annotations

import bisect
import io
import re
import tokenize
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path

from diffill.errors import HoleError

DEFAULT_MARKER = "???"
PYTHON = "python"
PYTHON_SUFFIXES = frozenset({".py", ".pyi", ".pyw"})
_TEXT_TOKENS = frozenset({tokenize.STRING, tokenize.COMMENT})
_LITERAL_START = re.compile("[\"'#]")
# Python 3.12+ splits f-strings (3.14: t-strings too) into start, middle and end tokens.
_STRING_STARTS = frozenset(getattr(tokenize, n) for n in ("FSTRING_START", "TSTRING_START") if hasattr(tokenize, n))
_STRING_ENDS = frozenset(getattr(tokenize, n) for n in ("FSTRING_END", "TSTRING_END") if hasattr(tokenize, n))


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


def find_holes(
    text: str, marker: str = DEFAULT_MARKER, *, in_strings: bool = False, language: str | None = None
) -> list[Span]:
    """Every occurrence of ``marker`` that is a hole, as a span, in order.

    In Python text a marker inside a string literal or a comment is text and is skipped, unless
    ``in_strings``. ``language``: ``"python"`` reads Python's tokens (where tokenizing stops, the rest of the
    text is searched plainly); None guesses (Python when the text up to its last marker tokenizes as Python);
    any other language is searched plainly.
    """
    if not marker:
        raise HoleError("the hole marker must not be empty")
    found = [Span(m.start(), m.end()) for m in re.finditer(re.escape(marker), text)]
    if in_strings or not found or language not in (None, PYTHON):
        return found
    if not _LITERAL_START.search(text, 0, found[-1].end):
        return found  # no quote or # before the last marker: no string or comment, nothing to tokenize
    literal = python_text_ranges(text, found[-1].end, partial=language == PYTHON)
    starts = [start for start, _ in literal]
    return [s for s in found if _outside(s, literal, starts)]


def _outside(span: Span, ranges: list[tuple[int, int]], starts: list[int]) -> bool:
    """``span`` overlaps none of the sorted, disjoint ``ranges`` (whose starts are ``starts``)."""
    i = bisect.bisect_left(starts, span.end) - 1  # the last range starting before the span ends
    return i < 0 or ranges[i][1] <= span.start


def language_for_path(path: str | Path | None) -> str | None:
    """``"python"`` for a Python file name, None (guess) for stdin (``-``) or no name, else the suffix."""
    if path is None or str(path) == "-":
        return None
    suffix = Path(path).suffix.lower()
    return PYTHON if suffix in PYTHON_SUFFIXES else suffix.lstrip(".") or None


def python_text_ranges(text: str, until: int | None = None, partial: bool = True) -> list[tuple[int, int]]:
    """Character ranges of the string literals and comments of Python ``text`` that start before ``until``.

    When tokenizing fails, ``partial`` keeps the ranges found before the failure; otherwise there are none.
    Ranges whose text does not match the source (a tokenizer that rewrote line endings) give none at all.
    """
    limit = len(text) if until is None else until
    ranges: list[tuple[int, int]] = []
    try:
        for start, end in _literal_tokens(text, limit):
            ranges.append((start, end))
    except _Misaligned:
        return []
    except (tokenize.TokenError, SyntaxError, ValueError):
        if not partial:
            return []
    return ranges


class _Misaligned(Exception):
    """A token's positions do not point at its text."""


def _literal_tokens(text: str, limit: int) -> Iterator[tuple[int, int]]:
    """(start, end) character offsets of string and comment tokens, an f-string as one range."""
    line_starts = [0]
    line_starts.extend(m.end() for m in re.finditer("\n", text))

    def offset(pos: tuple[int, int]) -> int:
        return line_starts[pos[0] - 1] + pos[1]

    depth, opened = 0, 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            start = offset(tok.start)
            if start >= limit and depth == 0:
                return
            if tok.type in _STRING_STARTS:
                depth, opened = depth + 1, start if depth == 0 else opened
            elif tok.type in _STRING_ENDS:
                depth -= 1
                if depth == 0:
                    yield opened, offset(tok.end)
            elif tok.type in _TEXT_TOKENS and depth == 0:
                end = offset(tok.end)
                if text[start:end] != tok.string:
                    raise _Misaligned(tok.string)
                yield start, end


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
