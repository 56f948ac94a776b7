"""``textDocument/inlineCompletion``: ghost text at the cursor, the whole document as context.

The pipeline is named by its steps: should-complete (tree-sitter decides nothing / line / block) -> plan
the span -> the rest of a suggestion the user is typing through (``lsp_server/suggestions.py``), or wait
(the adaptive debounce, ``lsp_server/debounce.py``) and generate on the model thread (newest request per
document wins) -> post-process -> the confidence gate (``lsp_server/gate.py``: automatic ghost text is shown
only when it is sure enough). Automatic triggers get one greedy item; Invoked gets several distinct samples
from one batched denoising run. Each item carries the ``diffill.accepted`` command with its confidence and
its uncertain parts; the server logs acceptances.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.workspace import TextDocument

from diffill.confidence import TokenSpan, uncertain_ranges
from diffill.errors import DiffillError
from diffill.holes import ends_line
from lsp_server import diagnostics, documents, gate
from lsp_server.completion import Budgets, Plan, carry_spans, continuation, dedupe, insert_text, plan
from lsp_server.debounce import Debouncer, DebounceRule, context_score
from lsp_server.edits import LineIndex
from lsp_server.protocol import CMD_ACCEPTED, Accepted
from lsp_server.settings import Settings
from lsp_server.should_complete import Policy, should_complete
from lsp_server.timing import RequestTimer
from lsp_server.worker import Ticket

if TYPE_CHECKING:
    from lsp_server.jobs.ghost import Middle
    from lsp_server.server import DiffillServer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ghost:
    """One suggestion: its insert text and its shown tokens' ranges in it, with their confidence."""

    text: str
    spans: list[TokenSpan] = field(default_factory=list)
    score: float = 1.0  # the gate's statistic

    @property
    def confidence(self) -> float:
        """Mean confidence of its shown tokens (1.0 when none is known)."""
        return sum(c for _, _, c in self.spans) / len(self.spans) if self.spans else 1.0


@dataclass
class GhostState:
    """What ghost text keeps per server: the debounce's observations and the items shown last per document."""

    debouncer: Debouncer = field(default_factory=Debouncer)
    shown: dict[str, list[Ghost]] = field(default_factory=dict)


_STATES: weakref.WeakKeyDictionary[DiffillServer, GhostState] = weakref.WeakKeyDictionary()


def state_of(server: DiffillServer) -> GhostState:
    return _STATES.setdefault(server, GhostState())


def register(server: DiffillServer) -> None:
    documents.install(server)

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(params: types.InlineCompletionParams) -> types.InlineCompletionList:
        return await complete(server, params)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def on_close(params: types.DidCloseTextDocumentParams) -> None:
        server.suggestions.forget(params.text_document.uri)
        diagnostics.clear(server, params.text_document.uri)
        state_of(server).shown.pop(params.text_document.uri, None)
        state_of(server).debouncer.forget(params.text_document.uri)

    @server.command(CMD_ACCEPTED)
    def accepted(*arguments: Any) -> None:
        """The user accepted an inline item: log it (its confidence, how many uncertain parts it had)."""
        for argument in arguments:
            info = argument if isinstance(argument, dict) else {}
            log.info(
                "inline accepted uri=%s confidence=%s uncertain=%s",
                info.get("uri"),
                info.get("confidence"),
                len(info.get("uncertain") or []),
            )


def _policy(settings: Settings) -> Policy:
    return Policy(
        in_comments=settings.complete_in_comments,
        in_strings=settings.complete_in_strings,
        block_on_empty_line=settings.multiline_on_empty_line,
    )


def _budgets(settings: Settings) -> Budgets:
    return Budgets(inline=settings.inline_length, line=settings.line_length, block=settings.multiline_length)


def plan_at(
    text: str, offset: int | None, language_id: str | None, settings: Settings, invoked: bool = False
) -> tuple[Plan | None, str]:
    """Should-complete, then the span to fill; None (and why) when there is nothing to complete."""
    if offset is None:
        return None, "position outside the document"
    decision = should_complete(text, offset, language_id, _policy(settings), invoked)
    return plan(text, offset, decision, _budgets(settings)), decision.reason


