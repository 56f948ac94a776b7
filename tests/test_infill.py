"""The text-level engine on a mock model: joint holes, end-of-middle dropping, windows, rewrites."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

from diffill import tokens
from diffill.denoise import DenoiseConfig
from diffill.errors import HoleError
from diffill.holes import Span, find_holes
from diffill.infill import FillOptions, Infiller
from diffill.model import LoadedModel
from diffill.window import Vocab, build_layout


class MockLM(LoadedModel):
    """Predicts ``word`` for the first ``keep`` positions of each hole, then end-of-middle."""

    keep = 2
    word = "x"

    def logits_at(
        self, ids: torch.Tensor, attention: torch.Tensor, positions: torch.Tensor, t: torch.Tensor | None = None
    ) -> torch.Tensor:
        self.calls = getattr(self, "calls", 0) + 1
        self.seen = [*getattr(self, "seen", []), ids.clone()]  # every batch it was given
        word = self.tokenizer(self.word, add_special_tokens=False)["input_ids"][0]
        in_hole = (ids == self.mask_id) | (ids == word) | (ids == self.eom_id)  # masks and what they became
        out = []
        for b, t in positions.nonzero().tolist():
            run_start = t
            while run_start > 0 and in_hole[b, run_start - 1]:
                run_start -= 1
            logits = torch.zeros(len(self.tokenizer))
            logits[word if t - run_start < self.keep else self.eom_id] = 5.0 + t / 100
            out.append(logits)
        return torch.stack(out)


def mock_lm(tokenizer, max_length: int = 256) -> MockLM:
    return MockLM(
        model=None,
        tokenizer=tokenizer,
        path=Path("mock"),
        device=torch.device("cpu"),
        dtype=torch.float32,
        mask_id=tokenizer.mask_token_id,
        pad_id=tokenizer.pad_token_id,
        eom_id=tokenizer.convert_tokens_to_ids(tokens.EOM),
        cls_id=tokenizer.cls_token_id,
        sep_id=tokenizer.sep_token_id,
        max_length=max_length,
    )


def test_holes_are_filled_jointly_and_end_of_middle_is_dropped(tiny_tokenizer) -> None:
    text = "a = f(???)\nb = g(???)\n"
    lm = mock_lm(tiny_tokenizer)
    result = Infiller(lm).fill(text, find_holes(text), FillOptions(DenoiseConfig(steps=4), inline_length=8))
    assert result.text == "a = f(xx)\nb = g(xx)\n"
    assert result.completions == ["xx", "xx"]
    assert lm.calls == 4  # both holes in one sequence, one pass per step
    assert tokens.EOM not in result.text and "???" not in result.text


def test_a_hole_may_use_its_whole_budget(tiny_tokenizer) -> None:
    lm = mock_lm(tiny_tokenizer)
    lm.keep = 100
    out = Infiller(lm).fill("v = ???\n", [Span(4, 7, length=5)], FillOptions(DenoiseConfig(steps=5)))
    assert out.completions == ["x" * 5]


def _lines(count: int) -> str:
    return "".join(f"value_{i} = compute(argument_{i})\n" for i in range(count))


def test_holes_in_windows_apart_are_denoised_side_by_side(tiny_tokenizer) -> None:
    text = "???\n" + _lines(60) + "???\n" + _lines(60) + "???\n"
    lm = mock_lm(tiny_tokenizer, max_length=128)
    result = Infiller(lm).fill(text, find_holes(text), FillOptions(DenoiseConfig(steps=2), line_length=8))
    assert "???" not in result.text and result.completions == ["xx", "xx", "xx"]
    assert lm.calls == 2  # one round: three windows in one batch, two steps
    assert [len(batch) for batch in lm.seen] == [3, 3]
    hole = tiny_tokenizer("???", add_special_tokens=False)["input_ids"]
    first = lm.seen[0][1].tolist()  # the middle window sees neither other hole
    assert not any(first[i : i + len(hole)] == hole for i in range(len(first)))


def test_a_window_that_reaches_an_earlier_hole_waits_to_see_it_filled(tiny_tokenizer) -> None:
    text = "???\n" + _lines(7) + "???\n"
    lm = mock_lm(tiny_tokenizer, max_length=128)
    infiller = Infiller(lm)
    options = FillOptions(DenoiseConfig(steps=2), line_length=8)
    first, second = (infiller.layout(text, spans, options) for spans in (find_holes(text), find_holes(text)[1:]))
    assert len(first.spans) == 1 and second.covers(find_holes(text)[0])  # the case this test is about
    encode = lambda piece: tiny_tokenizer(piece, add_special_tokens=False)["input_ids"]  # noqa: E731
    assert second.ids[1 : second.slices[0][0]] == encode(text[second.start : second.spans[0].start])
    assert first.ids[first.slices[0][1] : -1] == encode(text[first.spans[0].end : first.end])
    result = infiller.fill(text, find_holes(text), options)
    assert result.completions == ["xx", "xx"]
    assert [len(batch) for batch in lm.seen] == [1, 1, 1, 1]  # two rounds of two steps
    word = tiny_tokenizer("xx\n", add_special_tokens=False)["input_ids"]
    later = lm.seen[2][0].tolist()
    assert any(later[i : i + len(word)] == word for i in range(len(later)))  # the first hole, filled


def test_results_come_back_in_the_callers_order(tiny_tokenizer) -> None:
    text = "p = ???\nq = ???\n"
    holes = find_holes(text)
    lm = mock_lm(tiny_tokenizer)
    lm.keep = 1
    result = Infiller(lm).fill(text, [holes[1], holes[0]], FillOptions(DenoiseConfig(steps=2)))
    assert result.text == "p = x\nq = x\n"
    assert result.completions == ["x", "x"]


def test_partial_rewrite_keeps_unmasked_tokens(tiny_tokenizer) -> None:
    text = "def area(width, height):\n    return width * height\n"
    start = text.index("return")
    span = Span(start, len(text) - 1, strength=0.5)
    lm = mock_lm(tiny_tokenizer)
    lm.keep = 100
    layout = build_layout(
        tiny_tokenizer, text, [span], [0], Vocab(lm.mask_id, lm.cls_id, lm.sep_id), 256, torch.Generator()
    )
    ((lo, hi),) = layout.slices
    region = tiny_tokenizer(text[span.start : span.end], add_special_tokens=False)["input_ids"]
    body = layout.ids[lo:hi]
    assert len(body) == len(region)
    masked = [i for i, t in enumerate(body) if t == lm.mask_id]
    assert len(masked) == round(0.5 * len(region))
    assert all(body[i] == region[i] for i in range(len(region)) if i not in masked)


def test_window_cuts_prefix_and_suffix_at_line_starts(tiny_tokenizer) -> None:
    lines = [f"line_{i} = {i}\n" for i in range(200)]
    text = "".join(lines[:100]) + "???\n" + "".join(lines[100:])
    hole = find_holes(text)[0]
    vocab = Vocab(tiny_tokenizer.mask_token_id, tiny_tokenizer.cls_token_id, tiny_tokenizer.sep_token_id)
    layout = build_layout(tiny_tokenizer, text, [hole], [16], vocab, 128, torch.Generator())
    assert len(layout.ids) <= 128
    lo, hi = layout.slices[0]
    prefix = tiny_tokenizer.decode(layout.ids[1:lo])
    suffix = tiny_tokenizer.decode(layout.ids[hi:-1])
    assert prefix.startswith("line_") and prefix.endswith("\n")
    assert suffix.startswith("\n") and suffix.endswith("\n")
    assert len(tiny_tokenizer(prefix)["input_ids"]) > len(tiny_tokenizer(suffix)["input_ids"])


def test_candidates_are_batched(tiny_tokenizer) -> None:
    lm = mock_lm(tiny_tokenizer)
    results = Infiller(lm).candidates("k = ???\n", find_holes("k = ???\n"), 3, FillOptions(DenoiseConfig(steps=2)))
    assert len(results) == 3 and lm.calls == 2


def test_no_spans_is_an_error(tiny_tokenizer) -> None:
    with pytest.raises(HoleError):
        Infiller(mock_lm(tiny_tokenizer)).fill("x = 1\n", [])


def test_filled_program_parses(tiny_tokenizer) -> None:
    text = "def f(a):\n    return a + ???\n"  # completes to "a + x"
    lm = mock_lm(tiny_tokenizer)
    lm.keep = 1
    out = Infiller(lm).fill(text, find_holes(text), FillOptions(DenoiseConfig(steps=2)))
    ast.parse(out.text)


class LikelyEndLM(MockLM):
    """Content is the argmax at every position, but from the ``keep``-th on the end is likely too."""

    def logits_at(
        self, ids: torch.Tensor, attention: torch.Tensor, positions: torch.Tensor, t: torch.Tensor | None = None
    ) -> torch.Tensor:
        word = self.tokenizer(self.word, add_special_tokens=False)["input_ids"][0]
        out = []
        for b, t in positions.nonzero().tolist():
            start = t
            while start > 0 and ids[b, start - 1] in (self.mask_id, word, self.eom_id):
                start -= 1
            logits = torch.zeros(len(self.tokenizer))
            logits[word] = 8.0
            logits[self.eom_id] = 7.5 if t - start >= self.keep else 0.0
            out.append(logits)
        return torch.stack(out)


def test_unknown_length_comes_from_the_end_probability(tiny_tokenizer) -> None:
    lm = LikelyEndLM(**vars(mock_lm(tiny_tokenizer)))
    text = "v = ???\n"
    estimated = Infiller(lm).fill(
        text, find_holes(text), FillOptions(DenoiseConfig(steps=4), inline_length=6, end_probability=0.3)
    )
    assert estimated.completions == ["xx"]
    budget = Infiller(lm).fill(
        text, find_holes(text), FillOptions(DenoiseConfig(steps=4), inline_length=6, end_probability=None)
    )
    assert budget.completions == ["x" * 6]
    known = Infiller(lm).fill(text, [Span(4, 7, length=5)], FillOptions(DenoiseConfig(steps=4), end_probability=None))
    assert known.completions == ["x" * 5]


def test_an_empty_fill_of_a_hole_alone_on_an_indented_line_leaves_an_empty_line(tiny_tokenizer) -> None:
    text = "def f(a):\n    ???\n    return a + ???\n"
    holes = find_holes(text)
    lm = mock_lm(tiny_tokenizer)
    lm.keep = 0  # end-of-middle everywhere: every fill is empty
    result = Infiller(lm).fill(text, holes, FillOptions(DenoiseConfig(steps=2)))
    assert result.completions == ["", ""]
    assert result.text == "def f(a):\n\n    return a + \n"  # no whitespace-only line
    assert result.starts == [text.index("    ???"), holes[1].start]  # the line's start; the span's inside a line
    lm.keep = 1
    filled = Infiller(lm).fill(text, holes, FillOptions(DenoiseConfig(steps=2)))
    assert filled.text == "def f(a):\n    x\n    return a + x\n"
    assert filled.starts == [h.start for h in holes]  # a non-empty fill starts at its span
