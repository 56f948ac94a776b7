"""Malformed JSON-RPC: the reader survives broken frames, every request is answered per JSON-RPC 2.0, and each
bad message is one log line (a flood of them a few lines and a count).

The framing and the throttled log are tested in memory; the answers and the log on a real ``diffill serve``
fed raw bytes over stdio.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks.lsp_wire import Wire, frame, serve_command
from lsp_server.jsonrpc import ParseError, leading_id, parse_body
from lsp_server.limits import ThrottledLog
from lsp_server.transport import Frame, FrameReader, Skipped

STATUS = b'{"jsonrpc":"2.0","id":%d,"method":"diffill/status"}'


def _source(chunks: list[bytes], then_wait: bool = False):
    """A chunk source giving ``chunks``, then the end of the stream (or nothing, forever)."""
    pending = list(chunks)

    async def read() -> bytes:
        if pending:
            return pending.pop(0)
        if then_wait:
            await asyncio.sleep(3600)
        return b""

    return read


def _read_all(
    chunks: list[bytes], wait: bool = False, count: int = 99, **options: int | float
) -> list[Frame | Skipped]:
    """The items a reader makes of ``chunks``; with ``wait`` the stream then stays open (read ``count`` items)."""

    async def run() -> list[Frame | Skipped]:
        reader = FrameReader(_source(chunks, then_wait=wait), **options)  # type: ignore[arg-type]
        items: list[Frame | Skipped] = []
        while len(items) < count and (item := await reader.next()) is not None:
            items.append(item)
        return items

    return asyncio.run(run())


def _bodies(items: list[Frame | Skipped]) -> list[bytes]:
    return [i.body for i in items if isinstance(i, Frame)]


def test_frames_split_anywhere_are_read_whole() -> None:
    stream = frame(STATUS % 1) + b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n" + frame(STATUS % 2)
    chunks = [stream[i : i + 7] for i in range(0, len(stream), 7)]
    assert _bodies(_read_all(chunks)) == [STATUS % 1, STATUS % 2]


def test_a_short_content_length_loses_only_its_own_tail() -> None:
    body = STATUS % 1
    items = _read_all([b"Content-Length: 10\r\n\r\n" + body + frame(STATUS % 2)])
    assert _bodies(items) == [body[:10], STATUS % 2]
    assert [i.size for i in items if isinstance(i, Skipped)] == [len(body) - 10]


def test_a_long_content_length_ends_where_the_next_header_starts() -> None:
    stream = b"Content-Length: 500\r\n\r\n" + STATUS % 1 + frame(STATUS % 2) + frame(STATUS % 3)
    for size in (len(stream), 5):  # in one chunk, and with headers straddling chunks
        items = _read_all([stream[i : i + size] for i in range(0, len(stream), size)])
        assert _bodies(items) == [STATUS % 1, STATUS % 2, STATUS % 3]
        assert items[0].size == len(STATUS % 1) and items[0].declared == 500  # type: ignore[union-attr]


def test_a_long_content_length_that_ends_inside_the_next_header_gives_it_back() -> None:
    nxt = frame(STATUS % 2)
    for over in range(1, 24):  # ends in "Content-Length: 5" and the like
        stream = b"Content-Length: %d\r\n\r\n" % (len(STATUS % 1) + over) + STATUS % 1 + nxt
        for size in (len(stream), 3):
            items = _read_all([stream[i : i + size] for i in range(0, len(stream), size)])
            assert _bodies(items) == [STATUS % 1, STATUS % 2], over


def test_a_body_that_never_completes_is_taken_when_the_stream_goes_quiet() -> None:
    items = _read_all([b"Content-Length: 500\r\n\r\n" + STATUS % 1], wait=True, count=1, idle_s=0.05)
    assert _bodies(items) == [STATUS % 1]


def test_bytes_without_a_header_are_skipped_and_counted() -> None:
    junk = b'{"jsonrpc":"2.0","id":5,"method":"diffill/status"}'
    items = _read_all([junk + frame(STATUS % 1) + b"garbage line\n" + frame(STATUS % 2) + b"trailing"])
    assert [(type(i).__name__, getattr(i, "size", None)) for i in items] == [
        ("Skipped", len(junk)), ("Frame", len(STATUS % 1)), ("Skipped", 13), ("Frame", len(STATUS % 2)),
        ("Skipped", 8),
    ]  # fmt: skip
    assert items[0].head == junk  # type: ignore[union-attr]


def test_a_huge_line_or_body_is_not_kept_whole() -> None:
    long_line = b"x" * 300_000 + b"Content-Length: 3\r\n\r\n{}\n"
    items = _read_all([long_line[i : i + 65536] for i in range(0, len(long_line), 65536)], max_line=1000)
    assert isinstance(items[0], Skipped) and items[0].size == 300_000 and _bodies(items) == [b"{}\n"]
    huge = frame(b"[" + b"1," * 100_000 + b"1]")
    items = _read_all([huge[i : i + 65536] for i in range(0, len(huge), 65536)], max_body=1000)
    assert len(items) == 1 and items[0].too_large and len(items[0].body) == 1000  # type: ignore[union-attr]


def test_parse_body_accepts_json_only() -> None:
    assert parse_body(b'{"a": [1, "\xc3\xa9"]}') == {"a": [1, "é"]}
    for bad in (b"", b"{", b"\xff{}", b"NaN", b'{"x": Infinity}', b"[" * 100_000, b"1" * 5000):
        with pytest.raises(ParseError):
            parse_body(bad)


def test_parse_body_replaces_lone_surrogates_keeping_offsets() -> None:
    body = rb'{"text": "a\ud800b\udfff", "x": [[{"\udc00": "\ud83d\ude00"}]], "raw": "\\ud800"}'
    value = parse_body(body)
    assert value == {"text": "a\ufffdb\ufffd", "x": [[{"\ufffd": "\U0001f600"}]], "raw": "\\ud800"}
    assert len(value["text"]) == 4  # the same offsets as the text the client sent
    deep = parse_body(b"[" * 800 + b'"\\ud800"' + b"]" * 800)  # no recursion limit of its own
    for _ in range(800):
        deep = deep[0]
    assert deep == "\ufffd"


def test_leading_id_is_only_a_top_level_id() -> None:
    assert leading_id(b'{"jsonrpc":"2.0","id":42,"method":"x","params":{"te') == 42
    assert leading_id(b'{"id":"a\\"b","method"') == 'a"b'
    assert leading_id(b'{"params":{"id":1},"id":2') is None  # after a nested value: cannot be sure
    assert leading_id(b'{"jsonrpc":"2.0","method":"x","id":{"a":1}}') is None
    assert leading_id(b"not json") is None


def test_throttled_log_keeps_a_few_lines_and_counts_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    throttled = ThrottledLog(logging.getLogger("test.throttle"), lines=3, window_s=1.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="test.throttle"):
        for i in range(10):
            throttled(logging.WARNING, "bad %d", i)
        now[0] = 1.5
        throttled(logging.WARNING, "bad %d", 10)
    assert [r.getMessage() for r in caplog.records] == [
        "bad 0", "bad 1", "bad 2", "... and 7 more bad messages in 1 s (not logged one by one)", "bad 10",
    ]  # fmt: skip


# A real server, fed raw bytes


@dataclass
class Served:
    """A server process, its log, and how many bad messages it was sent so far."""

    wire: Wire
    log_file: Path
    bad: int = 0

    def accounted(self) -> int:
        """Bad messages the log tells of: one line each, or counted in a summary line."""
        lines = self.log_file.read_text(encoding="utf-8", errors="replace").splitlines()
        single = sum(" bad message (" in line for line in lines)
        return single + sum(int(m.group(1)) for line in lines if (m := re.search(r"and (\d+) more bad messages", line)))

    def expect_logged(self, new: int) -> None:
        """``new`` more bad messages, each told of once, and no traceback anywhere."""
        self.bad += new
        deadline = time.monotonic() + 30  # a summary line is written when its second is over
        while self.accounted() < self.bad and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.accounted() == self.bad
        assert "Traceback" not in self.log_file.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    log_file = tmp_path_factory.mktemp("jsonrpc") / "server.log"
    wire = Wire(serve_command(Path(sys.prefix) / "no-model", log_file))  # requests here need no model
    wire.call(0, "initialize", {"processId": None, "capabilities": {}})
    yield Served(wire, log_file)
    assert wire.close() == 0


ANSWERED_WITH_NULL_ID = [
    (b"not json", -32700),
    (b"\xff\xfe{}", -32700),
    (b'{"jsonrpc":"2.0","method":"x",', -32700),
    (b"[]", -32600),
    (b"null", -32600),
    (b"5", -32600),
    (b'"text"', -32600),
    (b'{"jsonrpc":"2.0"}', -32600),
    (b'{"jsonrpc":"2.0","id":{"a":1},"method":"diffill/status"}', -32600),
    (b'{"jsonrpc":"2.0","id":1.5,"method":"diffill/status"}', -32600),
    (b'{"jsonrpc":"2.0","id":null,"method":"diffill/status"}', -32600),
    (b'{"jsonrpc":"2.0","id":true,"method":"diffill/status"}', -32600),
]


@pytest.mark.parametrize(("body", "code"), ANSWERED_WITH_NULL_ID)
def test_bad_bodies_are_answered_with_a_null_id_and_one_log_line(served: Served, body: bytes, code: int) -> None:
    wire, errors = served.wire, len(served.wire.null_errors)
    wire.send_raw(frame(body))
    assert wire.wait_null_errors(errors + 1, timeout=30) == errors + 1
    assert wire.null_errors[-1]["error"]["code"] == code
    assert wire.call(f"after-{body!r}", "diffill/status")["result"]["state"] == "loading"  # still serving
    assert len(wire.null_errors) == errors + 1
    served.expect_logged(1)


ANSWERED_WITH_THEIR_ID = [
    (b'{"jsonrpc":"1.0","id":"v1","method":"diffill/status"}', "v1", -32600),
    (b'{"id":"no-version","method":"diffill/status"}', "no-version", -32600),
    (b'{"jsonrpc":"2.0","id":"num-method","method":5}', "num-method", -32600),
    (b'{"jsonrpc":"2.0","id":"unknown","method":"diffill/nothing"}', "unknown", -32601),
    (b'{"jsonrpc":"2.0","id":"params","method":"textDocument/inlineCompletion","params":{}}', "params", -32602),
    (b'{"jsonrpc":"2.0","id":"params2","method":"textDocument/inlineCompletion","params":[1]}', "params2", -32602),
    (b'{"jsonrpc":"2.0","id":"cut","method":"diffill/status","params":{"a":', "cut", -32700),
    (b'{"jsonrpc":"2.0","id":"fill","method":"diffill/fill","params":{"textDocument":{"uri":"file:///x.py"},'
     b'"strength":7}}', "fill", -32602),
    (b'{"jsonrpc":"2.0","id":"cmd","method":"workspace/executeCommand","params":{"command":"diffill.rewriteRange",'
     b'"arguments":[1,2,3,4]}}', "cmd", -32602),
]  # fmt: skip


@pytest.mark.parametrize(("body", "msg_id", "code"), ANSWERED_WITH_THEIR_ID)
def test_bad_requests_are_answered_with_their_id(served: Served, body: bytes, msg_id: str, code: int) -> None:
    served.wire.send_raw(frame(body))
    assert not served.wire.wait([json.dumps(msg_id)], timeout=30)
    (reply,) = served.wire.responses[json.dumps(msg_id)]
    assert reply["error"]["code"] == code
    served.expect_logged(1)


def test_bad_notifications_and_stray_responses_are_only_logged(served: Served) -> None:
    wire, errors = served.wire, len(served.wire.null_errors)
    wire.notify("textDocument/didOpen", {"textDocument": {"uri": 5}})
    wire.notify("diffill/unknownNotification", {})
    wire.send({"jsonrpc": "2.0", "id": "never-asked", "result": {}})
    wire.send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": "unknown-request"}})  # normal
    assert wire.call("after-notifications", "diffill/status")["result"]
    assert len(wire.null_errors) == errors
    served.expect_logged(3)


def test_lying_and_missing_headers_lose_nothing_after_them(served: Served) -> None:
    wire = served.wire
    short = b"Content-Length: 20\r\n\r\n" + STATUS % 101
    long = b"Content-Length: 900\r\n\r\n" + STATUS % 102
    missing = STATUS % 103  # a request without a header: answered Invalid Request, with its id
    wire.send_raw(short + long + frame(STATUS % 104) + missing + frame(STATUS % 105) + b"junk\r\n\r\n")
    keys = [json.dumps(i) for i in range(101, 106)]
    assert not wire.wait(keys, timeout=30)
    assert [wire.responses[k][0].get("error", {}).get("code") for k in keys] == [None, None, -32600, None, None]
    wire.send_raw(b"Content-Length: 900\r\n\r\n" + STATUS % 106)  # then nothing: taken when the stream is quiet
    assert wire.call(107, "diffill/status")["result"]  # waits behind it for BODY_IDLE_S at most
    assert "result" in wire.responses[json.dumps(106)][0]
    served.expect_logged(5)  # two lengths recovered, a request and junk skipped, a length recovered


def test_headerless_requests_among_other_bytes_are_answered_with_their_ids(served: Served) -> None:
    wire = served.wire
    before_a_field = STATUS % 201 + b"Content-Type: x\r\n" + frame(STATUS % 202)  # the field's line holds it
    after_a_short_frame = b"Content-Length: 7\r\n\r\n" + STATUS % 203 + STATUS % 204 + frame(STATUS % 205)
    inside_a_long_body = b"Content-Length: 99999\r\n\r\n" + STATUS % 207 + STATUS % 208 + frame(STATUS % 209)
    wire.send_raw(before_a_field + after_a_short_frame + inside_a_long_body)
    keys = [json.dumps(i) for i in (201, 202, 204, 205, 207, 208, 209)]
    assert not wire.wait(keys, timeout=30)
    codes = [wire.responses[k][0].get("error", {}).get("code") for k in keys]
    assert codes == [-32600, None, -32600, None, -32700, -32600, None]
    assert json.dumps(203) not in wire.responses  # cut before its id: answered with a null id
    assert wire.call(206, "diffill/status")["result"]
    served.expect_logged(5)  # a request skipped, a body cut short, a request skipped, a body with two in it


def test_a_body_over_the_limit_is_skipped_and_answered(served: Served) -> None:
    params = {"textDocument": {"uri": "file:///huge.py"}, "strength": 1.0, "pad": "x" * (33 * 2**20)}
    served.wire.send({"jsonrpc": "2.0", "id": "huge", "method": "diffill/fill", "params": params})
    assert served.wire.call("after-huge", "diffill/status", timeout=60)["result"]
    assert served.wire.responses[json.dumps("huge")][0]["error"]["code"] == -32600
    served.expect_logged(1)


def test_a_flood_of_bad_messages_writes_a_few_lines_and_a_count(served: Served) -> None:
    wire, errors, flood = served.wire, len(served.wire.null_errors), 300
    before = len(served.log_file.read_text().splitlines())
    wire.send_raw(b"".join(frame(b"not json %d" % i) for i in range(flood)))
    assert wire.wait_null_errors(errors + flood, timeout=60) == errors + flood
    served.expect_logged(flood)
    assert len(served.log_file.read_text().splitlines()) - before < flood  # rate-limited


def test_a_wrong_answer_to_the_servers_request_fails_the_request_waiting_on_it(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    def wrong(request: dict) -> dict:
        return {"jsonrpc": "2.0", "id": request["id"], "result": "not an ApplyWorkspaceEditResult"}

    wire = Wire(serve_command(tiny_model_dir, tmp_path / "server.log"), answer=wrong)
    try:
        wire.call(0, "initialize", {"processId": None, "capabilities": {"workspace": {"applyEdit": True}}}, 120)
        wire.notify("initialized", {})
        deadline = time.monotonic() + 120
        while wire.call(f"status-{time.monotonic()}", "diffill/status", None, 120)["result"]["state"] != "ready":
            assert time.monotonic() < deadline, "the model did not load"
            time.sleep(0.1)
        item = {"uri": "file:///w.py", "languageId": "python", "version": 1, "text": "def f(x):\n    return ???\n"}
        wire.notify("textDocument/didOpen", {"textDocument": item})
        params = {"command": "diffill.fillHoles", "arguments": ["file:///w.py"]}
        reply = wire.call(1, "workspace/executeCommand", params, 120)
        assert wire.server_requests["workspace/applyEdit"] == 1
        assert reply["error"]["code"] == -32603 and "malformed response" in reply["error"]["message"]
    finally:
        assert wire.close() == 0
