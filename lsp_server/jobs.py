"""The work the model thread does for the server: engine calls built from the server's settings.

Each job takes the ``Infiller`` and the ``Ticket`` first (the worker passes them) and returns plain text
results, or None when the ticket stopped it. This module imports the engine (and so torch): the handlers
import it only once the model is loaded, so the server answers ``initialize`` before torch is imported.
"""

from __future__ import annotations

from collections.abc import Callable

from diffill.context_cache import CacheConfig
from diffill.denoise import DenoiseConfig, StepInfo
from diffill.holes import Span, find_holes
from diffill.infill import FillOptions, FillResult, Infiller
from diffill.postprocess import RegionCheck
from lsp_server.settings import Settings
from lsp_server.worker import Ticket

OnStep = Callable[[StepInfo], None]


def _options(
    settings: Settings, temperature: float = 0.0, single_line: bool = False, cap: int = 512,
    check: RegionCheck | None = None, reuse: bool = False,
) -> FillOptions:
    return FillOptions(
        syntax_check=check,
        denoise=DenoiseConfig(steps=settings.steps, temperature=temperature),
        line_length=min(settings.line_length, cap),
        inline_length=min(settings.inline_length, cap),
        single_line=single_line,
        end_probability=settings.end_probability or None,
        cache=CacheConfig(reuse=reuse),
    )


def complete(
    infiller: Infiller, ticket: Ticket, text: str, span: Span, single_line: bool, settings: Settings,
    n: int, seed: int,
) -> list[str] | None:
    """Middles for one cursor span: one greedy (``n`` = 1) or ``n`` samples in one batched run.

    Fills start from the context states the previous one left (``lsp_server/reuse.py``): while the user
    types, a request re-encodes only what changed near the cursor, and samples for cycling start from the
    greedy fill's states.
    """
    cap = infiller.span_cap
    span = Span(span.start, span.end, length=min(span.length or cap, cap))
    hits = infiller.reuse.hits
    if n <= 1:
        options = _options(settings, 0.0, single_line, cap, reuse=True)
        results = [infiller.fill(text, [span], options, seed=seed, should_stop=ticket.should_stop)]
    else:
        options = _options(settings, settings.temperature, single_line, cap, reuse=True)
        results = infiller.candidates(text, [span], n, options, seed=seed, should_stop=ticket.should_stop)
    ticket.warm = infiller.reuse.hits > hits
    if any(r.stopped for r in results):
        return None
    return [r.completions[0] for r in results]


def prefetch(
    infiller: Infiller, ticket: Ticket, text: str, span: Span, single_line: bool, settings: Settings
) -> list[str] | None:
    """The greedy middle of this span, as a request here would get it (for the suggestion cache); then, when
    the span's budget is not that of the rest of a line, the first step of a fill with that budget, for its
    context states only. The request after a keystroke here has that budget, and an equal number of masks
    keeps the window's cut the same, so its states line up with these (a 96-token block's window starts 80
    tokens later, too many to re-encode warm). None when stopped."""
    middles = complete(infiller, ticket, text, span, single_line, settings, n=1, seed=0)
    inline = min(settings.inline_length, infiller.span_cap)
    if middles is None or span.length == inline:
        return middles
    steps = ticket.steps

    def first_step_only() -> bool:
        return ticket.steps > steps or ticket.should_stop()

    keystroke = Span(span.start, span.end, length=inline)
    infiller.fill(text, [keystroke], _options(settings, 0.0, single_line, infiller.span_cap, reuse=True),
                  should_stop=first_step_only)
    return middles


def fill_holes(
    infiller: Infiller, ticket: Ticket, text: str, settings: Settings, seed: int, on_step: OnStep | None,
    check: RegionCheck | None = None,
) -> list[tuple[int, int, str]] | None:
    """Every hole of ``text`` filled jointly, as (start, end, new text) replacements. The samples a syntax
    check draws when the greedy fill does not parse start from the greedy fill's context states."""
    spans = find_holes(text, settings.hole_marker)
    if not spans:
        return []
    options = _options(settings, cap=infiller.span_cap, check=check, reuse=True)
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
    result = infiller.fill(text, spans, _options(settings, cap=infiller.span_cap), seed, ticket.should_stop, on_step)
    if result.stopped:
        return None
    return [(start, end, result.text[start : len(result.text) - (len(text) - end)])]


def _replacements(spans: list[Span], result: FillResult) -> list[tuple[int, int, str]] | None:
    if result.stopped:
        return None
    return [(s.start, s.end, c) for s, c in zip(spans, result.completions)]
