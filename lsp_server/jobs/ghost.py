"""Ghost-text jobs: middles for a cursor span (greedy or sampled), and the prefetch that fills ahead.

A middle comes back with what the confidence gate and the uncertain marks read (``lsp_server/gate.py``):
where each of its tokens landed in its text and how sure the model was of it, and the length estimate's
end-of-middle probabilities along the span.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from diffill.confidence import TokenSpan
from diffill.holes import Span
from diffill.infill import FillResult, Infiller
from lsp_server.jobs.options import ContextFn, context_for, fill_options
from lsp_server.settings import Settings
from lsp_server.worker import Ticket


@dataclass(frozen=True)
class Middle:
    """One fill of the span: the engine's text for it, its tokens' ranges in that text with their confidence,
    and the first step's end-of-middle probability at each position of the span (empty: no estimate)."""

    text: str
    token_spans: list[TokenSpan] = field(default_factory=list)
    end_probabilities: list[float] = field(default_factory=list)


def _middle(result: FillResult) -> Middle:
    spans = result.token_spans[0] if result.token_spans else []
    ends = result.end_probabilities[0] if result.end_probabilities else []
    return Middle(result.completions[0], spans, ends)


def complete(
    infiller: Infiller,
    ticket: Ticket,
    text: str,
    span: Span,
    single_line: bool,
    settings: Settings,
    n: int,
    seed: int,
    context: ContextFn | None = None,
) -> list[Middle] | None:
    """Middles for one cursor span: one greedy (``n`` = 1) or ``n`` samples in one batched run.

    Fills start from the context states the previous one left (``lsp_server/reuse.py``): while the user
    types, a request re-encodes only what changed near the cursor, and samples for cycling start from the
    greedy fill's states.
    """
    cap = infiller.span_cap
    span = Span(span.start, span.end, length=min(span.length or cap, cap))
    hits = infiller.reuse.hits
    ctx = context_for(context, infiller, text, span.start)
    if n <= 1:
        options = fill_options(settings, 0.0, single_line, cap, reuse=True)
        results = [infiller.fill(text, [span], options, seed=seed, should_stop=ticket.should_stop, context=ctx)]
    else:
        options = fill_options(settings, settings.temperature, single_line, cap, reuse=True)
        results = infiller.candidates(text, [span], n, options, seed, ticket.should_stop, ctx)
    ticket.warm = infiller.reuse.hits > hits
    if any(r.stopped for r in results):
        return None
    return [_middle(r) for r in results]


def prefetch(
    infiller: Infiller,
    ticket: Ticket,
    text: str,
    span: Span,
    single_line: bool,
    settings: Settings,
    context: ContextFn | None = None,
) -> list[Middle] | None:
    """The greedy middle of this span, as a request here would get it (for the suggestion cache); then, when
    the span's budget is not that of the rest of a line, the first step of a fill with that budget, for its
    context states only. The request after a keystroke here has that budget, and an equal number of masks
    keeps the window's cut the same, so its states line up with these (a much longer budget moves the window's
    start by more tokens than a warm request re-encodes). None when stopped."""
    middles = complete(infiller, ticket, text, span, single_line, settings, n=1, seed=0, context=context)
    inline = min(settings.inline_length, infiller.span_cap)
    if middles is None or span.length == inline:
        return middles
    steps = ticket.steps

    def first_step_only() -> bool:
        return ticket.steps > steps or ticket.should_stop()

    keystroke = Span(span.start, span.end, length=inline)
    infiller.fill(
        text,
        [keystroke],
        fill_options(settings, 0.0, single_line, infiller.span_cap, reuse=True),
        should_stop=first_step_only,
        context=context_for(context, infiller, text, span.start),
    )
    return middles
