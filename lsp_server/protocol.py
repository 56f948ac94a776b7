"""Wire types of diffill's own requests, notification and commands, kept apart from the handlers.

Custom requests are attrs classes that lsprotocol's converter (de)serialises like its own types (fields
become camelCase on the wire; a field with a default is left out when it holds the default). The server's
protocol maps the method names below to these message classes, so malformed params fail to structure and
are answered with InvalidParams. Command arguments arrive as a plain JSON list; ``fill_holes_arguments``
and ``rewrite_range_arguments`` convert them.

Shapes on the wire (a field that holds its default may be left out; diffill/fill's "marks" and diffill/preview's
"done" and "cancelled" have none and are always there)::

    diffill/fill         params {"textDocument": {"uri"}, "range"?: Range, "strength"?: number,
                                 "workDoneToken"?: string | integer}
                         result {"uri", "version": integer | null, "edits": TextEdit[], "cancelled": bool,
                                 "marks": Mark[]} (marks: see diffill/marks; in the document after the edits)
                         (no range: fill every hole; a range: rewrite it, strength in (0, 1], default 1;
                         errors: -32602 bad params, -32803 a fault the message explains)
    diffill/status       params none (or {})
                         result {"state": "loading" | "ready" | "failed" | "busy", "model": string | null,
                                 "device": string | null, "error": string | null, "settings": {...}}
    diffill/statusChanged  notification, params as the diffill/status result
    diffill/prefetch     notification {"textDocument": {"uri"}, "position": Position}: the cursor rests here
                         (sent by the clients after a cursor move that was not an edit); the server encodes
                         the context of a completion there, so the next keystroke's ghost text starts warm
    diffill.fillHoles    arguments [uri]                                 result {"applied", "cancelled"}
    diffill.rewriteRange arguments [uri, Range, strength?]             result {"applied", "cancelled"}

Confidence, preview and learning the workspace::

    diffill/marks        notification {"uri", "version": integer | null, "marks": Mark[]}: after a fill or a
                         rewrite is applied (by a command or a code action; for diffill/fill, once the client
                         applied the returned edits: the result carries the same "marks"), the parts of the new
                         text whose tokens the model was unsure of (confidence below the uncertainBelow
                         setting). Mark = {"range": Range (in the document after the edit), "confidence": number
                         (the lowest token confidence inside)}. "version" is the document's version after the
                         edit when the server has seen it, else null (the document as the edit left it). Each
                         notification replaces the marks a client holds for the document (an empty list clears
                         them); clients highlight them until the text there is edited or the user clears them.
                         None are sent when uncertainBelow is 0.
    diffill.showMarks    command, arguments [key: string]: a code action resolved with an edit carries it, so
                         that once the client applied the edit (and then runs the action's command, as LSP
                         clients do) the server sends that edit's diffill/marks; result null
    diffill/preview      notification {"uri", "version", "id": string, "spans": PreviewSpan[], "done": bool,
                         "cancelled": bool}: while a fill or rewrite denoises (after its first step, at most every
                         ~50 ms, after its last step), the current text of each span; still-masked tokens show as
                         PREVIEW_MASK. PreviewSpan = {"range": Range (the text being replaced, in the document
                         the request read: "version"), "text": string}. A rewrite's spans are the line pieces
                         of its selection. The engine may denoise far-apart spans in rounds: a notification
                         holds the spans of the current round only (the others keep their text). The id is
                         unique per generation; its last notification has done=true, "spans" then holding every
                         span with its final text, right before the edit is applied or returned, or
                         cancelled=true with no spans (nothing follows: $/cancelRequest, a progress cancel, a
                         newer fill of the document; a generation stopped before its first step sends nothing).
                         Clients draw the text over the range and remove it then. None are sent when the
                         preview setting is false.
    textDocument/publishDiagnostics  (standard LSP) when a fill or rewrite is asked for a document that does not
                         parse (holes count as code; Python only): one Information diagnostic, source "diffill",
                         "diffill: this file does not parse (line N); fills may be worse", over line N; an empty
                         list once a later fill finds the file parsing, and when the document is closed.
    diffill.accepted     command sent back by an inline item when the user accepts it; arguments [Accepted].
                         Accepted = {"uri", "confidence": number (mean token confidence), "uncertain":
                         [[start, end], ...] (offsets in the item's insertText, in Unicode code points, of
                         its tokens below uncertainBelow)}. Clients may read item.command.arguments to draw
                         uncertain parts of ghost text differently before it is accepted.
    diffill.adaptNow     command, arguments [] or [folderUri]: learn the workspace folder now (setting adapt:
                         off | manual | background); progress as work-done progress and in diffill/status.
    diffill/status       result also holds "adaptation": Adaptation | null, Adaptation = {"state": "idle" |
                         "running" | "ready" | "failed", "workspace": string | null, "progress": number | null
                         (0..1), "model": string | null (the adapted model directory), "message": string | null},
                         and "serving": "base" | "adapted" (which model answers now).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import cattrs
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from lsp_server.worker import ModelState

FILL = "diffill/fill"
STATUS = "diffill/status"
STATUS_CHANGED = "diffill/statusChanged"
PREFETCH = "diffill/prefetch"
CMD_FILL_HOLES = "diffill.fillHoles"
CMD_REWRITE_RANGE = "diffill.rewriteRange"
MARKS = "diffill/marks"
PREVIEW = "diffill/preview"
CMD_ACCEPTED = "diffill.accepted"
CMD_ADAPT_NOW = "diffill.adaptNow"
CMD_SHOW_MARKS = "diffill.showMarks"
PREVIEW_MASK = "\u2591"  # a still-masked token in a preview: LIGHT SHADE


@attrs.define
class FillParams:
    """Fill the document's holes, or rewrite ``range`` when it is given."""

    text_document: types.TextDocumentIdentifier
    range: types.Range | None = None
    strength: float = 1.0
    work_done_token: int | str | None = None


