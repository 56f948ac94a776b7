"""Token confidence carried onto the final text of a fill (``diffill.confidence``)."""

from __future__ import annotations

from diffill.confidence import piece_offsets, token_spans, uncertain_ranges


def test_piece_offsets_follow_cumulative_decoding() -> None:
    vocab = {1: "ab", 2: "c", 3: " d"}
    assert piece_offsets([1, 2, 3], lambda ids: "".join(vocab[i] for i in ids)) == [2, 3, 5]


def test_token_spans_survive_a_cut_and_a_trimmed_indent() -> None:
    raw = "    x = f(y)\n    z = 2\n"
    ends = [4, 5, 7, 9, 12, 13, len(raw)]  # "    ", "x", " =", " f", "(y)", "\n", the second line
    conf = [1.0, 0.9, 0.8, 0.3, 0.2, 1.0, 0.1]
    final = "x = f(y)"  # first line only, indentation dropped
    spans = token_spans(ends, conf, raw, final)
    assert [(final[a:b], c) for a, b, c in spans] == [("x", 0.9), (" =", 0.8), (" f", 0.3), ("(y)", 0.2)]
    assert token_spans(ends, conf, raw, "") == []


def test_uncertain_ranges_merge_neighbours_and_trim_blanks() -> None:
    text = "x = f(y)"
    spans = [(0, 1, 0.9), (1, 3, 0.8), (3, 5, 0.3), (5, 8, 0.2)]
    assert uncertain_ranges(spans, 0.5, text) == [(4, 8, 0.2)]
    assert uncertain_ranges(spans, 0.1, text) == []
    assert uncertain_ranges([(0, 2, 0.1)], 0.5, "  ") == []
