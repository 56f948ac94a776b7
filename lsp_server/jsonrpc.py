"""pygls's LSP protocol made to answer whatever arrives: every request gets a reply, every bad message one log line.

pygls 2.1 parses each body with ``json.loads(body, object_hook=structure_message)`` in its reader loop and
drops, with a multi-line traceback, whatever fails: a body that is not JSON, valid JSON that is no message
(``[]``, ``null``, ``5``, ``{"jsonrpc": "2.0"}``), a request whose params do not structure (the client then
waits forever). Here ``lsp_server/transport.py`` reads the frames and hands each parsed body to ``receive``,
which answers as JSON-RPC 2.0 says, with the request's id when it can be known and null otherwise:

- -32700 Parse error: not UTF-8, not JSON (``transport`` also cuts out bodies whose Content-Length lied);
- -32600 Invalid Request: valid JSON that is no request, notification or response, an id that is not an
  integer or a string, a body over ``MAX_BODY_BYTES``;
- -32601 Method not found, -32602 Invalid params (the params do not structure: ``MalformedRequest``).

A notification is never answered; a bad one is logged and dropped (an unknown ``$/`` one silently, as LSP
allows). A cancel for a request already answered is normal and not logged. A bad response to one of the
server's own requests fails the request that waits for it, instead of leaving it waiting. Each bad message is
logged on one line through a ``ThrottledLog``: a flood of them writes a few lines a second and a count.
"""

from __future__ import annotations

import json
import logging
import re
from concurrent.futures import Future
from typing import Any

import attrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError, JsonRpcInvalidParams, JsonRpcRequestCancelled
from pygls.protocol import JsonRPCNotification, JsonRPCRequestMessage, JsonRPCResponseMessage, LanguageServerProtocol
from pygls.protocol.json_rpc import MsgId

from lsp_server.limits import MAX_BATCH, ThrottledLog, clip
from lsp_server.protocol import MESSAGE_TYPES, describe_error

log = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = JsonRpcInvalidParams.CODE

# A top-level "id" among the first members, before any nested value: found in a prefix of a body that is
# not JSON (cut short, or too large to read), it is certainly the message's own id.
_STRING = rb'"(?:[^"\\]|\\.)*"'
_LEADING_ID = re.compile(
    rb'\A\s*\{\s*(?:"(?:jsonrpc|method)"\s*:\s*'
    + _STRING
    + rb"\s*,\s*)*"
    + rb'"id"\s*:\s*(-?\d{1,15}|'
    + _STRING
    + rb")\s*[,}]"
)


@attrs.define
class MalformedRequest:
    """A request whose params could not be structured."""

    id: int | str
    method: str
    error: types.ResponseError


@attrs.define
class Rejected:
    """A message answered with an error (id None when it cannot be known), or only logged (``reply`` False)."""

    id: MsgId | None
    code: int
    message: str
    reply: bool = True


_IGNORED = Rejected(None, 0, "", reply=False)  # a message to drop without a word


class ParseError(ValueError):
    """A body that is not a JSON text in UTF-8."""