@attrs.define
class Mark:
    """A part of a fill or rewrite whose tokens the model was unsure of."""

    range: types.Range
    confidence: float


@attrs.define
class FillResult:
    """Edits against ``version`` of the document; nothing applied. ``marks`` are in the edited document."""

    uri: str
    version: int | None
    edits: list[types.TextEdit]
    cancelled: bool
    marks: list[Mark]


@attrs.define
class MarksParams:
    """``diffill/marks``: the uncertain parts of the text a fill or rewrite just wrote."""

    uri: str
    version: int | None
    marks: list[Mark]


@attrs.define
class PreviewSpan:
    """A span being filled (its range in the document the request read) and its current text."""

    range: types.Range
    text: str


@attrs.define
class PreviewParams:
    """``diffill/preview``: the current text of each span of a running fill or rewrite."""

    uri: str
    version: int | None
    id: str
    spans: list[PreviewSpan]
    done: bool  # no defaults: both always go on the wire
    cancelled: bool


@attrs.define
class Accepted:
    """The argument of an inline item's ``diffill.accepted`` command."""

    uri: str
    confidence: float
    uncertain: list[tuple[int, int]] = attrs.field(factory=list)


@attrs.define
class Adaptation:
    """Where learning the workspace stands."""

    state: str  # idle | running | ready | failed
    workspace: str | None
    progress: float | None
    model: str | None
    message: str | None


@attrs.define
class PrefetchParams:
    """Where the cursor came to rest (a position as in any LSP request)."""

    text_document: types.TextDocumentIdentifier
    position: types.Position


@attrs.define
class StatusParams:
    """``diffill/status`` takes no parameters."""


@attrs.define
class Status:
    """The model holder's state, for a status line."""

    state: ModelState
    model: str | None
    device: str | None
    error: str | None
    settings: dict[str, Any] | None
    adaptation: Adaptation | None
    serving: str  # base | adapted


# Message classes: ``method`` and ``jsonrpc`` have no defaults, since the converter leaves out fields
# that hold their default and a message without them is not JSON-RPC.


@attrs.define
class FillRequest:
    id: int | str
    params: FillParams
    method: str
    jsonrpc: str


@attrs.define
class StatusRequest:
    id: int | str
    method: str
    jsonrpc: str
    params: StatusParams | None = None


@attrs.define
class StatusChangedNotification:
    params: Status
    method: str
    jsonrpc: str


@attrs.define
class MarksNotification:
    params: MarksParams
    method: str
    jsonrpc: str


@attrs.define
class PreviewNotification:
    params: PreviewParams
    method: str
    jsonrpc: str


@attrs.define
class PrefetchNotification:
    params: PrefetchParams
    method: str
    jsonrpc: str


MESSAGE_TYPES: dict[str, type] = {
    PREFETCH: PrefetchNotification,
    FILL: FillRequest,
    STATUS: StatusRequest,
    STATUS_CHANGED: StatusChangedNotification,
    MARKS: MarksNotification,
    PREVIEW: PreviewNotification,
}


@attrs.define
class FillHolesArguments:
    uri: str


@attrs.define
class RewriteRangeArguments:
    uri: str
    range: types.Range
    strength: float = 1.0


def _structure(converter: cattrs.Converter, value: Any, cls: type, what: str) -> Any:
    try:
        return converter.structure(value, cls)
    except (cattrs.BaseValidationError, TypeError, ValueError, KeyError) as exc:
        raise JsonRpcInvalidParams(f"{what}: {describe_error(exc)}") from exc


def fill_holes_arguments(converter: cattrs.Converter, arguments: Sequence[Any]) -> FillHolesArguments:
    """``[uri]`` -> FillHolesArguments, or InvalidParams."""
    if len(arguments) != 1 or not isinstance(arguments[0], str):
        raise JsonRpcInvalidParams(f"{CMD_FILL_HOLES} expects [uri], got {list(arguments)!r}")
    return FillHolesArguments(arguments[0])


def rewrite_range_arguments(converter: cattrs.Converter, arguments: Sequence[Any]) -> RewriteRangeArguments:
    """``[uri, range, strength?]`` -> RewriteRangeArguments, or InvalidParams."""
    if not 2 <= len(arguments) <= 3 or not isinstance(arguments[0], str):
        raise JsonRpcInvalidParams(f"{CMD_REWRITE_RANGE} expects [uri, range, strength?], got {list(arguments)!r}")
    rng = _structure(converter, arguments[1], types.Range, f"{CMD_REWRITE_RANGE} range")
    strength = arguments[2] if len(arguments) == 3 else 1.0
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 < strength <= 1:
        raise JsonRpcInvalidParams(f"{CMD_REWRITE_RANGE} strength must be in (0, 1], got {strength!r}")
    return RewriteRangeArguments(arguments[0], rng, float(strength))


def describe_error(exc: BaseException) -> str:
    """A short, readable account of why a value failed to structure."""
    if isinstance(exc, cattrs.BaseValidationError):
        return "; ".join(cattrs.transform_error(exc)) or str(exc)
    return str(exc) or type(exc).__name__
