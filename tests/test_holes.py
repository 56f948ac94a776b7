"""Hole markers, regions, line/column positions and span checks."""

from __future__ import annotations

import pytest

from diffill.errors import HoleError
from diffill.holes import (
    Span,
    check_spans,
    find_holes,
    is_line_hole,
    language_for_path,
    offset_at,
    parse_region,
    python_text_ranges,
)

TEXT = "def f(x):\n    ???\n\ny = f(???)\n"


def test_find_holes_in_order() -> None:
    holes = find_holes(TEXT)
    assert [TEXT[h.start : h.end] for h in holes] == ["???", "???"]
    assert holes[0].start == TEXT.index("???")


def test_custom_marker() -> None:
    assert len(find_holes("a = <HOLE>\nb = <HOLE>\n", "<HOLE>")) == 2
    with pytest.raises(HoleError):
        find_holes(TEXT, "")


def holes_at(text: str, **kw: object) -> list[int]:
    return [h.start for h in find_holes(text, **kw)]  # type: ignore[arg-type]


LITERALS = '''def ask(x):
    """Docstring: what???
    more ??? here"""
    s = "what???" + 'why???'  # a comment ??? too
    t = f"{x}???" + rf'{x!r:>???}'
    b = b"???"
    u = """a
??? in a multi-line string
"""
    return ???
'''


def test_markers_in_strings_and_comments_are_text() -> None:
    assert holes_at(LITERALS) == [LITERALS.rindex("???")]


def test_real_holes_next_to_literals_are_found() -> None:
    text = 'x = "a???"???\ny = ???# ???\nz = ???"""???"""\n'
    spans = find_holes(text)
    assert len(spans) == 3 and all(text[s.start : s.end] == "???" for s in spans)
    assert [text[s.start - 1] for s in spans] == ['"', " ", " "]


def test_in_strings_finds_every_marker() -> None:
    assert len(find_holes(LITERALS, in_strings=True)) == LITERALS.count("???")
    custom = 's = "<H>"  # <H>\n<H>\n'
    assert holes_at(custom, marker="<H>") == [custom.rindex("<H>")]


def test_other_languages_are_searched_plainly() -> None:
    text = 'let s = "what???"; // ???\nlet x = ???;\n'
    assert len(find_holes(text, language="rust")) == 3
    assert len(find_holes(LITERALS, language="markdown")) == LITERALS.count("???")


def test_untokenizable_text_falls_back_to_a_plain_search() -> None:
    broken = 's = "a???"\nx = ???\ny = """never closed ???\n'
    every = [broken.index("???"), broken.index("???", 10), broken.rindex("???")]
    assert holes_at(broken) == every  # the guess fails: not Python, so every marker
    assert holes_at(broken, language="python") == every[1:]  # Python up to where tokenizing stops
    unclosed = 's = "a???"\nf(???\n'  # an unclosed bracket fails only at the end, after the last marker
    assert holes_at(unclosed) == holes_at(unclosed, language="python") == [unclosed.rindex("???")]


def test_python_text_ranges_cover_literals_only() -> None:
    text = 'a = "x"  # c\nb = f"{a}"\n'
    assert [text[i:j] for i, j in python_text_ranges(text)] == ['"x"', "# c", 'f"{a}"']
    assert python_text_ranges('x = """open\n', partial=False) == []


def test_language_for_path() -> None:
    assert language_for_path("a/b.py") == "python" and language_for_path("x.PYI") == "python"
    assert language_for_path("-") is None and language_for_path(None) is None and language_for_path("Makefile") is None
    assert language_for_path("main.rs") == "rs"


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
