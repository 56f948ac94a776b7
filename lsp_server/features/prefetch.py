"""``diffill/prefetch``: fill ahead where the cursor came to rest, before the user types there.

The first ghost text at a new place pays a full pass over its window; the ones after it, while the user
types, start from the states the previous request left and re-encode only what changed
(``lsp_server/reuse.py``). The clients send this notification when the cursor rests after a move that was
not an edit (a click, arrow keys, a jump), as llama.vim warms its server's cache while the user is idle.
The server plans the span an inline request there would fill and runs that fill on the model thread, on a
background ticket: any other request cancels it, so it never delays real work by more than the step it is
in. What it leaves serves the first request there twice over: the suggestion is remembered
(``lsp_server/suggestions.py``), so a request at that place, or after typing its first characters, is
answered at once; and a request after any other keystroke starts from its context states
(``jobs.prefetch``). A suggestion the confidence gate would not show automatically is not remembered. A
cursor resting on a word (Normal mode) has nothing to complete; the end of its line is filled instead,
where appending or opening a line below types next.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING

from diffill.errors import DiffillError
from lsp_server import gate
from lsp_server.edits import LineIndex
from lsp_server.features.inline import ghosts, plan_at, state_of
from lsp_server.protocol import PREFETCH, PrefetchParams
from lsp_server.timing import RequestTimer

if TYPE_CHECKING:
    from lsp_server.server import DiffillServer

log = logging.getLogger(__name__)


def register(server: DiffillServer) -> None:
    @server.feature(PREFETCH)
    async def on_prefetch(params: PrefetchParams) -> None:
        await prefetch(server, params)


async def prefetch(server: DiffillServer, params: PrefetchParams) -> None:
    """Fill the ghost text at ``params.position`` and remember it; nothing is sent back."""
    from lsp_server.jobs import ghost as jobs  # imports torch: only once the model is loaded

    timer = RequestTimer("prefetch", None)
    settings = server.settings
    uri = params.text_document.uri
    doc = server.document(uri)
    if not settings.prefetch or doc is None or not settings.enabled_for(doc.language_id) or not server.worker.ready:
        return
    text = doc.source
    offset = LineIndex.of(doc).offset(params.position)
    todo, reason = plan_at(text, offset, doc.language_id, settings)
    if todo is None and offset is not None:  # a cursor on a word (Normal mode): warm the end of its line,
        end = text.find("\n", offset)  # where appending or opening a line below types next
        todo, reason = plan_at(text, len(text) if end < 0 else end, doc.language_id, settings)
    if todo is None:
        log.debug("prefetch: nothing to complete (%s)", reason)
        return
    ticket = server.worker.ticket(("prefetch",), timer.name, background=True)
    job = partial(
        jobs.prefetch,
        text=todo.text,
        span=todo.span,
        single_line=todo.single_line,
        settings=settings,
        context=server.repository_context(uri),
    )
    try:
        middles = await server.worker.run(ticket, job)
    except DiffillError as exc:
        timer.done("failed", error=exc)
        return
    except Exception:  # a fault here must never reach the user: it only warms a cache
        log.exception("%s failed", timer.name)
        return
    timer.add("wait", ticket.wait_s)
    timer.add("denoise", ticket.run_s)
    if middles is None:
        timer.done("stopped", mode=todo.mode.value, steps=ticket.steps, warm=ticket.warm)
        return
    found = ghosts(todo, middles, text)
    score = found[0].score if found else 0.0
    keep = bool(found) and gate.shown(score, settings.min_confidence, invoked=False)
    if keep:
        server.suggestions.add(uri, text, todo.start, todo.end, [g.text for g in found])
        state_of(server).shown[uri] = found
    timer.done("ok", mode=todo.mode.value, steps=ticket.steps, warm=ticket.warm, gate=f"{score:.3f}", kept=keep)
