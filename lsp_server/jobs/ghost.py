"""Ghost-text jobs: middles for a cursor span (greedy or sampled), and the prefetch that fills ahead."""

from __future__ import annotations

from diffill.holes import Span
from diffill.infill import Infiller
from lsp_server.jobs.options import fill_options
from lsp_server.settings import Settings
from lsp_server.worker import Ticket


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
        options = fill_options(settings, 0.0, single_line, cap, reuse=True)
        results = [infiller.fill(text, [span], options, seed=seed, should_stop=ticket.should_stop)]
    else:
        options = fill_options(settings, settings.temperature, single_line, cap, reuse=True)
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
    infiller.fill(text, [keystroke], fill_options(settings, 0.0, single_line, infiller.span_cap, reuse=True),
                  should_stop=first_step_only)
    return middles
