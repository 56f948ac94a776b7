"""End to end: settings, model loading and failure, newest-wins and cancellation, each on a fresh server."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled
from server_support import (
    cancel_request,
    configure,
    fixture_text,
    inline,
    inline_params,
    open_doc,
    raw_request,
    server_command,
    start,
    status,
    stop,
    uri_for,
    wait_state,
)

pytestmark = pytest.mark.asyncio

# With the slow model, a block or hole is 256 masks over 256 steps: seconds, long enough to be stopped
# mid-way; a rest-of-line completion (4 masks) finishes quickly.
SLOW = {
    "steps": 256,
    "multilineLength": 256,
    "lineLength": 256,
    "inlineLength": 4,
    "endProbability": 0,
    "minConfidence": 0,
    "adaptiveDebounce": False,
}  # a random model: no gate, no debounce
FULL_RUN = 256
BLOCK_TEXT = "def perimeter(circle):\n    \n\ntotal = perimeter(c) + \n"
BLOCK_AT = (1, 4)  # the empty body: a block
LINE_AT = (3, 23)  # after "+ ": the rest of a line, 4 tokens
STARTED_S = 0.1  # let a generation start before it is superseded or cancelled


def _steps_of(log_file: Path, outcome: str) -> list[int]:
    text = log_file.read_text(encoding="utf-8")
    return [int(m.group(1)) for m in re.finditer(rf"inline#\S+ {outcome} .*?steps=(\d+)", text)]


async def test_invalid_settings_give_one_message_and_the_defaults(tiny_model_dir: Path) -> None:
    client = await start(tiny_model_dir, init={"diffill": {"steps": "many", "candidates": 0, "stepz": 3}})
    try:
        assert len(client.messages) == 1
        message = client.messages[0].message
        assert "steps" in message and "candidates" in message and "stepz" in message
        settings = (await status(client))["settings"]
        assert settings["steps"] == 16 and settings["candidates"] == 3
        # A client that pulls its configuration: didChangeConfiguration without settings makes the server ask.
        client.set_configuration({"steps": 5, "languages": []}, section="diffill")
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
        for _ in range(100):
            if (await status(client))["settings"]["steps"] == 5:
                break
            await asyncio.sleep(0.05)
        assert (await status(client))["settings"]["languages"] == []
        assert len(client.messages) == 1
    finally:
        await stop(client)


async def test_requests_before_the_model_is_ready_are_empty(tiny_model_dir: Path) -> None:
    client = await start(tiny_model_dir, init={"diffill": {"minConfidence": 0}})
    try:
        uri = uri_for("early.py")
        open_doc(client, uri, BLOCK_TEXT)
        early = await status(client)
        items = await inline(client, uri, *BLOCK_AT)
        if early["state"] == "loading":  # torch takes seconds to import: the usual case
            assert items == []
        await wait_state(client, "ready")
        assert len(await inline(client, uri, *BLOCK_AT)) == 1
    finally:
        await stop(client)


async def test_a_model_that_fails_to_load_is_reported_and_can_be_fixed(tiny_model_dir: Path, tmp_path: Path) -> None:
    client = await start(tmp_path / "no-such-model")
    try:
        failed = await wait_state(client, "failed")
        assert "not found" in failed["error"]
        errors = [m for m in client.messages if m.type == types.MessageType.Error]
        assert len(errors) == 1 and "no-such-model" in errors[0].message
        uri = uri_for("failed.py")
        open_doc(client, uri, BLOCK_TEXT)
        assert await inline(client, uri, *BLOCK_AT) == []
        result = await client.protocol.send_request_async("diffill/fill", {"textDocument": {"uri": uri}})
        assert result["edits"] == []
        configure(client, {"model": str(tiny_model_dir), "minConfidence": 0})
        await wait_state(client, "ready")
        assert len(await inline(client, uri, *BLOCK_AT)) == 1
    finally:
        await stop(client)


async def test_newest_request_wins_and_cancel_stops_a_running_generation(slow_model_dir: Path, tmp_path: Path) -> None:
    log_file = tmp_path / "server.log"
    client = await start(slow_model_dir, "--log-file", str(log_file), init=SLOW)
    try:
        await wait_state(client, "ready")
        uri = uri_for("race.py")
        open_doc(client, uri, BLOCK_TEXT)
        # Two requests for one document: the older (a long block) stops, the newer answers.
        older = asyncio.ensure_future(inline(client, uri, *BLOCK_AT))
        await asyncio.sleep(STARTED_S)
        newer = await inline(client, uri, *LINE_AT)
        assert await asyncio.wait_for(older, 30) == []
        assert len(newer) == 1
        # $/cancelRequest stops a generation that is already running.
        params = client.protocol._converter.unstructure(inline_params(uri, *BLOCK_AT))
        running = asyncio.ensure_future(raw_request(client, 7001, "textDocument/inlineCompletion", params))
        await asyncio.sleep(STARTED_S)
        cancel_request(client, 7001)
        with pytest.raises(JsonRpcRequestCancelled):
            await asyncio.wait_for(running, 30)
        await wait_state(client, "ready", timeout=30)
        stopped = _steps_of(log_file, "stopped") + _steps_of(log_file, "cancelled")
        assert len(stopped) == 2 and all(steps < FULL_RUN for steps in stopped)
    finally:
        await stop(client)


async def test_progress_cancel_stops_a_hole_fill(slow_model_dir: Path) -> None:
    client = await start(slow_model_dir, init=SLOW)
    try:
        await wait_state(client, "ready")
        uri = uri_for("progress-cancel.py")
        open_doc(client, uri, fixture_text("holes.py"))
        client.progress_reports.setdefault("fill-1", [])
        params = {"textDocument": {"uri": uri}, "workDoneToken": "fill-1"}
        request = asyncio.ensure_future(client.protocol.send_request_async("diffill/fill", params))
        await asyncio.sleep(STARTED_S)
        client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token="fill-1"))
        result = await asyncio.wait_for(request, 30)
        assert result["cancelled"] is True and result["edits"] == []
        reports = client.progress_reports["fill-1"]
        assert isinstance(reports[0], types.WorkDoneProgressBegin) and reports[0].cancellable
        assert isinstance(reports[-1], types.WorkDoneProgressEnd) and reports[-1].message == "cancelled"
    finally:
        await stop(client)


async def test_tcp_transport_answers_initialize(tiny_model_dir: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = await asyncio.create_subprocess_exec(
        *server_command(tiny_model_dir, "--tcp", f"127.0.0.1:{port}"), stderr=asyncio.subprocess.DEVNULL
    )
    try:
        reader, writer = await _connect(port)
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}})
        writer.write(f"Content-Length: {len(body)}\r\n\r\n{body}".encode())
        length = 0
        while (line := await asyncio.wait_for(reader.readline(), 30)) != b"\r\n":
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        reply = json.loads(await reader.readexactly(length))
        assert reply["id"] == 1 and "inlineCompletionProvider" in reply["result"]["capabilities"]
        writer.close()
    finally:
        server.kill()
        await server.wait()


async def _connect(port: int, timeout: float = 30.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)
