"""Rewriting a selection: cut it into line pieces that each fill as one span, so a long selection is rewritten
whole (in several windows if need be) and a partial line stays one line."""

from __future__ import annotations

from collections.abc import Callable

from diffill.errors import HoleError


def line_pieces(text: str, start: int, end: int, count: Callable[[str], int], cap: int) -> list[tuple[int, int]]:
    """Spans covering ``text[start:end]`` but its line breaks' last newline.

    Whole lines are grouped while they fit one span's budget of ``cap`` tokens with room to grow 1.5x
    (``count`` gives a text's tokens) and fill as line holes; a partial line is a piece of its own.
    """
    limit = max(1, int((cap - 8) / 1.5))
    pieces: list[tuple[int, int]] = []
    group: tuple[int, int] | None = None
    used = 0
    for a, b, whole in _line_segments(text, start, end):
        n = count(text[a:b]) + 1
        if n > cap:
            raise HoleError(f"a line of the selection is {n} tokens; this model rewrites at most {cap} at once")
        if whole and group is not None and used + n <= limit:
            group, used = (group[0], b), used + n
            continue
        if group is not None:
            pieces.append(group)
        group, used = ((a, b), n) if whole and b > a else (None, 0)
        if not whole and b > a:
            pieces.append((a, b))
    if group is not None:
        pieces.append(group)
    return pieces


def _line_segments(text: str, start: int, end: int) -> list[tuple[int, int, bool]]:
    """(start, end, covers the whole line) of the content (newline excluded) of each line in ``[start, end)``."""
    out = []
    line_start = text.rfind("\n", 0, start) + 1
    while line_start < end or (line_start == end == start):
        newline = text.find("\n", line_start)
        content_end = len(text) if newline < 0 else newline
        a, b = max(start, line_start), min(end, content_end)
        if a <= b:
            out.append((a, b, a == line_start and b == content_end))
        if newline < 0:
            break
        line_start = newline + 1
    return out
