"""Engine fast paths that must not change what a fill returns: the first-line early exit, the narrow layout."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from diffill import window
from diffill.denoise import DenoiseConfig
from diffill.holes import Span
from diffill.infill import FillOptions, Infiller
from diffill.model import LoadedModel
from diffill.window import Vocab, build_layout


class LineLM(LoadedModel):
    """Writes ``x x \\n y y y ...`` into each run of masks, most confident on the left (so left to right)."""

    def logits_at(self, ids, attention, positions, t=None) -> torch.Tensor:
        self.calls = getattr(self, "calls", 0) + 1
        vocab = len(self.tokenizer)
        x, newline, y = (self.tokenizer(s, add_special_tokens=False)["input_ids"][-1] for s in ("x", "\n", "y"))
        start = getattr(self, "start", None)
        rows = positions.nonzero().tolist()
        if start is None:  # the first call sees each run whole: remember where runs start
            self.start = start = {(b, p) for b, p in rows if p == 0 or not positions[b, p - 1]}
        out = torch.zeros(len(rows), vocab)
        for i, (b, p) in enumerate(rows):
            offset = p - max(q for (r, q) in start if r == b and q <= p)
            out[i, [x, x, newline][offset] if offset < 3 else y] = 20.0 - offset
        return out


def line_lm(tokenizer) -> LineLM:
    return LineLM(
        model=None,
        tokenizer=tokenizer,
        path=Path("mock"),
        device=torch.device("cpu"),
        dtype=torch.float32,
        mask_id=tokenizer.mask_token_id,
        pad_id=tokenizer.pad_token_id,
        eom_id=None,
        cls_id=tokenizer.cls_token_id,
        sep_id=tokenizer.sep_token_id,
        max_length=256,
    )


TEXT = "def f():\n    a = 1\n\n    return a\n"
HOLE = Span(TEXT.index("\n    return"), TEXT.index("\n    return"))  # an empty line's end: fill that line


def test_single_line_fills_stop_once_the_first_line_is_committed(tiny_tokenizer) -> None:
    options = FillOptions(DenoiseConfig(steps=8), line_length=8, single_line=True)
    early = line_lm(tiny_tokenizer)
    steps: list[int] = []
    short = Infiller(early).fill(TEXT, [HOLE], options, on_step=lambda s: steps.append(s.step))
    full = Infiller(line_lm(tiny_tokenizer)).fill(TEXT, [HOLE], FillOptions(DenoiseConfig(steps=8), line_length=8))
    assert short.completions[0].strip() == "xx"
    assert full.completions[0].split("\n")[0] == short.completions[0].split("\n")[0]
    assert early.calls == len(steps) == 3  # x, x, newline: the rest is never needed


def test_multi_line_fills_run_every_step(tiny_tokenizer) -> None:
    lm = line_lm(tiny_tokenizer)
    Infiller(lm).fill(TEXT, [HOLE], FillOptions(DenoiseConfig(steps=8), line_length=8))
    assert lm.calls == 8


def test_remasking_turns_the_early_exit_off(tiny_tokenizer) -> None:
    lm = line_lm(tiny_tokenizer)
    Infiller(lm).fill(TEXT, [HOLE], FillOptions(DenoiseConfig(steps=8, remask=0.5), line_length=8, single_line=True))
    assert lm.calls == 8


@pytest.mark.parametrize("seed", range(3))
def test_early_exit_keeps_the_tiny_models_completions(tiny_model_dir: Path, seed: int, monkeypatch) -> None:
    from diffill.model import load_model

    lm = load_model(tiny_model_dir, device="cpu", dtype="float32")
    text = "import os\n\n\ndef main(path):\n    ???\n    return path\n"
    spans = [Span(text.index("???"), text.index("???") + 4)]
    options = FillOptions(DenoiseConfig(steps=6, temperature=1.0), line_length=12, single_line=True)
    early = Infiller(lm).candidates(text, spans, 3, options, seed=seed)
    monkeypatch.setattr(Infiller, "_first_lines_done", lambda *_: None)
    full = Infiller(lm).candidates(text, spans, 3, options, seed=seed)
    assert [r.text for r in early] == [r.text for r in full]


def test_the_narrow_layout_equals_the_wide_one(tiny_tokenizer, monkeypatch) -> None:
    """Tokenising a narrow window first is only a speed-up: layouts match those of the wide window alone."""
    from conftest import stdlib_texts

    texts = ["".join(stdlib_texts(30)), "x = 1; " * 2000, ("a" * 300 + "\n") * 40, "\n" * 3000 + "y = 2\n" * 50]
    vocab = Vocab(tiny_tokenizer.mask_token_id, tiny_tokenizer.cls_token_id, tiny_tokenizer.sep_token_id)
    rng = random.Random(0)
    cases = []
    for i in range(60):
        text = texts[i % len(texts)]
        spans = [Span(p, p) for p in sorted(rng.randrange(len(text) + 1) for _ in range(rng.choice([1, 2, 3])))]
        cases.append((text, spans, [rng.choice([1, 8, 32]) for _ in spans], rng.choice([64, 128, 256])))
    narrow = [build_layout(tiny_tokenizer, t, s, n, vocab, m, torch.Generator()).ids for t, s, n, m in cases]
    monkeypatch.setattr(window, "CHARS_PER_TOKEN_NARROW", 10**9)  # the wide window only, as before
    wide = [build_layout(tiny_tokenizer, t, s, n, vocab, m, torch.Generator()).ids for t, s, n, m in cases]
    assert narrow == wide


def test_threshold_commits_a_confident_end_of_middle_tail_at_once_when_nothing_else_is_left() -> None:
    from diffill.denoise import Spans, denoise

    mask, word, late = 1, 7, 9
    calls = []

    def logits_fn(ids, attention, positions, t):
        calls.append(int(positions.sum()))
        cols = positions.nonzero()[:, 1]
        out = torch.zeros(len(cols), 12)
        out[torch.arange(len(cols)), torch.where(cols < 3, word, late)] = 10.0  # confident everywhere
        return out

    x = torch.tensor([[5, mask, mask, mask, mask, mask, mask, 6]])
    result = denoise(
        logits_fn, x, mask, DenoiseConfig(steps=6, threshold=0.5), torch.Generator(), spans=Spans(late_id=late)
    )
    assert result.ids.tolist() == [[5, word, word, late, late, late, late, 6]]
    assert calls == [6, 4]  # the words first; then only the tail is left, and it goes in one step
    plain = denoise(logits_fn, x, mask, DenoiseConfig(steps=6), torch.Generator(), spans=Spans(late_id=late))
    assert plain.ids.tolist() == result.ids.tolist() and plain.steps_run == 6
