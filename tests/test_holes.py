"""Hole markers, regions, line/column positions and span checks."""

from __future__ import annotations

import pytest

from diffill.errors import HoleError
from diffill.holes import Span, check_spans, find_holes, is_line_hole, offset_at, parse_region

TEXT = "def f(x):\n    ???\n\ny = f(???)\n"


def test_find_holes_in_order() -> None:
    holes = find_holes(TEXT)
    assert [TEXT[h.start : h.end] for h in holes] == ["???", "???"]
    assert holes[0].start == TEXT.index("???")


def test_custom_marker() -> None:
    assert len(find_holes("a = <HOLE>\nb = <HOLE>\n", "<HOLE>")) == 2
    with pytest.raises(HoleError):
        find_holes(TEXT, "")


def test_line_holes() -> None:
    first, second = find_holes(TEXT)
    assert is_line_hole(TEXT, first)
    assert not is_line_hole(TEXT, second)
    cursor = TEXT.index("y =")
    assert is_line_hole(TEXT, Span(cursor, cursor))  # inserting whole lines before "y = ..."


def test_offsets_are_one_based_and_checked() -> None:
    assert offset_at(TEXT, 1, 1) == 0
    assert offset_at(TEXT, 2, 5) == TEXT.index("???")
    assert offset_at(TEXT, 1, 10) == TEXT.index("\n")  # one past the line end
    for line, col in [(0, 1), (9, 1), (1, 12)]:
        with pytest.raises(HoleError):
            offset_at(TEXT, line, col)


def test_parse_region() -> None:
    span = parse_region("2:1-3:1", TEXT, strength=0.5)
    assert TEXT[span.start : span.end] == "    ???\n" and span.strength == 0.5
    for bad in ["2:1", "a:b-c:d", "3:1-2:1", "2:1-2:1"]:
        with pytest.raises(HoleError):
            parse_region(bad, TEXT)


def test_span_validation() -> None:
    with pytest.raises(HoleError):
        Span(5, 3)
    with pytest.raises(HoleError):
        Span(0, 1, strength=0)
    with pytest.raises(HoleError):
        check_spans(TEXT, [Span(0, 5), Span(3, 8)])
    with pytest.raises(HoleError):
        check_spans(TEXT, [Span(0, len(TEXT) + 1)])
    assert check_spans(TEXT, [Span(9, 10), Span(0, 2)]) == [Span(0, 2), Span(9, 10)]
