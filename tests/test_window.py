"""The window layout: which spans share a sequence, the prefix/suffix split, line cuts, context and re-masking."""

from __future__ import annotations

import pytest
import torch

from diffill.errors import HoleError
from diffill.holes import Span
from diffill.window import Layout, Vocab, build_layout, context_ids, cut_prefix, cut_suffix

MASK, CLS, SEP = 1, 2, 3
VOCAB = Vocab(mask_id=MASK, cls_id=CLS, sep_id=SEP)


class _Chars:
    """A tokenizer with one token per character (offsets included): the layout's arithmetic becomes exact."""

    def __call__(self, texts, add_special_tokens=False, return_offsets_mapping=False, verbose=False):
        ids = [[ord(c) % 90 + 10 for c in t] for t in texts]  # never a special id (1, 2, 3)
        offsets = [[(i, i + 1) for i in range(len(t))] for t in texts]
        return {"input_ids": ids, "offset_mapping": offsets}


CHARS = _Chars()


def enc(text: str) -> list[int]:
    return CHARS([text])["input_ids"][0]


def cut_args(text: str) -> tuple[str, list[int], list[tuple[int, int]]]:
    out = CHARS([text])
    return text, out["input_ids"][0], out["offset_mapping"][0]


def layout(text: str, spans: list[Span], lengths: list[int], window: int = 64, seed: int = 0, **kw) -> Layout:
    return build_layout(CHARS, text, spans, lengths, VOCAB, window, torch.Generator().manual_seed(seed), **kw)


def assert_covers_its_text(lay: Layout, text: str) -> None:
    """The ids are CLS, text[start:end] with each span's body in place, SEP."""
    assert lay.ids[0] == CLS and lay.ids[-1] == SEP
    cursor, expected = lay.start, [CLS]
    for sp, (lo, hi) in zip(lay.spans, lay.slices):
        expected += enc(text[cursor : sp.start])
        assert lo == len(expected)
        expected += lay.ids[lo:hi]
        cursor = sp.end
    expected += [*enc(text[cursor : lay.end]), SEP]
    assert lay.ids == expected


def test_spans_that_fit_share_one_layout_and_the_rest_wait() -> None:
    text = "0123456789" * 4
    a, b, c = Span(10, 10), Span(15, 15), Span(20, 20)
    lay = layout(text, [a, b, c], [20, 20, 20])  # 20 + 5 + 20 tokens fit three quarters of 62; a third does not
    assert lay.spans == [a, b]
    assert [hi - lo for lo, hi in lay.slices] == [20, 20]
    assert all(t == MASK for lo, hi in lay.slices for t in lay.ids[lo:hi])
    assert lay.ids[lay.slices[0][1] : lay.slices[1][0]] == enc(text[10:15])  # the text between them stays
    assert len(lay.ids) == 64 and (lay.start, lay.end) == (0, 22)
    assert_covers_its_text(lay, text)
    assert lay.covers(c)  # the next window reaches into this one's text: it waits for it to be filled
    rest = layout(text, [c], [20])
    assert rest.spans == [c] and rest.covers(b)


def test_the_prefix_takes_two_thirds_of_the_room_and_the_suffix_the_rest() -> None:
    text = "x" * 200 + "y" * 200
    lay = layout(text, [Span(200, 200)], [4])  # room: 62 - 4 = 58 tokens, no line break in reach
    assert (lay.start, lay.end) == (200 - 38, 200 + 20)  # int(58 * 2/3) = 38 before, 20 after
    assert len(lay.ids) == 64
    assert_covers_its_text(lay, text)


def test_a_short_side_leaves_its_room_to_the_other() -> None:
    short_suffix = layout("x" * 200 + "yyyyy", [Span(200, 200)], [4])
    assert (short_suffix.start, short_suffix.end) == (200 - 53, 205)
    short_prefix = layout("xxx" + "y" * 200, [Span(3, 3)], [4])
    assert (short_prefix.start, short_prefix.end) == (0, 3 + 55)
    assert len(short_suffix.ids) == len(short_prefix.ids) == 64


def test_prefix_and_suffix_are_cut_at_line_boundaries() -> None:
    text = "abcdefghi\n" * 20
    lay = layout(text, [Span(100, 100)], [4])
    assert (lay.start, lay.end) == (70, 120)  # 38 tokens reach back to 62: the next line starts at 70
    assert text[lay.start - 1] == "\n" and text[lay.end - 1] == "\n"
    assert len(lay.ids) == 1 + 30 + 4 + 20 + 1  # the suffix had 28 tokens of room: two whole lines fit
    assert_covers_its_text(lay, text)


def test_cut_prefix_starts_at_a_line_start_in_reach() -> None:
    args = cut_args("ab\ncd\nef")
    assert cut_prefix(*args, 5) == enc("cd\nef")
    assert cut_prefix(*args, 4) == enc("ef")  # "d\nef" would start inside a line
    assert cut_prefix(*args, 8) == cut_prefix(*args, 100) == enc("ab\ncd\nef")
    assert cut_prefix(*args, 0) == cut_prefix(*args, -3) == []
    assert cut_prefix(*cut_args("abcdefgh"), 3) == enc("fgh")  # no line start in reach: the last tokens