def ghosts(todo: Plan, middles: list[Middle], document: str) -> list[Ghost]:
    """The distinct suggestions the middles make, first first, each with its tokens and its gate score."""
    out: list[Ghost] = []
    for middle in middles:
        text = insert_text(todo, middle.text, document)
        if text is None or any(g.text.rstrip() == text.rstrip() for g in out):
            continue
        spans = carry_spans(middle.token_spans, middle.text, text)
        out.append(Ghost(text, spans, gate.score(gate.features(spans, middle.end_probabilities))))
    return out


@dataclass(frozen=True)
class _Request:
    """An inline request that has something to complete: where, in which text, and how it was triggered."""

    uri: str
    doc: TextDocument
    text: str
    version: int | None
    index: LineIndex
    cursor: int
    todo: Plan
    invoked: bool
    timer: RequestTimer


async def complete(server: DiffillServer, params: types.InlineCompletionParams) -> types.InlineCompletionList:
    """The handler's body: always a list, empty when there is nothing worth suggesting."""
    request = _prepare(server, params)
    if request is None:
        return types.InlineCompletionList(items=[])
    todo, uri, settings = request.todo, request.uri, server.settings
    if not request.invoked and (remembered := _remembered(server, uri, request.text, request.cursor, todo)):
        server.worker.stop(("inline", uri))  # an older request's answer is no longer wanted
        request.timer.done("ok", mode=todo.mode.value, invoked=False, items=len(remembered), cached=True)
        return _items(uri, remembered, request.index.range(todo.start, todo.end), settings)
    found = await _generated(server, request)
    return _items(uri, found, request.index.range(todo.start, todo.end), settings)


def _prepare(server: DiffillServer, params: types.InlineCompletionParams) -> _Request | None:
    """Should-complete and the plan at the cursor; None (logged) when there is nothing to do."""
    timer = RequestTimer("inline", server.protocol.msg_id)
    settings, uri = server.settings, params.text_document.uri
    doc = server.document(uri)
    if doc is None or not settings.enabled_for(doc.language_id):
        timer.done("skipped", reason="unknown document" if doc is None else f"language {doc.language_id}")
        return None
    if not server.worker.ready:
        timer.done("skipped", reason=f"model {server.worker.state.value}")
        return None
    invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
    if not invoked:
        state_of(server).debouncer.keystroke(uri)
    text, index = doc.source, LineIndex.of(doc)
    cursor = index.offset(params.position)
    todo, reason = plan_at(text, cursor, doc.language_id, settings, invoked)
    timer.lap("parse")
    if todo is None or cursor is None:
        timer.done("nothing", reason=reason)
        return None
    return _Request(uri, doc, text, doc.version, index, cursor, todo, invoked, timer)


async def _generated(server: DiffillServer, request: _Request) -> list[Ghost]:
    """Wait (the debounce), generate, post-process and gate: the suggestions to show (none when stopped)."""
    settings, state, timer, todo = server.settings, state_of(server), request.timer, request.todo
    mode = todo.mode.value
    ticket = server.worker.ticket(("inline", request.uri), timer.name)
    if not request.invoked and (delay := _debounce(state, settings, request.text, request.cursor)) > 0:
        try:
            await asyncio.sleep(delay)  # a newer request for the document cancels the ticket meanwhile
        except asyncio.CancelledError:  # $/cancelRequest while waiting: nothing ran
            ticket.cancel()
            server.worker.release(ticket)
            timer.done("cancelled", mode=mode, steps=0, ran=False)
            raise
        timer.lap("debounce")
    try:
        middles = await _generate(server, ticket, todo, settings, request.invoked, timer, request.uri)
    except DiffillError as exc:
        timer.done("failed", error=exc)
        return []
    except asyncio.CancelledError:  # $/cancelRequest: the ticket is cancelled, the model thread stops
        timer.done("cancelled", mode=mode, steps=ticket.steps)
        raise
    except Exception:  # a fault in the engine must not turn ghost text into an error popup
        log.exception("%s failed", timer.name)
        return []
    if middles is None:
        timer.done("stopped", mode=mode, steps=ticket.steps, ran=ticket.run_s > 0)
        return []
    state.debouncer.generated(ticket.run_s)
    found = ghosts(todo, middles, request.text)
    score = f"{found[0].score if found else 0.0:.3f}"
    if found and not gate.shown(found[0].score, settings.min_confidence, request.invoked):
        timer.done("gated", mode=mode, invoked=False, steps=ticket.steps, gate=score, shown=False)
        return []
    server.suggestions.add(request.uri, request.text, todo.start, todo.end, [g.text for g in found])
    state.shown[request.uri] = found
    if server.document(request.uri) is not request.doc or request.doc.version != request.version:
        timer.done("stopped", mode=mode, steps=ticket.steps, ran=True)
        return []
    timer.lap("post")
    timer.done(
        "ok",
        mode=mode,
        invoked=request.invoked,
        steps=ticket.steps,
        items=len(found),
        warm=ticket.warm,
        cached=False,
        gate=score,
        shown=bool(found),
    )
    return found


