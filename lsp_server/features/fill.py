"""Hole filling and region rewrites as edits, and the ``diffill/fill`` request that returns them unapplied.

``compute_edits`` is shared with the code actions and the commands: it fills every hole of a document
(no range) or rewrites a range, on the model thread, with work-done progress and a live preview
(``diffill/preview``), and returns TextEdits against the document version it read together with the marks of
the uncertain tokens in the edited document (``lsp_server.marks``). A document that does not parse gets a
word first (``lsp_server.diagnostics``). The newest fill or rewrite of a document wins over older ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.workspace import TextDocument

from diffill.errors import DiffillError
from diffill.holes import Span, find_holes
from diffill.syntax import check_for
from lsp_server import diagnostics
from lsp_server.edits import LineIndex, span_edits
from lsp_server.marks import edited_text, marks_after
from lsp_server.preview import Preview
from lsp_server.protocol import FILL, FillParams, FillResult, Mark
from lsp_server.timing import RequestTimer
from lsp_server.work_done import WorkDone

if TYPE_CHECKING:
    from lsp_server.jobs.edits import Edited
    from lsp_server.server import DiffillServer
    from lsp_server.worker import Ticket

REQUEST_FAILED = -32803  # LSP ErrorCodes.RequestFailed


@dataclass
class EditOutcome:
    """Edits for ``uri`` at ``version``; ``cancelled`` when the generation was stopped before it finished.
    ``marks`` lie in the document as the edits leave it: ``edited`` (None when there are no edits)."""

    uri: str
    version: int | None = None
    edits: list[types.TextEdit] = field(default_factory=list)
    cancelled: bool = False
    marks: list[Mark] = field(default_factory=list)
    edited: str | None = None


@dataclass(frozen=True)
class _Plan:
    """One fill or rewrite of a document, ready to run on the model thread."""

    job: Callable[..., Edited | None]
    holes: list[Span]
    title: str


def register(server: DiffillServer) -> None:
    @server.feature(FILL)
    async def fill(params: FillParams) -> FillResult:
        if not 0 < params.strength <= 1:
            raise JsonRpcInvalidParams(f"strength must be in (0, 1], got {params.strength}")
        try:
            out = await compute_edits(
                server, params.text_document.uri, params.range, params.strength, params.work_done_token, "fill"
            )
        except DiffillError as exc:
            raise JsonRpcException(str(exc), code=REQUEST_FAILED) from exc
        return FillResult(uri=out.uri, version=out.version, edits=out.edits, cancelled=out.cancelled, marks=out.marks)


def _title(text: str, holes: int, start: int, end: int, rewrite: bool) -> str:
    if not rewrite:
        return f"diffill: filling {holes} hole{'s' if holes != 1 else ''}"
    lines = text.count("\n", start, end) + 1
    return f"diffill: rewriting {lines} line{'s' if lines != 1 else ''}"


def _plan(
    server: DiffillServer, doc: TextDocument, text: str, index: LineIndex, rng: types.Range | None, strength: float
) -> _Plan | None:
    """The job for the holes of ``text`` (``rng`` None) or for ``rng``; None when there is nothing to do."""
    from lsp_server.jobs import edits as jobs  # imports torch: only once the model is loaded

    settings = server.settings
    holes = find_holes(text, settings.hole_marker)
    if rng is None:
        if not holes:
            return None
        check = check_for(doc.language_id)  # fills are cut to their longest piece that parses
        context = server.repository_context(doc.uri)
        job = partial(jobs.fill_holes, text=text, settings=settings, seed=0, check=check, context=context)
        return _Plan(job, holes, _title(text, len(holes), 0, 0, rewrite=False))
    start, end = index.offset(rng.start), index.offset(rng.end)
    if start is None or end is None or end <= start:
        return None
    job = partial(
        jobs.rewrite,
        text=text,
        start=start,
        end=end,
        strength=strength,
        settings=settings,
        seed=0,
        context=server.repository_context(doc.uri),
    )
    return _Plan(job, holes, _title(text, 0, start, end, rewrite=True))


async def compute_edits(
    server: DiffillServer,
    uri: str,
    rng: types.Range | None,
    strength: float,
    token: types.ProgressToken | None,
    kind: str,
) -> EditOutcome:
    """Fill the holes of ``uri`` (``rng`` None) or rewrite ``rng``; empty when there is nothing to do."""
    timer = RequestTimer(kind, server.protocol.msg_id)
    doc = server.document(uri)
    if doc is None or not server.worker.ready:
        timer.done("skipped", reason="unknown document" if doc is None else f"model {server.worker.state.value}")
        return EditOutcome(uri)
    text, version, index = doc.source, doc.version, LineIndex.of(doc)
    plan = _plan(server, doc, text, index, rng, strength)
    timer.lap("parse")
    if plan is None:
        timer.done("nothing", reason="no hole" if rng is None else "empty or invalid range")
        return EditOutcome(uri, version)
    ticket = server.worker.ticket(("edit", uri), timer.name)  # before any wait: the newest request wins
    preview = Preview(server, uri, version, index) if server.settings.preview else None
    edited = await _run(server, doc, plan, ticket, token, preview, timer)
    if edited is None:
        if preview is not None:
            preview.cancel()
        return EditOutcome(uri, version, cancelled=True)
    outcome = _outcome(server, uri, version, index, edited)
    if preview is not None:
        preview.finish(edited.pieces)
    timer.lap("post")
    timer.done("ok", steps=ticket.steps, edits=len(outcome.edits), marks=len(outcome.marks))
    return outcome


async def _run(
    server: DiffillServer,
    doc: TextDocument,
    plan: _Plan,
    ticket: Ticket,
    token: types.ProgressToken | None,
    preview: Preview | None,
    timer: RequestTimer,
) -> Edited | None:
    """A word on a file that does not parse, then the plan's job on the model thread with progress; None when
    stopped. A cancelled request (the task is cancelled) ends the preview before it raises."""
    progress: WorkDone | None = None
    try:
        await diagnostics.check(server, doc, plan.holes)
        timer.lap("check")
        progress = await WorkDone.begin(server, token, plan.title, ticket)
        on_step = progress.on_step if progress is not None else None
        edited = await server.worker.run(ticket, partial(plan.job, on_step=on_step, preview=preview))
    except asyncio.CancelledError:
        ticket.cancel()
        server.worker.release(ticket)
        timer.done("cancelled", steps=ticket.steps)
        if preview is not None:
            preview.cancel()
        raise
    finally:
        timer.add("wait", ticket.wait_s)
        timer.add("denoise", ticket.run_s)
        timer.mark()
        if progress is not None:
            progress.end("cancelled" if ticket.cancelled else "done")
    if edited is None:
        timer.done("stopped", steps=ticket.steps)
    return edited


def _outcome(server: DiffillServer, uri: str, version: int | None, index: LineIndex, edited: Edited) -> EditOutcome:
    """The edits against the text read (``index``), and the marks in the document they make."""
    edits = span_edits(index, [(r.start, r.end, r.new) for r in edited.replacements])
    if not edits:
        return EditOutcome(uri, version)
    text, below = index.text, server.settings.uncertain_below
    marks = marks_after(text, edited.replacements, below, index.codec)
    return EditOutcome(uri, version, edits, marks=marks, edited=edited_text(text, edited.replacements))
