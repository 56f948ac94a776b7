"""Cutting a selection into line pieces for a rewrite (``diffill.rewrite``)."""

from __future__ import annotations

import pytest

from diffill.errors import HoleError
from diffill.rewrite import line_pieces


def words(text: str) -> int:
    return len(text.split())


def test_partial_lines_stand_alone_and_whole_lines_group() -> None:
    text = "a = 1\n" + "".join(f"b{i} = {i} + {i}\n" for i in range(12)) + "c = 3\n"
    start, end = 2, text.index("c = 3") + 3  # from inside the first line to inside the last
    pieces = line_pieces(text, start, end, words, cap=32)
    assert pieces[0] == (2, 5) and pieces[-1] == (end - 3, end)  # "= 1" and "c =", without newlines
    groups = pieces[1:-1]
    assert len(groups) == 6  # 6 tokens a line, 16 a span: two whole lines each
    assert all(text[a - 1] == "\n" and text[b] == "\n" for a, b in groups)
    assert [text[a:b] for a, b in pieces] == [text[a:b] for a, b in pieces if text[a:b]]
    covered = "\n".join(text[a:b] for a, b in pieces)
    assert covered == text[start:end]


def test_an_empty_selection_on_an_empty_line_is_one_piece() -> None:
    text = "x = 1\n\ny = 2\n"
    at = text.index("\n\n") + 1
    assert line_pieces(text, at, at, words, cap=32) == []


def test_a_line_longer_than_a_span_is_refused() -> None:
    text = "x = " + " + ".join(["a"] * 40) + "\n"
    with pytest.raises(HoleError, match="at most 16"):
        line_pieces(text, 0, len(text) - 1, words, cap=16)
