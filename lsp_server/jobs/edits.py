"""Fill and rewrite jobs: every hole of a text, or a region, as (start, end, new text) replacements."""

from __future__ import annotations

from collections.abc import Callable

from diffill.denoise import StepInfo
from diffill.holes import Span, find_holes
from diffill.infill import FillResult, Infiller
from diffill.postprocess import RegionCheck
from lsp_server.jobs.options import fill_options
from lsp_server.settings import Settings
from lsp_server.worker import Ticket

OnStep = Callable[[StepInfo], None]


def fill_holes(
    infiller: Infiller, ticket: Ticket, text: str, settings: Settings, seed: int, on_step: OnStep | None,
    check: RegionCheck | None = None,
) -> list[tuple[int, int, str]] | None:
    """Every hole of ``text`` filled jointly, as (start, end, new text) replacements. The samples a syntax
    check draws when the greedy fill does not parse start from the greedy fill's context states."""
    spans = find_holes(text, settings.hole_marker)
    if not spans:
        return []
    options = fill_options(settings, cap=infiller.span_cap, check=check, reuse=True)
    result = infiller.fill(text, spans, options, seed, ticket.should_stop, on_step)
    return _replacements(spans, result)


def rewrite(
    infiller: Infiller, ticket: Ticket, text: str, start: int, end: int, strength: float, settings: Settings,
    seed: int, on_step: OnStep | None,
) -> list[tuple[int, int, str]] | None:
    """``text[start:end]`` regenerated (strength 1) or partly re-masked and denoised (below 1), as one replacement.

    The selection is cut into line pieces (``Infiller.rewrite_spans``) that are filled jointly, so a long
    selection is rewritten whole, in several windows if need be, and a partial line stays one line.
    """
    spans = infiller.rewrite_spans(text, start, end, strength)
    options = fill_options(settings, cap=infiller.span_cap)
    result = infiller.fill(text, spans, options, seed, ticket.should_stop, on_step)
    if result.stopped:
        return None
    return [(start, end, result.text[start : len(result.text) - (len(text) - end)])]


def _replacements(spans: list[Span], result: FillResult) -> list[tuple[int, int, str]] | None:
    if result.stopped:
        return None
    return [(s.start, s.end, c) for s, c in zip(spans, result.completions)]