def parse_body(body: bytes) -> Any:
    """The JSON value of a body; ParseError for anything else (NaN and Infinity included).

    JSON may escape a lone UTF-16 surrogate (``"\\ud800"``), which no UTF-8 file, tokenizer or parser
    takes: each becomes U+FFFD, which keeps every offset (one code point, one UTF-16 unit)."""
    try:
        value = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise ParseError(f"not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, too many digits, nested too deep
        raise ParseError(f"not JSON ({clip(str(exc) or type(exc).__name__, 120)})") from exc
    return _without_lone_surrogates(value) if _ESCAPED_SURROGATE.search(body) else value


_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # after json.loads, a pair is one code point already


def _without_lone_surrogates(value: Any) -> Any:
    """``value`` with U+FFFD for each lone surrogate in its strings and keys (walked without recursion, as a
    body may nest as deep as ``json.loads`` allows)."""

    def clean(item: Any) -> Any:
        if isinstance(item, str):
            return _LONE_SURROGATE.sub("\ufffd", item)
        if isinstance(item, dict):
            cleaned = {clean(k): v for k, v in item.items()}
            stack.append(cleaned)
            return cleaned
        if isinstance(item, list):
            stack.append(item)
        return item

    stack: list[Any] = []
    top = clean(value)
    while stack:
        node = stack.pop()
        keys = node.keys() if isinstance(node, dict) else range(len(node))
        for key in keys:
            node[key] = clean(node[key])
    return top


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def leading_id(prefix: bytes) -> MsgId | None:
    """The id of a body that cannot be parsed, when its first members show it; else None."""
    match = _LEADING_ID.match(prefix)
    if match is None:
        return None
    try:
        value = json.loads(match.group(1))
    except ValueError:
        return None
    return value if isinstance(value, (int, str)) else None


_MESSAGE_START = re.compile(rb'\{\s*"jsonrpc"\s*:')


def requests_in(junk: bytes) -> list[MsgId]:
    """The ids of requests that begin among bytes outside any frame: each object opening with ``"jsonrpc"``
    whose id shows among its first members, and whose bytes (up to the next such object) name a method."""
    starts = [m.start() for m in _MESSAGE_START.finditer(junk)]
    ids = []
    for start, end in zip(starts, [*starts[1:], len(junk)]):
        msg_id = leading_id(junk[start : min(end, start + 4096)])
        if msg_id is not None and b'"method"' in junk[start:end]:
            ids.append(msg_id)
    return ids


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


class DiffillProtocol(LanguageServerProtocol):
    """LanguageServerProtocol that knows diffill's messages and never leaves a request unanswered."""

    def __init__(self, server: Any, converter: Any) -> None:
        super().__init__(server, converter)
        self.bad = ThrottledLog(log)

    def get_message_type(self, method: str) -> type[Any] | None:
        return MESSAGE_TYPES.get(method) or super().get_message_type(method)

    # bodies, from lsp_server.transport

    def receive(self, data: Any) -> None:
        """One parsed body: a message, or a batch of them (each answered on its own, as LSP has no batches)."""
        if not isinstance(data, list):
            self._dispatch(self.classify(data))
        elif not data or len(data) > MAX_BATCH:
            self._dispatch(Rejected(None, INVALID_REQUEST, f"batch of {len(data)} messages (1 to {MAX_BATCH})"))
        else:
            for item in data:
                self._dispatch(self.classify(item))

    def _dispatch(self, message: Any) -> None:
        """Handle one message; a fault of the server's own still answers the request (Internal Error)."""
        try:
            self.handle_message(message)
        except BrokenPipeError:
            raise  # the client is gone: the loop ends
        except Exception as exc:
            self.bad(logging.ERROR, "handling %s failed", type(message).__name__, exc_info=exc)
            msg_id, method = getattr(message, "id", None), getattr(message, "method", None)
            if _valid_id(msg_id) and isinstance(method, str):
                error = JsonRpcInternalError(f"{type(exc).__name__}: {clip(str(exc), 1000)}").to_response_error()
                self._send_response(msg_id, error=error)

    def reject_body(self, body: bytes, code: int, reason: str) -> None:
        """A body that cannot be read as a message: answered with the id it shows, if any. A body that does
        not parse may hold the start of a request sent without a header (its Content-Length ran on over it):
        that request is answered too."""
        msg_id = leading_id(body[:4096])
        if msg_id is not None and self._is_own_request(msg_id):
            msg_id = None  # a response of the client's to one of ours: not to be answered
        self._dispatch(Rejected(msg_id, code, reason))
        if code == PARSE_ERROR:
            for later in requests_in(body[body.find(b"{") + 1 :]):
                self._dispatch(Rejected(later, INVALID_REQUEST, "a request without a header, inside another body"))

    def skipped(self, size: int, head: bytes) -> None:
        """Bytes outside any frame (no Content-Length header): a request among them is answered, if it shows."""
        try:
            data = parse_body(head) if len(head) == size else None
        except ParseError:
            data = None
        is_request = isinstance(data, dict) and isinstance(data.get("method"), str) and _valid_id(data.get("id"))
        reason = f"{size} bytes outside any message (no Content-Length header)"
        ids = [data["id"]] if is_request else [] if data is not None else requests_in(head)
        if not ids:
            self._dispatch(Rejected(None, INVALID_REQUEST, reason, reply=False))
        for msg_id in ids:
            self._dispatch(Rejected(msg_id, INVALID_REQUEST, reason))

    def note(self, message: str, *args: object) -> None:
        """A fault of the stream that harmed no message (e.g. a Content-Length that lied, recovered)."""
        self.bad(logging.WARNING, "bad message (recovered): " + message, *args)

    # messages

    def classify(self, data: Any) -> Any:
        """A pygls message to handle, a MalformedRequest, or Rejected."""
        if not isinstance(data, dict):
            return Rejected(None, INVALID_REQUEST, f"a message must be a JSON object, not {_json_type(data)}")
        has_id, msg_id, method = "id" in data, data.get("id"), data.get("method")
        if has_id and not _valid_id(msg_id):
            return Rejected(None, INVALID_REQUEST, f"id must be an integer or a string, not {_json_type(msg_id)}")
        if data.get("jsonrpc") != "2.0":
            return Rejected(msg_id if "method" in data else None, INVALID_REQUEST, 'jsonrpc must be "2.0"')
        if "method" not in data:
            return self._response(data) if has_id else Rejected(None, INVALID_REQUEST, "no method and no id")
        if not isinstance(method, str):
            return Rejected(msg_id, INVALID_REQUEST, f"method must be a string, not {_json_type(method)}")
        if not self._known(method):
            if has_id:
                return Rejected(msg_id, METHOD_NOT_FOUND, f"method not found: {clip(method, 80)}")
            if method.startswith("$/"):  # protocol notifications a server may ignore (LSP)
                return _IGNORED
            return Rejected(None, METHOD_NOT_FOUND, f"notification {clip(method, 80)} ignored", reply=False)
        return self._structure(data, method, msg_id if has_id else None)

    def _known(self, method: str) -> bool:
        fm = self.fm
        return method in fm.builtin_features or method in fm.features or method == types.CANCEL_REQUEST

    def _structure(self, data: dict[str, Any], method: str, msg_id: MsgId | None) -> Any:
        fallback = JsonRPCRequestMessage if msg_id is not None else JsonRPCNotification
        cls = self.get_message_type(method) or fallback
        if cls is fallback:  # a method with no type of its own: only the fields pygls's generic classes have
            data = {"jsonrpc": "2.0", "method": method, "params": data.get("params")}
            if msg_id is not None:
                data["id"] = msg_id
        try:
            return self._converter.structure(data, cls)
        except Exception as exc:  # cattrs raises validation groups, TypeError, ValueError... for any bad shape
            detail = clip(describe_error(exc), 400)
            if msg_id is None:
                return Rejected(None, INVALID_PARAMS, f"invalid params for {method}: {detail}", reply=False)
            error = types.ResponseError(code=INVALID_PARAMS, message=f"invalid params for {method}: {detail}")
            return MalformedRequest(msg_id, method, error)

    def _response(self, data: dict[str, Any]) -> Any:
        """A response to one of the server's requests; one that does not fit fails that request's future."""
        msg_id = data["id"]
        if not self._is_own_request(msg_id):
            return Rejected(None, INVALID_REQUEST, f"response to unknown request {clip(json.dumps(msg_id), 80)}", False)
        if ("result" in data) == ("error" in data):
            return self._fail_request(msg_id, "a response needs a result or an error (only one)")
        cls = self._result_types.pop(msg_id, None) or JsonRPCResponseMessage  # (pygls keeps it on errors)
        try:
            if "error" in data:
                return self._converter.structure(data, types.ResponseErrorMessage)
            return self._converter.structure(data, cls)
        except Exception as exc:
            return self._fail_request(msg_id, f"malformed response: {clip(describe_error(exc), 200)}")

    def _is_own_request(self, msg_id: Any) -> bool:
        """An id of a request the server sent and still waits on (not a client request being handled)."""
        future = self._request_futures.get(msg_id) if _valid_id(msg_id) else None
        return type(future) is Future

    def _fail_request(self, msg_id: MsgId, reason: str) -> Rejected:
        future = self._request_futures.pop(msg_id)
        self._result_types.pop(msg_id, None)
        future.set_exception(JsonRpcInternalError(f"the client's {reason}"))
        return Rejected(None, INVALID_REQUEST, f"{reason} (to request {msg_id})", reply=False)

    def handle_message(self, message: Any) -> None:
        if message is _IGNORED:
            return
        if isinstance(message, Rejected):
            self._reject(message)
        elif self._shutdown and getattr(message, "method", types.EXIT) != types.EXIT:
            reason = f"{getattr(message, 'method', '')} after shutdown"
            self._reject(Rejected(getattr(message, "id", None), INVALID_REQUEST, reason, reply=_is_request(message)))
        elif isinstance(message, MalformedRequest):
            self._answered(message.error.code, message.id, message.error.message)
            self._send_response(message.id, None, message.error)
        else:
            super().handle_message(message)

    def _answered(self, code: int, msg_id: MsgId | None, text: str) -> None:
        self.bad(logging.WARNING, "bad message (answered %d to id %s): %s", code, json.dumps(msg_id), clip(text))

    def _reject(self, message: Rejected) -> None:
        if not message.reply:
            self.bad(logging.WARNING, "bad message (ignored): %s", message.message)
            return
        self._answered(message.code, message.id, message.message)
        error = {"code": message.code, "message": message.message}
        self._send_data({"jsonrpc": "2.0", "id": message.id, "error": error})

    # pygls's handlers, quieter: one line per failure, and no pop-up for a notification the client got wrong

    def _send_handler_result(self, future: Any, *, msg_id: MsgId) -> None:
        self._request_futures.pop(msg_id, None)
        if future.cancelled():
            error = JsonRpcRequestCancelled(f'Request with id "{msg_id}" is canceled').to_response_error()
            self._send_response(msg_id, error=error)
            return
        exc = future.exception()
        if exc is None:
            self._send_response(msg_id, result=future.result())
            return
        if isinstance(exc, JsonRpcException):
            self._answered(exc.code, msg_id, exc.message)
            error = types.ResponseError(code=exc.code, message=clip(exc.message, 1000), data=exc.data)
        else:
            self.bad(logging.ERROR, "request %s failed", msg_id, exc_info=exc)
            error = JsonRpcInternalError(f"{type(exc).__name__}: {clip(str(exc), 1000)}").to_response_error()
        self._send_response(msg_id, error=error)

    def _check_handler_result(self, future: Any) -> None:
        if not future.cancelled() and (exc := future.exception()) is not None:
            self.bad(logging.WARNING, "bad message (a notification failed): %s: %s", type(exc).__name__, clip(str(exc)))
            log.debug("the notification's traceback", exc_info=exc)

    def _handle_cancel_notification(self, msg_id: MsgId) -> None:
        """``$/cancelRequest`` of a client request; one for a request already answered is normal (they crossed)."""
        if msg_id not in self._request_futures or self._is_own_request(msg_id):
            return
        if self._request_futures.pop(msg_id).cancel():
            log.info("cancelled request %s", msg_id)


def _is_request(message: Any) -> bool:
    return _valid_id(getattr(message, "id", None)) and isinstance(getattr(message, "method", None), str)


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")
