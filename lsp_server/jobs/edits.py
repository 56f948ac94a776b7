"""Fill and rewrite jobs: every hole of a text, or a region, as replacements that know their tokens' confidence.

A job returns ``Edited`` (None when its ticket stopped it): the replacements to write, each with its tokens'
(start, end, confidence) in its new text (``lsp_server.marks``), and each span the model filled with its final
text (the preview's last word). With a ``PreviewSink`` the job also reports each span's text while it
denoises (``lsp_server.jobs.preview`` finds the spans in the step's tokens).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from diffill.denoise import StepInfo
from diffill.holes import Span, find_holes
from diffill.infill import FillOptions, FillResult, Infiller
from diffill.postprocess import RegionCheck
from lsp_server.jobs.options import ContextFn, context_for, fill_options
from lsp_server.jobs.preview import SpanTracker
from lsp_server.marks import Replacement
from lsp_server.preview import SpanText
from lsp_server.settings import Settings
from lsp_server.worker import Ticket

OnStep = Callable[[StepInfo], None]


class PreviewSink(Protocol):
    """Where a job's preview goes (``lsp_server.preview.Preview``)."""

    def due(self, info: StepInfo) -> bool: ...

    def send(self, spans: list[SpanText]) -> None: ...


@dataclass(frozen=True)
class Edited:
    """What a fill or rewrite writes, and what each of its spans became."""

    replacements: list[Replacement]
    pieces: list[SpanText]  # each filled span of the request's text, with its final text


def fill_holes(
    infiller: Infiller,
    ticket: Ticket,
    text: str,
    settings: Settings,
    seed: int,
    on_step: OnStep | None,
    check: RegionCheck | None = None,
    preview: PreviewSink | None = None,
    context: ContextFn | None = None,
) -> Edited | None:
    """Every hole of ``text`` filled jointly, one replacement each. The samples a syntax check draws when the
    greedy fill does not parse start from the greedy fill's context states."""
    spans = find_holes(text, settings.hole_marker)
    if not spans:
        return Edited([], [])
    options = fill_options(settings, cap=infiller.span_cap, check=check, reuse=True)
    ctx = context_for(context, infiller, text, spans[0].start)
    result = _fill(infiller, ticket, text, spans, options, seed, on_step, preview, ctx)
    if result.stopped:
        return None
    replacements = [
        Replacement(a, s.end, c, tuple(t))
        for s, a, c, t in zip(spans, result.starts, result.completions, result.token_spans)
    ]
    return Edited(replacements, [(r.start, r.end, r.new) for r in replacements])


def rewrite(
    infiller: Infiller,
    ticket: Ticket,
    text: str,
    start: int,
    end: int,
    strength: float,
    settings: Settings,
    seed: int,
    on_step: OnStep | None,
    preview: PreviewSink | None = None,
    context: ContextFn | None = None,
) -> Edited | None:
    """``text[start:end]`` regenerated (strength 1) or partly re-masked and denoised (below 1), as one replacement.

    The selection is cut into line pieces (``Infiller.rewrite_spans``) that are filled jointly, so a long
    selection is rewritten whole, in several windows if need be, and a partial line stays one line. The
    replacement's tokens are the pieces' tokens, moved to where each piece landed in the new region.
    """
    spans = infiller.rewrite_spans(text, start, end, strength)
    options = fill_options(settings, cap=infiller.span_cap)
    ctx = context_for(context, infiller, text, start)
    result = _fill(infiller, ticket, text, spans, options, seed, on_step, preview, ctx)
    if result.stopped:
        return None
    new = result.text[start : len(result.text) - (len(text) - end)]
    tokens = _region_tokens(start, spans, result)
    pieces = [(s.start, s.end, c) for s, c in zip(spans, result.completions)]
    return Edited([Replacement(start, end, new, tokens)], pieces)


def _fill(
    infiller: Infiller,
    ticket: Ticket,
    text: str,
    spans: list[Span],
    options: FillOptions,
    seed: int,
    on_step: OnStep | None,
    preview: PreviewSink | None,
    context: str = "",
) -> FillResult:
    tracker = SpanTracker(infiller, text, spans, options) if preview is not None else None
    hook = _step_hook(on_step, tracker, preview)
    return infiller.fill(text, spans, options, seed, ticket.should_stop, hook, context)


def _step_hook(on_step: OnStep | None, tracker: SpanTracker | None, preview: PreviewSink | None) -> OnStep | None:
    """``on_step`` (progress), then the preview when one is due."""
    if tracker is None or preview is None:
        return on_step

    def step(info: StepInfo) -> None:
        if on_step is not None:
            on_step(info)
        tracker.observe(info)
        if preview.due(info):
            spans = tracker.texts()
            if spans:
                preview.send(spans)

    return step


def _region_tokens(start: int, spans: list[Span], result: FillResult) -> tuple[tuple[int, int, float], ...]:
    """Each piece's tokens as offsets of the rewritten region (pieces in text order, each shifted by the length
    changes of the pieces before it)."""
    out: list[tuple[int, int, float]] = []
    shift = 0
    for span, completion, tokens in sorted(
        zip(spans, result.completions, result.token_spans), key=lambda p: p[0].start
    ):
        at = span.start - start + shift
        out += [(at + a, at + b, conf) for a, b, conf in tokens]
        shift += len(completion) - (span.end - span.start)
    return tuple(out)
