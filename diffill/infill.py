"""The text-level engine: text and spans in, filled text out.

This is the one path the CLI, the language server and the evaluation use: lay the spans out in a window,
denoise them jointly with ``denoise``, drop end-of-middle tokens, decode and post-process each middle.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch

from diffill import defaults
from diffill.accel import bucket_width
from diffill.confidence import TokenSpan, piece_offsets, token_spans
from diffill.context_cache import CacheConfig
from diffill.denoise import DenoiseConfig, EndsFn, Hooks, Spans, StepInfo, denoise
from diffill.denoise.lengths import end_positions
from diffill.errors import HoleError
from diffill.holes import Span, check_spans, is_line_hole
from diffill.model import LoadedModel
from diffill.postprocess import RegionCheck, finish, truncate_to_valid
from diffill.reuse import ReuseSlot
from diffill.rewrite import line_pieces
from diffill.window import Layout, Vocab, build_layout


@dataclass(frozen=True)
class FillOptions:
    """How long holes may grow and how their text is finished."""

    denoise: DenoiseConfig = field(default_factory=DenoiseConfig)
    line_length: int = defaults.LINE_LENGTH  # token budget of a hole that stands on its own line(s)
    inline_length: int = defaults.INLINE_LENGTH  # token budget of a hole inside a line
    single_line: bool = False  # keep only the first line of each completion
    syntax_check: RegionCheck | None = None  # cut completions to their longest piece that parses
    retries: int = 4  # with syntax_check: samples drawn (one batch) when the greedy fill leaves the file broken
    rewrite_slack: float = 1.5  # a full-strength rewrite may grow to this times its tokens, plus 8
    cache: CacheConfig = field(default_factory=CacheConfig)  # context cache (fast path)
    window: int | None = None  # at most this many tokens per sequence (None: the model's window)
    # A hole of unknown length ends where the first step's end-of-middle probability first reaches this
    # (at least one token); the positions after it are committed as end-of-middle at once. None: no
    # estimate, end-of-middle tokens are committed last instead.
    end_probability: float | None = defaults.END_PROBABILITY
    context_tokens: int = 0  # repository context may take this many tokens of the file's own room

    def __post_init__(self) -> None:
        if self.line_length < 1 or self.inline_length < 1:
            raise ValueError("length budgets must be >= 1")
        if self.window is not None and self.window < 8:
            raise ValueError("window must be >= 8 tokens")
        if self.rewrite_slack < 1:
            raise ValueError("rewrite_slack must be >= 1")
        if self.end_probability is not None and not 0 < self.end_probability <= 1:
            raise ValueError("end_probability must be in (0, 1]")
        if self.context_tokens < 0:
            raise ValueError("context_tokens must be >= 0")


RETRY_TEMPERATURE = 0.8
# Windows of one text denoised side by side in one batch (spans too far apart to share a window): their
# steps run as one batched pass (measured faster than one window at a time: benchmarks/README.md).
MAX_WINDOWS = 4


def fit_syntax(text: str, line_hole: bool, before: str, after: str, check: RegionCheck) -> str:
    """``text`` cut to its longest piece that leaves the hole's lines parsing (nothing if none does)."""

    def finished(piece: str) -> str:
        return finish(piece, line_hole=line_hole, single_line=False, suffix=after)

    def fits(piece: str) -> bool:
        full = before + finished(piece) + after
        start = before.rfind("\n") + 1
        end = full.find("\n", len(before) + len(finished(piece)))
        return check(full, start, len(full) if end < 0 else end)

    return finished(truncate_to_valid(text, line_hole, fits))


@dataclass(frozen=True)
class FillRequest:
    """A text, the spans to fill in it, and repository context for its window (``diffill.retrieval``)."""

    text: str
    spans: list[Span]
    context: str = ""


@dataclass
class FillResult:
    """The filled text and, per input span (in the caller's order), its new text, its mean token confidence
    and where each of its tokens landed in that text (``diffill.confidence``); and, per span whose length was
    estimated, the first step's end-of-middle probability at each of its positions (the length estimate's
    distribution: how sharply it ends, for a confidence gate; empty for other spans)."""

    text: str
    completions: list[str]
    confidence: list[float]
    stopped: bool = False
    token_spans: list[list[TokenSpan]] = field(default_factory=list)
    # where each completion's replacement starts in the caller's text: the span's start, or the start of its
    # line when an empty fill of a hole alone on its line takes the line's indentation with it
    starts: list[int] = field(default_factory=list)
    end_probabilities: list[list[float]] = field(default_factory=list)


