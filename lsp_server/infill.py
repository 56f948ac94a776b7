"""The text-level engine: text and spans in, filled text out.

This is the one path the CLI, the language server and the evaluation use: lay the spans out in a window,
denoise them jointly with ``denoise``, drop end-of-middle tokens, decode and post-process each middle.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from lsp_server.denoise import DenoiseConfig, StepInfo, denoise
from lsp_server.errors import HoleError
from lsp_server.holes import Span, check_spans, is_line_hole
from lsp_server.model import LoadedModel
from lsp_server.postprocess import finish
from lsp_server.window import Vocab, build_layout


@dataclass(frozen=True)
class FillOptions:
    """How long holes may grow and how their text is finished."""

    denoise: DenoiseConfig = field(default_factory=DenoiseConfig)
    line_length: int = 32  # token budget of a hole that stands on its own line(s)
    inline_length: int = 16  # token budget of a hole inside a line
    single_line: bool = False  # keep only the first line of each completion
    rewrite_slack: float = 1.5  # a full-strength rewrite may grow to this times its tokens, plus 8

    def __post_init__(self) -> None:
        if self.line_length < 1 or self.inline_length < 1:
            raise ValueError("length budgets must be >= 1")
        if self.rewrite_slack < 1:
            raise ValueError("rewrite_slack must be >= 1")


@dataclass(frozen=True)
class FillRequest:
    """A text and the spans to fill in it."""

    text: str
    spans: list[Span]


@dataclass
class FillResult:
    """The filled text and, per input span (in the caller's order), its new text and mean confidence."""

    text: str
    completions: list[str]
    confidence: list[float]
    stopped: bool = False


@dataclass
class _State:
    text: str
    pending: list[tuple[int, Span]]  # (caller's index, span), in text order
    completions: dict[int, str] = field(default_factory=dict)
    confidence: dict[int, float] = field(default_factory=dict)


class Infiller:
    """Fills spans of text with a loaded masked-diffusion model."""

    def __init__(self, lm: LoadedModel) -> None:
        self.lm = lm
        self.vocab = Vocab(mask_id=lm.mask_id, cls_id=lm.cls_id, sep_id=lm.sep_id)
        self._drop = set(lm.tokenizer.all_special_ids)

    def rewrite_span(self, text: str, start: int, end: int, strength: float = 1.0, slack: float = 1.5) -> Span:
        """A region span whose length budget leaves room for the new text to be longer than the old."""
        n = len(self.lm.tokenizer(text[start:end], add_special_tokens=False)["input_ids"])
        room = self.lm.max_length // 2
        return Span(start, end, length=max(1, min(room, math.ceil(n * slack) + 8)), strength=strength)

    def fill(
        self, text: str, spans: list[Span], options: FillOptions | None = None, seed: int = 0,
        should_stop: Callable[[], bool] | None = None, on_step: Callable[[StepInfo], None] | None = None,
    ) -> FillResult:
        """Fill every span of one text; spans in one window are denoised jointly."""
        return self.fill_batch([FillRequest(text, spans)], options, seed, should_stop, on_step)[0]

    def candidates(
        self, text: str, spans: list[Span], n: int, options: FillOptions | None = None, seed: int = 0,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[FillResult]:
        """``n`` samples of the same fill in one batched run (use a temperature above 0 to vary them)."""
        return self.fill_batch([FillRequest(text, spans)] * n, options, seed, should_stop)

    def fill_batch(
        self, requests: list[FillRequest], options: FillOptions | None = None, seed: int = 0,
        should_stop: Callable[[], bool] | None = None, on_step: Callable[[StepInfo], None] | None = None,
    ) -> list[FillResult]:
        """Fill several texts in one batch; a text whose spans need several windows takes several rounds."""
        options = options or FillOptions()
        states = [_State(r.text, self._ordered(r)) for r in requests]
        layout_gen = torch.Generator().manual_seed(seed)
        gen = torch.Generator(device=self.lm.device).manual_seed(seed)
        stopped = False
        while not stopped and any(s.pending for s in states):
            active = [s for s in states if s.pending]
            stopped = self._round(active, options, layout_gen, gen, should_stop, on_step)
        return [
            FillResult(
                text=s.text if not stopped else r.text,
                completions=[s.completions.get(i, "") for i in range(len(r.spans))],
                confidence=[s.confidence.get(i, 0.0) for i in range(len(r.spans))],
                stopped=stopped,
            )
            for s, r in zip(states, requests)
        ]

    def _ordered(self, request: FillRequest) -> list[tuple[int, Span]]:
        if not request.spans:
            raise HoleError("nothing to fill: no hole or region was given")
        check_spans(request.text, request.spans)
        return sorted(enumerate(request.spans), key=lambda p: p[1].start)

    def _length(self, text: str, span: Span, options: FillOptions) -> int:
        if span.length is not None:
            return span.length
        return options.line_length if is_line_hole(text, span) else options.inline_length

    def _round(
        self, states: list[_State], options: FillOptions, layout_gen: torch.Generator, gen: torch.Generator,
        should_stop: Callable[[], bool] | None, on_step: Callable[[StepInfo], None] | None,
    ) -> bool:
        """Lay out the next window of each text, denoise them together, write the middles back."""
        layouts = []
        for s in states:
            spans = [sp for _, sp in s.pending]
            lengths = [self._length(s.text, sp, options) for sp in spans]
            layouts.append(
                build_layout(self.lm.tokenizer, s.text, spans, lengths, self.vocab, self.lm.max_length, layout_gen)
            )
        width = max(len(lay.ids) for lay in layouts)
        x = torch.full((len(layouts), width), self.lm.pad_id, dtype=torch.long)  # (B, T)
        attention = torch.zeros_like(x)  # (B, T)
        for b, lay in enumerate(layouts):
            x[b, : len(lay.ids)] = torch.tensor(lay.ids)
            attention[b, : len(lay.ids)] = 1
        result = denoise(
            self.lm.logits_at, x.to(self.lm.device), self.lm.mask_id, options.denoise, gen,
            attention.to(self.lm.device), should_stop, on_step,
        )
        if result.stopped:
            return True
        ids, conf = result.ids.cpu(), result.confidence.cpu()
        for b, (s, lay) in enumerate(zip(states, layouts)):
            self._write_back(s, lay.slices, ids[b], conf[b], options)
        return False

    def _write_back(
        self, state: _State, slices: list[tuple[int, int]], ids: torch.Tensor, conf: torch.Tensor,
        options: FillOptions,
    ) -> None:
        """Decode each laid-out span, replace it in the text, shift the spans still pending."""
        done = state.pending[: len(slices)]
        state.pending = state.pending[len(slices) :]
        delta = 0
        pieces: list[str] = []
        cursor = 0
        for (index, span), (lo, hi) in zip(done, slices):
            kept = [(int(t), float(c)) for t, c in zip(ids[lo:hi], conf[lo:hi]) if int(t) not in self._drop]
            raw = self.lm.tokenizer.decode([t for t, _ in kept])
            text = finish(
                raw,
                line_hole=is_line_hole(state.text, span),
                single_line=options.single_line,
                suffix=state.text[span.end :],
            )
            state.completions[index] = text
            state.confidence[index] = sum(c for _, c in kept) / len(kept) if kept else 0.0
            pieces += [state.text[cursor : span.start], text]
            cursor = span.end
            delta += len(text) - (span.end - span.start)
        state.text = "".join(pieces) + state.text[cursor:]
        state.pending = [(i, sp.shifted(delta)) for i, sp in state.pending]