def test_cut_suffix_ends_at_a_line_end_in_reach() -> None:
    args = cut_args("ab\ncd\nef")
    assert cut_suffix(*args, 5) == enc("ab\n")
    assert cut_suffix(*args, 6) == enc("ab\ncd\n")
    assert cut_suffix(*args, 2) == enc("ab")  # no line end in reach: the first tokens
    assert cut_suffix(*args, 8) == enc("ab\ncd\nef")
    assert cut_suffix(*args, 0) == []


def test_a_span_bigger_than_the_window_is_an_error() -> None:
    text = "a = ???\n"
    with pytest.raises(HoleError, match="62"):
        layout(text, [Span(4, 7)], [63])
    full = layout(text, [Span(4, 7)], [62])  # exactly the window: no room for any context
    assert full.ids == [CLS, *[MASK] * 62, SEP] and (full.start, full.end) == (4, 7)


def test_without_special_tokens_the_whole_window_is_room() -> None:
    lay = build_layout(CHARS, "a = ???\n", [Span(4, 7)], [64], Vocab(MASK, None, None), 64, torch.Generator())
    assert lay.ids == [MASK] * 64 and lay.slices == [(0, 64)]


def test_a_partial_span_remasks_part_of_its_own_tokens() -> None:
    text = "0123456789abcdefghij"
    span = Span(5, 15, strength=0.5)
    lay = layout(text, [span], [99], seed=0)  # a partial span keeps its own length; the budget is unused
    lo, hi = lay.slices[0]
    body, region = lay.ids[lo:hi], enc(text[5:15])
    masked = [i for i, t in enumerate(body) if t == MASK]
    assert len(body) == 10 and len(masked) == 5
    assert all(body[i] == region[i] for i in range(10) if i not in masked)
    assert layout(text, [span], [99], seed=0).ids == lay.ids  # the generator's seed decides which
    assert layout(text, [span], [99], seed=1).ids != lay.ids
    weak = layout(text, [Span(5, 15, strength=0.01)], [99])
    assert weak.ids[weak.slices[0][0] : weak.slices[0][1]].count(MASK) == 1  # at least one token changes
    empty = layout(text, [Span(5, 5, strength=0.5)], [6])  # nothing to keep: a run of masks
    assert empty.ids[empty.slices[0][0] : empty.slices[0][1]] == [MASK] * 6


def test_context_takes_the_free_room_or_its_budget() -> None:
    context = "c1\nc2\nc3\n"
    assert context_ids(CHARS, "", room=20, budget=5, own=None) == []
    assert context_ids(CHARS, context, room=0, budget=5, own=None) == []
    assert context_ids(CHARS, context, room=20, budget=4, own=None) == enc("c3\n")  # budget only, at a line
    assert context_ids(CHARS, context, room=20, budget=0, own=10) == enc(context)  # the room left free
    assert context_ids(CHARS, context, room=20, budget=0, own=18) == enc("3\n")  # no line start in reach
    assert context_ids(CHARS, context, room=20, budget=3, own=30) == enc("c3\n")
    assert context_ids(CHARS, context, room=20, budget=0, own=None) == []


def test_context_sits_before_the_prefix_and_takes_its_room() -> None:
    text = "abcdefghi\n" * 20
    plain = layout(text, [Span(100, 100)], [4])
    lay = layout(text, [Span(100, 100)], [4], context="ctx\n" * 5, context_budget=16)
    assert lay.context == 16 and lay.ids[1:17] == enc("ctx\n" * 4)  # the context's last lines, within budget
    assert (plain.start, lay.start) == (70, 80) and lay.end == plain.end  # the prefix gave up a line
    expected = [CLS, *enc("ctx\n" * 4), *enc(text[80:100]), *[MASK] * 4, *enc(text[100:120]), SEP]
    assert lay.ids == expected


def test_covers_counts_the_insertion_points_at_both_ends() -> None:
    lay = Layout(ids=[], slices=[], spans=[], start=10, end=20)
    assert lay.covers(Span(20, 20)) and lay.covers(Span(5, 10)) and lay.covers(Span(0, 30))
    assert not lay.covers(Span(21, 25)) and not lay.covers(Span(5, 9))


def test_start_and_end_match_the_ids_with_the_real_tokenizer(tiny_tokenizer) -> None:
    text = "".join(f"value_{i} = compute(argument_{i})\n" for i in range(30))
    a = text.index("compute(argument_14)")
    b = text.index("argument_15)")
    spans = [Span(a, a + len("compute")), Span(b, b + len("argument_15"))]
    vocab = Vocab(tiny_tokenizer.mask_token_id, tiny_tokenizer.cls_token_id, tiny_tokenizer.sep_token_id)
    lay = build_layout(tiny_tokenizer, text, spans, [6, 6], vocab, 96, torch.Generator())

    def encode(piece: str) -> list[int]:
        return tiny_tokenizer(piece, add_special_tokens=False)["input_ids"]

    assert lay.spans == spans and len(lay.ids) <= 96
    (lo1, hi1), (lo2, hi2) = lay.slices
    assert lay.ids[1:lo1] == encode(text[lay.start : a])
    assert lay.ids[hi1:lo2] == encode(text[spans[0].end : b])
    assert lay.ids[hi2:-1] == encode(text[spans[1].end : lay.end])
    assert text[lay.start - 1] == "\n" and text[lay.end - 1] == "\n"
    assert 0 < lay.start < a and spans[1].end < lay.end < len(text)
