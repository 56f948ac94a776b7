"""Code actions: "Rewrite selection", "Rewrite selection (light)" and "Fill N holes".

Listing them is cheap (no model call): each action carries ``data`` and its ``WorkspaceEdit`` is computed
in ``codeAction/resolve`` when the user picks it. Clients that cannot resolve edits get the same actions
with a command instead (``diffill.rewriteRange`` / ``diffill.fillHoles``), which applies the edit through
``workspace/applyEdit``. A resolved action also carries the ``diffill.showMarks`` command, which the client runs
once it applied the edit: the server then sends that edit's ``diffill/marks``. (It is not on the listed actions:
lsprotocol's own client types read any listed action that has a command as a bare Command.)
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from diffill.errors import DiffillError
from diffill.holes import find_holes
from lsp_server.edits import LineIndex, workspace_edit
from lsp_server.features.fill import EditOutcome, compute_edits
from lsp_server.marks import Pending, PendingMarks, send_marks
from lsp_server.protocol import CMD_FILL_HOLES, CMD_REWRITE_RANGE, CMD_SHOW_MARKS

if TYPE_CHECKING:
    from lsp_server.server import DiffillServer

REWRITE_KIND = types.CodeActionKind.RefactorRewrite
FILL_KIND = types.CodeActionKind.QuickFix


def register(server: DiffillServer) -> None:
    options = types.CodeActionOptions(code_action_kinds=[REWRITE_KIND, FILL_KIND], resolve_provider=True)
    pending = PendingMarks()

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, options)
    def code_actions(params: types.CodeActionParams) -> list[types.CodeAction] | None:
        return list_actions(server, params) or None

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def resolve(action: types.CodeAction) -> types.CodeAction:
        return await resolve_action(server, action, pending)

    @server.command(CMD_SHOW_MARKS)
    def show_marks(*arguments: Any) -> None:
        waiting = pending.pop(arguments[0]) if len(arguments) == 1 else None
        if waiting is not None:
            send_marks(server, waiting.uri, waiting.edited, waiting.marks)


def _resolves_edits(server: DiffillServer) -> bool:
    caps = server.client_capabilities.text_document
    action = caps.code_action if caps is not None else None
    support = action.resolve_support if action is not None else None
    return support is not None and "edit" in support.properties


def _wanted(kind: str, only: list[str] | None) -> bool:
    return not only or any(kind == o or kind.startswith(o + ".") for o in only)


def list_actions(server: DiffillServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    """The actions that apply to the document and selection (none while the model is not ready)."""
    uri = params.text_document.uri
    doc = server.document(uri)
    if doc is None or not server.worker.ready:
        return []
    text, settings = doc.source, server.settings
    index = LineIndex.of(doc)
    start, end = index.offset(params.range.start), index.offset(params.range.end)
    only = [str(k) for k in params.context.only] if params.context.only else None
    actions = []
    if start is not None and end is not None and end > start and text[start:end].strip():
        rng = index.range(start, end)
        for title, strength in (("Rewrite selection", 1.0), ("Rewrite selection (light)", settings.light_strength)):
            if _wanted(REWRITE_KIND, only):
                actions.append(_action(server, title, REWRITE_KIND, uri, doc.version, rng, strength))
    holes = len(find_holes(text, settings.hole_marker))
    if holes and _wanted(FILL_KIND, only):
        title = f"Fill {holes} hole{'s' if holes != 1 else ''}"
        actions.append(_action(server, title, FILL_KIND, uri, doc.version, None, 1.0))
    return actions


def _action(
    server: DiffillServer,
    title: str,
    kind: str,
    uri: str,
    version: int | None,
    rng: types.Range | None,
    strength: float,
) -> types.CodeAction:
    converter = server.protocol._converter
    wire_range = converter.unstructure(rng) if rng is not None else None
    if not _resolves_edits(server):
        if rng is None:
            command = types.Command(title=title, command=CMD_FILL_HOLES, arguments=[uri])
        else:
            command = types.Command(title=title, command=CMD_REWRITE_RANGE, arguments=[uri, wire_range, strength])
        return types.CodeAction(title=title, kind=kind, command=command)
    data: dict[str, Any] = {"uri": uri, "version": version, "range": wire_range, "strength": strength}
    return types.CodeAction(title=title, kind=kind, data=data)


async def resolve_action(server: DiffillServer, action: types.CodeAction, pending: PendingMarks) -> types.CodeAction:
    """Compute the action's edit now (with progress and preview); no edit when the document changed or nothing
    came. The edit's marks wait in ``pending`` for the action's ``diffill.showMarks`` command."""
    data = action.data if isinstance(action.data, dict) else {}
    uri = data.get("uri")
    doc = server.document(uri) if isinstance(uri, str) else None
    if doc is None or doc.version != data.get("version"):
        return action  # a stale action: the selection no longer means the same text
    raw_range = data.get("range")
    try:
        rng = server.protocol._converter.structure(raw_range, types.Range) if raw_range is not None else None
        strength = float(data.get("strength", 1.0))
    except Exception:
        return action
    try:
        out = await compute_edits(server, uri, rng, strength, None, "action")
    except DiffillError as exc:
        server.show(f"diffill: {exc}")
        return action
    if out.edits:
        action.edit = workspace_edit(out.uri, out.version, out.edits, server.client_capabilities)
        action.command = _marks_command(server, out, pending)
    return action


def _marks_command(server: DiffillServer, out: EditOutcome, pending: PendingMarks) -> types.Command | None:
    """The command that sends the edit's marks once the client applied it (none when marks are off)."""
    if out.edited is None or server.settings.uncertain_below <= 0:
        return None
    key = uuid.uuid4().hex
    pending.put(key, Pending(out.uri, out.edited, out.marks))
    return types.Command(title="diffill: show uncertain marks", command=CMD_SHOW_MARKS, arguments=[key])