def _debounce(state: GhostState, settings: Settings, text: str, cursor: int) -> float:
    """Seconds to wait before generating an automatic request (see ``lsp_server/debounce.py``)."""
    if not settings.adaptive_debounce:
        return settings.debounce_ms / 1000
    rule = DebounceRule(min_s=settings.debounce_ms / 1000, max_s=settings.debounce_max_ms / 1000)
    if state.debouncer.rule != rule:
        state.debouncer.rule = rule
    return state.debouncer.delay(context_score(text[cursor - 1 : cursor], ends_line(text, cursor)))


def _remembered(server: DiffillServer, uri: str, text: str, cursor: int, todo: Plan) -> list[Ghost]:
    """Suggestions the user is typing through (see ``lsp_server/suggestions.py``), with the confidence of the
    items they came from where those are known."""
    pieces = server.suggestions.missing(uri, text, cursor)
    texts = dedupe([continuation(todo, piece, text, cursor) for piece in pieces])
    shown = state_of(server).shown.get(uri, [])
    return [_carried(t, text[todo.start : cursor], shown) for t in texts]


def _carried(text: str, typed: str, shown: list[Ghost]) -> Ghost:
    """``text`` (what was typed of the range, then the rest of a shown item) with that item's token ranges."""
    for ghost in shown:
        rest = text[len(typed) :]
        if rest and ghost.text.endswith(rest):
            shift = len(text) - len(ghost.text)
            cut = len(ghost.text) - len(rest)
            spans = [(a + shift, b + shift, c) for a, b, c in ghost.spans if a >= cut]
            return Ghost(text, spans, ghost.score)
    return Ghost(text)


def _items(uri: str, found: list[Ghost], rng: types.Range, settings: Settings) -> types.InlineCompletionList:
    return types.InlineCompletionList(
        items=[
            types.InlineCompletionItem(insert_text=g.text, range=rng, command=_accepted(uri, g, settings))
            for g in found
        ]
    )


def _accepted(uri: str, ghost: Ghost, settings: Settings) -> types.Command:
    """The item's ``diffill.accepted`` command: its confidence and its uncertain parts (code point offsets of
    its insert text, tokens below ``uncertainBelow``)."""
    below = settings.uncertain_below
    uncertain = [(a, b) for a, b, _ in uncertain_ranges(ghost.spans, below, ghost.text)] if below > 0 else []
    argument = Accepted(uri=uri, confidence=round(ghost.confidence, 4), uncertain=uncertain)
    return types.Command(title="", command=CMD_ACCEPTED, arguments=[argument])


async def _generate(
    server: DiffillServer,
    ticket: Ticket,
    todo: Plan,
    settings: Settings,
    invoked: bool,
    timer: RequestTimer,
    uri: str,
) -> list[Middle] | None:
    """Middles from the model thread, or None when stopped (superseded, cancelled)."""
    from lsp_server.jobs import ghost as jobs  # imports torch: only once the model is loaded

    n = settings.candidates if invoked else 1
    seed = next(server.seeds) if invoked else 0
    job = partial(
        jobs.complete,
        text=todo.text,
        span=todo.span,
        single_line=todo.single_line,
        settings=settings,
        n=n,
        seed=seed,
        context=server.repository_context(uri),
    )
    try:
        return await server.worker.run(ticket, job)
    finally:
        timer.add("wait", ticket.wait_s)
        timer.add("denoise", ticket.run_s)
        timer.mark()
