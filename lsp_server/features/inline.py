"""``textDocument/inlineCompletion``: ghost text at the cursor, the whole document as context.

The pipeline is named by its steps: should-complete (tree-sitter decides nothing / line / block) -> plan
the span -> the rest of a suggestion the user is typing through (``lsp_server/suggestions.py``), or
generate on the model thread (newest request per document wins) -> post-process. Automatic triggers get one
greedy item; Invoked gets several distinct samples from one batched denoising run.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import TYPE_CHECKING

from lsprotocol import types

from diffill.errors import DiffillError
from lsp_server.completion import Budgets, Plan, continuation, dedupe, insert_text, plan
from lsp_server.edits import LineIndex
from lsp_server.settings import Settings
from lsp_server.should_complete import Policy, should_complete
from lsp_server.timing import RequestTimer
from lsp_server.worker import Ticket

if TYPE_CHECKING:
    from lsp_server.server import DiffillServer

log = logging.getLogger(__name__)


def register(server: DiffillServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(params: types.InlineCompletionParams) -> types.InlineCompletionList:
        return await complete(server, params)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def on_close(params: types.DidCloseTextDocumentParams) -> None:
        server.suggestions.forget(params.text_document.uri)


def _policy(settings: Settings) -> Policy:
    return Policy(
        in_comments=settings.complete_in_comments, in_strings=settings.complete_in_strings,
        block_on_empty_line=settings.multiline_on_empty_line,
    )


def _budgets(settings: Settings) -> Budgets:
    return Budgets(inline=settings.inline_length, line=settings.line_length, block=settings.multiline_length)


def plan_at(text: str, offset: int | None, language_id: str | None, settings: Settings) -> tuple[Plan | None, str]:
    """Should-complete, then the span to fill; None (and why) when there is nothing to complete."""
    if offset is None:
        return None, "position outside the document"
    decision = should_complete(text, offset, language_id, _policy(settings))
    return plan(text, offset, decision, _budgets(settings)), decision.reason


async def complete(server: DiffillServer, params: types.InlineCompletionParams) -> types.InlineCompletionList:
    """The handler's body: always a list, empty when there is nothing worth suggesting."""
    timer = RequestTimer("inline", server.protocol.msg_id)
    empty = types.InlineCompletionList(items=[])
    settings = server.settings
    uri = params.text_document.uri
    doc = server.document(uri)
    if doc is None or not settings.enabled_for(doc.language_id):
        timer.done("skipped", reason="unknown document" if doc is None else f"language {doc.language_id}")
        return empty
    if not server.worker.ready:
        timer.done("skipped", reason=f"model {server.worker.state.value}")
        return empty
    text, version = doc.source, doc.version
    index = LineIndex.of(doc)
    cursor = index.offset(params.position)
    todo, reason = plan_at(text, cursor, doc.language_id, settings)
    timer.lap("parse")
    if todo is None or cursor is None:
        timer.done("nothing", reason=reason)
        return empty
    invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
    if not invoked and (remembered := _remembered(server, uri, text, cursor, todo)):
        server.worker.stop(("inline", uri))  # an older request's answer is no longer wanted
        timer.done("ok", mode=todo.mode.value, invoked=False, items=len(remembered), cached=True)
        return _items(remembered, index.range(todo.start, todo.end))
    ticket = server.worker.ticket(("inline", uri), timer.name)
    if settings.debounce_ms:
        await asyncio.sleep(settings.debounce_ms / 1000)
        timer.lap("debounce")
    try:
        middles = await _generate(server, ticket, todo, settings, invoked, timer)
    except DiffillError as exc:
        timer.done("failed", error=exc)
        return empty
    except asyncio.CancelledError:  # $/cancelRequest: the ticket is cancelled, the model thread stops
        timer.done("cancelled", mode=todo.mode.value, steps=ticket.steps)
        raise
    except Exception:  # a fault in the engine must not turn ghost text into an error popup
        log.exception("%s failed", timer.name)
        return empty
    if middles is None:
        timer.done("stopped", mode=todo.mode.value, steps=ticket.steps)
        return empty
    texts = dedupe([insert_text(todo, m, text) for m in middles])
    server.suggestions.add(uri, text, todo.start, todo.end, texts)  # still right if the user types them
    if server.document(uri) is not doc or doc.version != version:
        timer.done("stopped", mode=todo.mode.value, steps=ticket.steps)
        return empty
    timer.lap("post")
    timer.done(
        "ok", mode=todo.mode.value, invoked=invoked, steps=ticket.steps, items=len(texts), warm=ticket.warm,
        cached=False,
    )
    return _items(texts, index.range(todo.start, todo.end))


def _remembered(server: DiffillServer, uri: str, text: str, cursor: int, todo: Plan) -> list[str]:
    """Insert texts from suggestions the user is typing through (see ``lsp_server/suggestions.py``)."""
    return dedupe([continuation(todo, piece, text, cursor) for piece in server.suggestions.missing(uri, text, cursor)])


def _items(texts: list[str], rng: types.Range) -> types.InlineCompletionList:
    return types.InlineCompletionList(items=[types.InlineCompletionItem(insert_text=t, range=rng) for t in texts])


async def _generate(
    server: DiffillServer, ticket: Ticket, todo: Plan, settings: Settings, invoked: bool, timer: RequestTimer
) -> list[str] | None:
    """Middles from the model thread, or None when stopped (superseded, cancelled)."""
    from lsp_server.jobs import ghost as jobs  # imports torch: only once the model is loaded

    n = settings.candidates if invoked else 1
    seed = next(server.seeds) if invoked else 0
    job = partial(
        jobs.complete, text=todo.text, span=todo.span, single_line=todo.single_line, settings=settings, n=n,
        seed=seed,
    )
    try:
        return await server.worker.run(ticket, job)
    finally:
        timer.add("wait", ticket.wait_s)
        timer.add("denoise", ticket.run_s)
        timer.mark()
