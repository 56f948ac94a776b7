"""pygls's LSP protocol with two fixes: diffill's custom messages are typed, malformed requests are answered.

pygls 2.1 structures each incoming message inside ``json.loads``; when a request's params fail to structure
(say ``textDocument`` is missing) it logs the error and drops the message, and the client waits for a reply
forever. Here such a request becomes a ``MalformedRequest`` that is answered with InvalidParams (-32602).
"""

from __future__ import annotations

import logging
from typing import Any

import attrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.protocol import LanguageServerProtocol

from lsp_server.protocol import MESSAGE_TYPES, describe_error

log = logging.getLogger(__name__)


@attrs.define
class MalformedRequest:
    """A request whose params could not be structured."""

    id: int | str
    method: str
    error: types.ResponseError


class DiffillProtocol(LanguageServerProtocol):
    """LanguageServerProtocol that knows diffill's messages and never leaves a request unanswered."""

    def get_message_type(self, method: str) -> type[Any] | None:
        return MESSAGE_TYPES.get(method) or super().get_message_type(method)

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            msg_id, method = data.get("id"), data.get("method")
            if not isinstance(msg_id, (int, str)) or not isinstance(method, str) or "result" in data:
                raise
            return MalformedRequest(msg_id, method, _response_error(method, exc))

    def handle_message(self, message: Any) -> None:
        if isinstance(message, MalformedRequest):
            log.warning("answering malformed %s request %s: %s", message.method, message.id, message.error.message)
            self._send_response(message.id, None, message.error)
            return
        super().handle_message(message)


def _response_error(method: str, exc: JsonRpcException) -> types.ResponseError:
    """InvalidParams: whatever failed, the message named a method but its params did not fit it."""
    detail = describe_error(exc.__cause__) if exc.__cause__ is not None else str(exc)
    return types.ResponseError(code=JsonRpcInvalidParams.CODE, message=f"invalid params for {method}: {detail}")
