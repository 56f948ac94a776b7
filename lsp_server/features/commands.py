"""``workspace/executeCommand``: ``diffill.fillHoles`` and ``diffill.rewriteRange`` apply their edit.

The edit is computed like the ``diffill/fill`` request's (with progress and preview) and sent to the client
with ``workspace/applyEdit``; once the client applied it, ``diffill/marks`` shows its uncertain tokens. A
command returns ``{"applied": bool, "cancelled": bool}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lsprotocol import types

from diffill.errors import DiffillError
from lsp_server.edits import workspace_edit
from lsp_server.features.fill import compute_edits
from lsp_server.marks import send_marks
from lsp_server.protocol import CMD_FILL_HOLES, CMD_REWRITE_RANGE, fill_holes_arguments, rewrite_range_arguments

if TYPE_CHECKING:
    from lsp_server.server import DiffillServer


def register(server: DiffillServer) -> None:
    converter = server.protocol._converter

    @server.command(CMD_FILL_HOLES)
    async def fill_holes(*arguments: Any) -> dict[str, bool]:
        args = fill_holes_arguments(converter, arguments)
        return await apply(server, args.uri, None, 1.0, "diffill: fill holes")

    @server.command(CMD_REWRITE_RANGE)
    async def rewrite_range(*arguments: Any) -> dict[str, bool]:
        args = rewrite_range_arguments(converter, arguments)
        return await apply(server, args.uri, args.range, args.strength, "diffill: rewrite")


async def apply(
    server: DiffillServer, uri: str, rng: types.Range | None, strength: float, label: str
) -> dict[str, bool]:
    """Compute the edit and ask the client to apply it."""
    try:
        out = await compute_edits(server, uri, rng, strength, None, "command")
    except DiffillError as exc:
        server.show(f"diffill: {exc}")
        return {"applied": False, "cancelled": False}
    if not out.edits:
        return {"applied": False, "cancelled": out.cancelled}
    edit = workspace_edit(out.uri, out.version, out.edits, server.client_capabilities)
    result = await server.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=edit, label=label))
    if result.applied and out.edited is not None and server.settings.uncertain_below > 0:
        send_marks(server, out.uri, out.edited, out.marks)
    return {"applied": bool(result.applied), "cancelled": False}