@dataclass
class _State:
    text: str
    pending: list[tuple[int, Span]]  # (caller's index, span), in text order
    context: str = ""
    completions: dict[int, str] = field(default_factory=dict)
    confidence: dict[int, float] = field(default_factory=dict)
    token_spans: dict[int, list[TokenSpan]] = field(default_factory=dict)
    widened: dict[int, int] = field(default_factory=dict)  # indentation removed before an empty line fill
    end_probabilities: dict[int, list[float]] = field(default_factory=dict)


class Infiller:
    """Fills spans of text with a loaded masked-diffusion model."""

    def __init__(self, lm: LoadedModel) -> None:
        self.lm = lm
        self.vocab = Vocab(mask_id=lm.mask_id, cls_id=lm.cls_id, sep_id=lm.sep_id)
        self._drop = set(lm.tokenizer.all_special_ids)
        self.reuse = ReuseSlot()  # context states kept for the next request (options.cache.reuse)

    @property
    def span_cap(self) -> int:
        """The largest token budget of one span: half the model's window."""
        return max(1, self.lm.max_length // 2)

    def count_tokens(self, text: str) -> int:
        return len(self.lm.tokenizer(text, add_special_tokens=False)["input_ids"])

    def rewrite_span(self, text: str, start: int, end: int, strength: float = 1.0, slack: float = 1.5) -> Span:
        """A region span whose length budget leaves room for the new text to be longer than the old."""
        n = self.count_tokens(text[start:end])
        room = self.lm.max_length // 2
        return Span(start, end, length=max(1, min(room, math.ceil(n * slack) + 8)), strength=strength)

    def rewrite_spans(self, text: str, start: int, end: int, strength: float = 1.0) -> list[Span]:
        """The spans that rewrite ``text[start:end]``: its line pieces (``diffill.rewrite``), filled jointly."""
        pieces = line_pieces(text, start, end, self.count_tokens, self.span_cap)
        return [self.rewrite_span(text, a, b, strength) for a, b in pieces]

    def fill(
        self,
        text: str,
        spans: list[Span],
        options: FillOptions | None = None,
        seed: int = 0,
        should_stop: Callable[[], bool] | None = None,
        on_step: Callable[[StepInfo], None] | None = None,
        context: str = "",
    ) -> FillResult:
        """Fill every span of one text; spans in one window are denoised jointly; ``context`` is repository
        context for the window (``diffill.retrieval``).

        With a syntax check, a fill that leaves the file unparseable (though it parsed with its holes empty)
        is drawn again: ``retries`` samples in one batch, the first that parses wins (rejection sampling).
        """
        options = options or FillOptions()
        result = self.fill_batch([FillRequest(text, spans, context)], options, seed, should_stop, on_step)[0]
        check = options.syntax_check
        if check is None or options.retries < 1 or result.stopped or check(result.text, 0, len(result.text)):
            return result
        sampled = replace(options, denoise=replace(options.denoise, temperature=RETRY_TEMPERATURE))
        for candidate in self.candidates(text, spans, options.retries, sampled, seed + 1, should_stop, context):
            if not candidate.stopped and check(candidate.text, 0, len(candidate.text)):
                return candidate
        return result

    def candidates(
        self,
        text: str,
        spans: list[Span],
        n: int,
        options: FillOptions | None = None,
        seed: int = 0,
        should_stop: Callable[[], bool] | None = None,
        context: str = "",
    ) -> list[FillResult]:
        """``n`` samples of the same fill in one batched run (use a temperature above 0 to vary them)."""
        return self.fill_batch([FillRequest(text, spans, context)] * n, options, seed, should_stop)

    def fill_batch(
        self,
        requests: list[FillRequest],
        options: FillOptions | None = None,
        seed: int = 0,
        should_stop: Callable[[], bool] | None = None,
        on_step: Callable[[StepInfo], None] | None = None,
    ) -> list[FillResult]:
        """Fill several texts in one batch; a text whose spans need several windows takes several rounds."""
        options = options or FillOptions()
        states = [_State(r.text, self._ordered(r), r.context) for r in requests]
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
                token_spans=[s.token_spans.get(i, []) for i in range(len(r.spans))],
                starts=[sp.start - s.widened.get(i, 0) for i, sp in enumerate(r.spans)],
                end_probabilities=[s.end_probabilities.get(i, []) for i in range(len(r.spans))],
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

    def layout(
        self, text: str, spans: list[Span], options: FillOptions | None = None, seed: int = 0, context: str = ""
    ) -> Layout:
        """The first sequence a fill of ``spans`` denoises: its ids (masks in place) and where each span sits."""
        ordered = [sp for _, sp in self._ordered(FillRequest(text, spans))]
        return self._layout(text, ordered, options or FillOptions(), torch.Generator().manual_seed(seed), context)

    def _layout(
        self, text: str, spans: list[Span], options: FillOptions, generator: torch.Generator, context: str = ""
    ) -> Layout:
        window = min(self.lm.max_length, options.window or self.lm.max_length)
        lengths = [self._length(text, sp, options) for sp in spans]
        return build_layout(
            self.lm.tokenizer, text, spans, lengths, self.vocab, window, generator, context, options.context_tokens
        )

    def _round(
        self,
        states: list[_State],
        options: FillOptions,
        layout_gen: torch.Generator,
        gen: torch.Generator,
        should_stop: Callable[[], bool] | None,
        on_step: Callable[[StepInfo], None] | None,
    ) -> bool:
        """Lay out the next windows of each text, denoise them together, write the middles back."""
        rows = [(s, lay) for s in states for lay in self._windows(s, options, layout_gen)]
        states, layouts = [s for s, _ in rows], [lay for _, lay in rows]
        width = bucket_width(max(len(lay.ids) for lay in layouts), self.lm.buckets)
        x = torch.full((len(layouts), width), self.lm.pad_id, dtype=torch.long)  # (B, T)
        attention = torch.zeros_like(x)  # (B, T)
        groups = torch.zeros_like(x)  # (B, T) which span each position belongs to
        for b, lay in enumerate(layouts):
            x[b, : len(lay.ids)] = torch.tensor(lay.ids)
            attention[b, : len(lay.ids)] = 1
            for k, (lo, hi) in enumerate(lay.slices):
                groups[b, lo:hi] = k
        seen_ends: dict[tuple[int, int], list[float]] = {}  # (row, span start) -> the estimate's probabilities
        spans = Spans(groups.to(self.lm.device), self.lm.eom_id, self._ends(layouts, options, seen_ends))
        hooks = Hooks(should_stop, on_step, self._first_lines_done(states, layouts, options))
        logits_fn, device = options.cache.logits_fn(self.lm, self.reuse), self.lm.device
        x, attention = x.to(device), attention.to(device)
        result = denoise(logits_fn, x, self.lm.mask_id, options.denoise, gen, attention, spans, hooks)
        if result.stopped:
            return True
        ids, conf = result.ids.cpu(), result.confidence.cpu()
        filled: dict[int, list[list[tuple[int, float]]]] = {}  # per state, the kept tokens of its next spans
        ends: dict[int, list[list[float]]] = {}  # per state, the length estimate of its next spans
        for b, (s, lay) in enumerate(zip(states, layouts)):
            filled.setdefault(id(s), []).extend(
                [(int(t), float(c)) for t, c in zip(ids[b, lo:hi], conf[b, lo:hi]) if int(t) not in self._drop]
                for lo, hi in lay.slices
            )
            ends.setdefault(id(s), []).extend(seen_ends.get((b, lo), []) for lo, _ in lay.slices)
        for s in {id(s): s for s in states}.values():
            for (index, _), probabilities in zip(s.pending, ends[id(s)]):  # the next pending spans, in order
                s.end_probabilities[index] = probabilities
            self._write_back(s, filled[id(s)], options)
        return False

    def _windows(self, state: _State, options: FillOptions, generator: torch.Generator) -> list[Layout]:
        """The windows of ``state``'s pending spans to denoise in this round: the first, and after it each next
        one whose text holds no span of the windows before it (a later window that does waits for the next
        round, to see those spans filled), up to ``MAX_WINDOWS``."""
        pending = [sp for _, sp in state.pending]
        windows = [self._layout(state.text, pending, options, generator, state.context)]
        taken = len(windows[0].spans)
        while taken < len(pending) and len(windows) < MAX_WINDOWS:
            window = self._layout(state.text, pending[taken:], options, generator, state.context)
            if any(window.covers(sp) for earlier in windows for sp in earlier.spans):
                break
            windows.append(window)
            taken += len(window.spans)
        return windows

    def _ends(
        self, layouts: list[Layout], options: FillOptions, seen: dict[tuple[int, int], list[float]] | None = None
    ) -> EndsFn | None:
        """The length estimate for fully masked spans: each middle ends at the first position, after its
        first, whose end-of-middle probability reaches ``end_probability``. ``seen`` gets each span's
        probabilities, keyed by (row, start).
        """
        level, mask_id = options.end_probability, self.lm.mask_id
        spans = [
            (b, lo, hi)
            for b, lay in enumerate(layouts)
            for lo, hi in lay.slices
            if hi - lo > 1 and all(t == mask_id for t in lay.ids[lo:hi])
        ]
        if level is None or not spans:
            return None

        def ends(p_late: torch.Tensor) -> torch.Tensor:
            if seen is not None:
                p = p_late.float().cpu()
                seen.update({(b, lo): p[b, lo:hi].tolist() for b, lo, hi in spans})
            return end_positions(p_late, spans, level)

        return ends

    def _first_lines_done(
        self, states: list[_State], layouts: list[Layout], options: FillOptions
    ) -> Callable[[torch.Tensor], bool] | None:
        """A ``finished`` test for fills that keep only a first line (single-line mode, holes inside a line):
        done once every span's leading committed run holds the line's end, which no later step changes
        (nothing is re-masked). None when some span keeps more than a line.
        """
        spans = [
            (b, lo, hi, is_line_hole(s.text, sp))
            for b, (s, lay) in enumerate(zip(states, layouts))
            for (lo, hi), sp in zip(lay.slices, lay.spans)
        ]
        if options.denoise.remask > 0 or not all(options.single_line or not line for *_, line in spans):
            return None
        mask_id, drop, decode = self.lm.mask_id, self._drop, self.lm.tokenizer.decode

        def finished(x_t: torch.Tensor) -> bool:
            rows = x_t.cpu()
            for b, lo, hi, line_hole in spans:
                run = rows[b, lo:hi].tolist()
                if mask_id not in run:
                    continue
                text = decode([t for t in run[: run.index(mask_id)] if t not in drop])
                if "\n" not in (text.lstrip("\n") if line_hole else text):  # as ``finish`` cuts the first line
                    return False
            return True

        return finished

    def _write_back(self, state: _State, filled: list[list[tuple[int, float]]], options: FillOptions) -> None:
        """Decode the tokens (with their confidence) of each next pending span, replace it in the text, shift
        the spans still pending."""
        done = state.pending[: len(filled)]
        state.pending = state.pending[len(filled) :]
        delta = 0
        pieces: list[str] = []
        cursor = 0
        for (index, span), kept in zip(done, filled):
            raw = self.lm.tokenizer.decode([t for t, _ in kept])
            line_hole = is_line_hole(state.text, span)
            text = finish(raw, line_hole=line_hole, single_line=options.single_line, suffix=state.text[span.end :])
            if options.syntax_check is not None:
                before = "".join(pieces) + state.text[cursor : span.start]
                text = fit_syntax(text, line_hole, before, state.text[span.end :], options.syntax_check)
            state.completions[index] = text
            state.confidence[index] = sum(c for _, c in kept) / len(kept) if kept else 0.0
            ids, conf = [t for t, _ in kept], [c for _, c in kept]
            state.token_spans[index] = token_spans(piece_offsets(ids, self.lm.tokenizer.decode), conf, raw, text)
            start = span.start
            if not text and line_hole:  # nothing to write: leave an empty line, not its indentation alone
                start = state.text.rfind("\n", 0, span.start) + 1
                state.widened[index] = span.start - start
            pieces += [state.text[cursor:start], text]
            cursor = span.end
            delta += len(text) - (span.end - start)
        state.text = "".join(pieces) + state.text[cursor:]
        state.pending = [(i, sp.shifted(delta)) for i, sp in state.pending]
