"""Hole filling and region rewrites as edits, and the ``diffill/fill`` request that returns them unapplied.

``compute_edits`` is shared with the code actions and the commands: it fills every hole of a document
(no range) or rewrites a range, on the model thread, with work-done progress, and returns TextEdits
against the document version it read. The newest fill or rewrite of a document wins over older ones.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from diffill.errors import DiffillError
from diffill.holes import find_holes
from diffill.syntax import check_for
from lsp_server.edits import LineIndex, span_edits
from lsp_server.protocol import FILL, FillParams, FillResult
from lsp_server.timing import RequestTimer
from lsp_server.work_done import WorkDone

if TYPE_CHECKING:
    from lsp_server.server import DiffillServer

REQUEST_FAILED = -32803  # LSP ErrorCodes.RequestFailed


@dataclass
class EditOutcome:
    """Edits for ``uri`` at ``version``; ``cancelled`` when the generation was stopped before it finished."""

    uri: str
    version: int | None = None
    edits: list[types.TextEdit] = field(default_factory=list)
    cancelled: bool = False


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
        return FillResult(uri=out.uri, version=out.version, edits=out.edits, cancelled=out.cancelled)


def _title(text: str, holes: int, start: int, end: int, rewrite: bool) -> str:
    if not rewrite:
        return f"diffill: filling {holes} hole{'s' if holes != 1 else ''}"
    lines = text.count("\n", start, end) + 1
    return f"diffill: rewriting {lines} line{'s' if lines != 1 else ''}"


async def compute_edits(
    server: DiffillServer, uri: str, rng: types.Range | None, strength: float,
    token: types.ProgressToken | None, kind: str,
) -> EditOutcome:
    """Fill the holes of ``uri`` (``rng`` None) or rewrite ``rng``; empty when there is nothing to do."""
    timer = RequestTimer(kind, server.protocol.msg_id)
    doc = server.document(uri)
    if doc is None or not server.worker.ready:
        timer.done("skipped", reason="unknown document" if doc is None else f"model {server.worker.state.value}")
        return EditOutcome(uri)
    from lsp_server.jobs import edits as jobs  # imports torch: only once the model is loaded

    settings, text, version = server.settings, doc.source, doc.version
    index = LineIndex.of(doc)
    if rng is None:
        holes = len(find_holes(text, settings.hole_marker))
        start = end = 0
        check = check_for(doc.language_id)  # fills are cut to their longest piece that parses
        job = partial(jobs.fill_holes, text=text, settings=settings, seed=0, check=check)
    else:
        holes, start, end = 0, index.offset(rng.start), index.offset(rng.end)
        job = partial(jobs.rewrite, text=text, start=start, end=end, strength=strength, settings=settings, seed=0)
    timer.lap("parse")
    if (rng is None and holes == 0) or (rng is not None and (start is None or end is None or end <= start)):
        timer.done("nothing", reason="no hole" if rng is None else "empty or invalid range")
        return EditOutcome(uri, version)
    ticket = server.worker.ticket(("edit", uri), timer.name)
    progress = await WorkDone.begin(server, token, _title(text, holes, start or 0, end or 0, rng is not None), ticket)
    try:
        replacements = await server.worker.run(ticket, partial(job, on_step=progress.on_step if progress else None))
    except asyncio.CancelledError:
        timer.done("cancelled", steps=ticket.steps)
        raise
    finally:
        timer.add("wait", ticket.wait_s)
        timer.add("denoise", ticket.run_s)
        timer.mark()
        if progress is not None:
            progress.end("cancelled" if ticket.cancelled else "done")
    if replacements is None:
        timer.done("stopped", steps=ticket.steps)
        return EditOutcome(uri, version, cancelled=True)
    edits = span_edits(index, replacements)
    timer.lap("post")
    timer.done("ok", steps=ticket.steps, edits=len(edits))
    return EditOutcome(uri, version, edits)
