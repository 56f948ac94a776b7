"""Finishing decoded middles: line endings, single-line mode, overlap with the suffix."""

from __future__ import annotations

from diffill.postprocess import finish, first_line, trim_suffix_overlap


def test_first_line() -> None:
    assert first_line("    return x\n    y = 2\n") == "    return x\n"
    assert first_line("\nfoo") == "foo"


def test_inline_hole_finishes_its_line() -> None:
    assert finish("a + b\nmore", line_hole=False, single_line=False, suffix=")\n") == "a + b"


def test_line_hole_ends_with_one_newline() -> None:
    assert finish("    return x", line_hole=True, single_line=False, suffix="    pass\n") == "    return x\n"
    assert finish("return x\n", line_hole=True, single_line=False, suffix="\nprint()\n") == "return x"
    assert finish("  \n", line_hole=True, single_line=False, suffix="x\n") == ""


def test_single_line_mode() -> None:
    out = finish("    a = 1\n    b = 2\n", line_hole=True, single_line=True, suffix="    c = 3\n")
    assert out == "    a = 1\n"


def test_overlap_with_suffix_is_removed() -> None:
    assert trim_suffix_overlap("foo(x))", ")\n") == "foo(x)"
    assert trim_suffix_overlap("foo(x)", ")\n") == "foo(x)"  # balanced: the ")" is the completion's own
    assert trim_suffix_overlap("value = compute()", "compute()\n") == "value = "
    assert trim_suffix_overlap("a\n    return y\n", "    return y\n") == "a\n"
    assert trim_suffix_overlap("x = 1", " # note\n") == "x = 1"


def test_cut_points_are_longest_first() -> None:
    from diffill.postprocess import cut_points

    assert cut_points("a = 1\nb = (\n", line_hole=True) == [12, 6, 0]
    points = cut_points("foo(bar, baz", line_hole=False)
    assert points[0] == 12 and points[-1] == 0 and 3 in points and 8 in points


def test_truncate_to_valid_keeps_the_longest_piece_that_fits() -> None:
    from diffill.postprocess import truncate_to_valid

    def balanced(piece: str) -> bool:
        return piece.count("(") == piece.count(")")

    assert truncate_to_valid("total(x) + f(y", line_hole=False, fits=balanced) == "total(x) + f"
    assert truncate_to_valid("a = 1\nb = f(\n", line_hole=True, fits=balanced) == "a = 1\n"
    assert truncate_to_valid("((x", line_hole=False, fits=lambda p: p == "") == ""
    assert truncate_to_valid("((", line_hole=False, fits=lambda p: False) == "(("  # broken around the hole
