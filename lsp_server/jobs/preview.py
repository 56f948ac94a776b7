"""Where the spans of a running fill sit in the rows the engine denoises, and their text at a step (model thread).

``StepInfo`` carries the rows (``x_t`` (B, T)) and each token's confidence, not where each span lies. The
tracker reads that off the first step of each round: a position is fillable when it is still masked or was
committed with a confidence below 1 (never-masked tokens have exactly 1). Rows are windows in text order and
hold consecutive spans, so the next pending span starts at the next fillable position not yet covered: a
full-strength span is its length budget of tokens from there; a partial one (a light rewrite keeps some of
its tokens) starts where its own tokens fit around its masks. No tokenizing of the document: a round costs a
few tensor operations. A round that does not fit this reading (a token committed with confidence exactly 1
where a span starts) ends the preview; the fill itself is unaffected.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from diffill.denoise import StepInfo
from diffill.holes import Span, is_line_hole
from diffill.infill import FillOptions, Infiller
from lsp_server.preview import SpanText
from lsp_server.protocol import PREVIEW_MASK


@dataclass(frozen=True)
class Placement:
    """Span ``span`` (its index in the tracker's list) is tokens ``lo:hi`` of row ``row``."""

    span: int
    row: int
    lo: int
    hi: int


@dataclass(frozen=True)
class Body:
    """A span's tokens in a row: ``length`` of them; a partial span keeps its own ``kept`` tokens unmasked."""

    length: int
    kept: torch.Tensor | None = None  # (length,) the span's own tokens (partial strength), else None


class SpanTracker:
    """Follows one fill's rounds through its ``on_step`` calls."""

    def __init__(self, infiller: Infiller, text: str, spans: list[Span], options: FillOptions) -> None:
        lm = infiller.lm
        self.spans = list(spans)
        self.mask_id = lm.mask_id
        self.special = frozenset(lm.tokenizer.all_special_ids) | ({lm.eom_id} if lm.eom_id is not None else set())
        self.decode = lm.tokenizer.decode
        self.bodies = [_body(lm.tokenizer, text, s, options) for s in spans]
        self.pending = sorted(range(len(spans)), key=lambda i: spans[i].start)
        self.round: list[Placement] = []
        self.lost = False
        self._x: torch.Tensor | None = None  # (B, T) the rows after the latest step

    def observe(self, info: StepInfo) -> None:
        """Every step; a first step starts a round."""
        if info.step == 1:
            self.round = self._place(info)
        self._x = info.x_t

    def texts(self) -> list[SpanText]:
        """The current round's spans: (start, end) in the request's text and their text now."""
        if self._x is None or not self.round:
            return []
        rows = self._x.cpu()
        return [
            (self.spans[p.span].start, self.spans[p.span].end, self._preview(rows[p.row, p.lo : p.hi].tolist()))
            for p in self.round
        ]

    def _preview(self, ids: list[int]) -> str:
        """Decoded text; a still-masked token is ``PREVIEW_MASK``, end-of-middle and other special tokens drop."""
        pieces: list[str] = []
        run: list[int] = []
        for t in ids:
            if t == self.mask_id:
                if run:
                    pieces.append(self.decode(run))
                    run = []
                pieces.append(PREVIEW_MASK)
            elif t not in self.special:
                run.append(t)
        if run:
            pieces.append(self.decode(run))
        return "".join(pieces)

    def _place(self, info: StepInfo) -> list[Placement]:
        """Where this round's spans lie, or nothing (and no more previews) when the rows do not fit."""
        if self.lost or not self.pending:
            return []
        x = info.x_t.cpu()  # (B, T)
        fillable = x == self.mask_id  # (B, T)
        if info.confidence is not None:
            fillable |= info.confidence.cpu() < 1.0
        queue = list(self.pending)
        placements: list[Placement] = []
        for row in range(x.shape[0]):
            found = self._place_row(x[row], fillable[row], queue, row)
            if found is None:
                self.lost = True
                return []
            placements += found
        self.pending = queue
        return placements

    def _place_row(
        self, ids: torch.Tensor, fillable: torch.Tensor, queue: list[int], row: int
    ) -> list[Placement] | None:
        """The spans of one row, taken from the front of ``queue``; None when they do not fit."""
        out: list[Placement] = []
        cursor = 0
        for p in fillable.nonzero().flatten().tolist():
            if p < cursor:
                continue
            if not queue:
                return None
            span = queue.pop(0)
            lo = _start(self.bodies[span], ids, fillable, p, cursor)
            if lo is None:
                return None
            cursor = lo + self.bodies[span].length
            out.append(Placement(span, row, lo, cursor))
        return out


def _body(tokenizer, text: str, span: Span, options: FillOptions) -> Body:
    """A span's tokens as the engine lays them out (``diffill.window``): masks for its budget, or (partial
    strength) its own tokens with some masked."""
    region = text[span.start : span.end]
    if span.strength < 1 and region:
        kept = tokenizer(region, add_special_tokens=False)["input_ids"]
        return Body(len(kept), torch.tensor(kept))
    if span.length is not None:
        return Body(span.length)
    return Body(options.line_length if is_line_hole(text, span) else options.inline_length)


def _start(body: Body, ids: torch.Tensor, fillable: torch.Tensor, first: int, cursor: int) -> int | None:
    """Where a span whose first fillable position is ``first`` starts in a row, or None when it cannot."""
    n = len(ids)
    if body.kept is None:  # all masks: the span starts there and is fillable to its end
        end = first + body.length
        return first if end <= n and bool(fillable[end - 1]) else None
    for lo in range(max(cursor, first - body.length + 1), first + 1):
        hi = lo + body.length
        if hi <= n and bool((fillable[lo:hi] | (ids[lo:hi] == body.kept)).all()):
            return lo
    return None
