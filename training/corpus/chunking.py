"""Cutting a file into chunks of at most `chunk_chars` characters at line boundaries.

Cut points are line starts, ranked: a top-level definition start beats any top-level statement or nested
definition start, which beats a line after a blank line, which beats any other line start. In the window
of allowed cut points the best rank wins, the latest among equals.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

MIN_FILL = 0.3  # a chunk is cut no earlier than this fraction of chunk_chars when possible


class Cut(enum.IntEnum):
    """Rank of a line start as a cut point."""

    LINE = 0
    AFTER_BLANK = 1
    STATEMENT = 2
    DEFINITION = 3


def line_starts(text: str) -> list[int]:
    """Offsets of every line start after the first (the cut points), in order."""
    starts = []
    pos = text.find("\n")
    while pos != -1 and pos + 1 < len(text):
        starts.append(pos + 1)
        pos = text.find("\n", pos + 1)
    return starts


def rank_cuts(text: str, syntax_cuts: Mapping[int, Cut]) -> dict[int, Cut]:
    """Rank for every line start: the syntax rank where given, else blank-line or plain line."""
    ranks: dict[int, Cut] = {}
    for start in line_starts(text):
        previous_line = text[text.rfind("\n", 0, start - 1) + 1 : start - 1]
        rank = Cut.AFTER_BLANK if not previous_line.strip() else Cut.LINE
        ranks[start] = max(rank, syntax_cuts.get(start, Cut.LINE))
    return ranks


def chunk_ranges(text: str, chunk_chars: int, syntax_cuts: Mapping[int, Cut]) -> list[tuple[int, int]]:
    """Non-overlapping (start, end) ranges covering the text, each <= chunk_chars.

    A line longer than chunk_chars cannot fit any chunk; the text around it is chunked and the line
    itself is left out.
    """
    ranks = rank_cuts(text, syntax_cuts)
    cuts = sorted(ranks)
    ranges: list[tuple[int, int]] = []
    pos, i = 0, 0
    while pos < len(text):
        if len(text) - pos <= chunk_chars:
            ranges.append((pos, len(text)))
            break
        limit = pos + chunk_chars
        while i < len(cuts) and cuts[i] <= pos:
            i += 1
        j = i
        while j < len(cuts) and cuts[j] <= limit:
            j += 1
        window = cuts[i:j]  # cut points in (pos, limit]
        if not window:  # an over-long line: skip to the next line start
            if i >= len(cuts):
                break
            pos = cuts[i]
            continue
        floor = pos + int(chunk_chars * MIN_FILL)
        preferred = [c for c in window if c >= floor] or window
        end = max(preferred, key=lambda c: (ranks[c], c))
        ranges.append((pos, end))
        pos = end
    return ranges
