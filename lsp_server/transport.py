"""Reading LSP frames from a stream a client may break, and the server's stdio and TCP loops around it.

pygls 2.1 reads ``Content-Length: N`` headers with an exact pattern, so one body whose Content-Length is too
small leaves its tail in front of the next header and every message after it is lost; a Content-Length that
is too large, or never completed, stalls the server; a header line without a newline is read whole into
memory. ``FrameReader`` reads bytes in chunks and, whatever arrives:

- finds a ``Content-Length`` header anywhere on its line: bytes before it (a body without a header, the tail of
  a body cut short) are skipped and reported, and the frame after them is read as usual;
- ends a body early where a new header starts inside it, or where its last bytes begin one (raw CR/LF cannot
  occur in JSON, and no JSON text ends with "Content-Le"): a Content-Length too large loses nothing after it;
- takes a body as it is when its bytes stop coming for ``BODY_IDLE_S`` (the client waits for an answer to a
  message whose Content-Length was too large); the wait is counted in slices, so an event loop held up by a
  slow handler does not pass for a quiet stream;
- reads at most ``MAX_BODY_BYTES`` of a body and skips the rest.

``pump`` parses each frame (``lsp_server.jsonrpc.parse_body``); a body that does not parse is first tried with
the bytes that follow it up to the next header (a Content-Length too small, such as a client that counts
characters instead of bytes), then answered with a Parse error. The protocol answers everything else.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from pygls.io_ import StdoutWriter
from pygls.server import JsonRPCServer

from lsp_server.jsonrpc import INVALID_REQUEST, PARSE_ERROR, DiffillProtocol, ParseError, parse_body
from lsp_server.limits import BODY_IDLE_S, MAX_BODY_BYTES, MAX_HEADER_LINE

log = logging.getLogger(__name__)

CHUNK = 64 * 2**10
READ_AHEAD = 64  # chunks the stdin thread may read before the loop takes them
KEEP_HEAD = 2**20  # bytes kept of a run of skipped bytes (a request among them is answered)
_HEADER = re.compile(rb"content-length[ \t]*:[ \t]*(\d{1,15})[ \t]*\r?\n\Z", re.IGNORECASE)
_EMBEDDED = re.compile(rb"content-length[ \t]*:[ \t]*\d{1,15}[ \t]*\r?\n", re.IGNORECASE)
_FIELD = re.compile(rb"[A-Za-z0-9!#$%&'*+.^_`|~-]+[ \t]*:[^\n]*\n\Z")  # another header field: Content-Type
_OVERLAP = 48  # bytes of a body kept to find a header that straddles two chunks
_SLICE_S = 0.1
_HEADER_START = re.compile(rb"content-length[ \t]*(?::[ \t]*\d*\r?)?\Z", re.IGNORECASE)

ChunkSource = Callable[[], Awaitable[bytes]]  # the next bytes, b"" at the end; safe to cancel


@dataclass
class Frame:
    """A body as read: ``size`` bytes belonged to it (``declared`` unless the header lied)."""

    body: bytes  # all of it, or its first bytes when it is over the limit
    declared: int
    size: int

    @property
    def too_large(self) -> bool:
        return self.size > len(self.body)


@dataclass
class Skipped:
    """A run of bytes outside any frame."""

    size: int
    head: bytes


class FrameReader:
    """Frames from a chunk source, recovering from lying and missing headers."""

    def __init__(
        self,
        source: ChunkSource,
        max_body: int = MAX_BODY_BYTES,
        idle_s: float = BODY_IDLE_S,
        max_line: int = MAX_HEADER_LINE,
    ) -> None:
        self._source = source
        self.max_body = max_body
        self.idle_s = idle_s
        self.max_line = max_line
        self._buf = bytearray()
        self._eof = False
        self._length: int | None = None  # the Content-Length of the headers being read
        self._skipped = Skipped(0, b"")

    async def next(self) -> Frame | Skipped | None:
        """The next frame, or the bytes skipped before it, or None at the end of the stream."""
        while True:
            line, state = await self._line()
            if line is None:
                return self._take_skipped()
            whole = state == "whole"
            match = _HEADER.search(line) if whole else None
            if match is not None:
                self._skip(line[: match.start()])
                self._length = int(match.group(1))
                if self._skipped.size:
                    return self._take_skipped()
            elif whole and not line.strip():
                if self._length is not None:
                    length, self._length = self._length, None
                    return await self._body(length)
            elif not (whole and _FIELD.match(line)):
                self._skip(line)
                if state == "quiet":  # the stream went quiet (or ended) in the middle of a line
                    return self._take_skipped()

    def rest_of_body(self) -> bytes:
        """Bytes already read up to the next header: the tail of a body whose Content-Length was too small."""
        hit = _EMBEDDED.search(self._buf)
        return bytes(self._buf[: hit.start() if hit else _before_partial_header(self._buf)])

    def consume(self, n: int) -> None:
        del self._buf[:n]

    async def _more(self, timeout: float | None) -> bool:
        """Read a chunk into the buffer; False at the end of the stream or when none came within ``timeout``.

        The wait is counted in slices of ``_SLICE_S``: an event loop held up by a slow handler is one slice,
        not a stream that went quiet."""
        if self._eof:
            return False
        chunk = b""
        for _ in range(max(1, round(timeout / _SLICE_S)) if timeout else 1):
            try:
                chunk = await (asyncio.wait_for(self._source(), _SLICE_S) if timeout else self._source())
                break
            except asyncio.TimeoutError:
                continue
        else:
            return False
        if not chunk:
            self._eof = True
            return False
        self._buf += chunk
        return True

    async def _line(self) -> tuple[bytes | None, str]:
        """A line with its newline ("whole"), or a piece of one: "long" (more of it to come) or "quiet" (the
        stream went quiet or ended in the middle of it); None at the end of the stream."""
        while True:
            end = self._buf.find(b"\n")
            if end >= 0:
                return self._cut(end + 1), "whole"
            if len(self._buf) > self.max_line:  # keep the end: a header may be on the rest of this line
                return self._cut(len(self._buf) - _OVERLAP), "long"
            if not await self._more(self.idle_s if self._buf else None):
                return (self._cut(len(self._buf)), "quiet") if self._buf else (None, "quiet")

    async def _body(self, length: int) -> Frame:
        kept, size, tail = bytearray(), 0, b""
        while size < length:
            if not self._buf and not await self._more(self.idle_s):
                break  # quiet or ended: the Content-Length was too large
            piece = bytes(self._buf[: length - size])
            hit = _EMBEDDED.search(tail + piece)
            if hit is not None:  # a header inside the body: the body ends there
                cut = hit.start() - len(tail)
                if cut < 0:
                    self._buf[:0] = tail[cut:]
                else:
                    del self._buf[:cut]
                size += cut
                kept += piece[: max(0, min(cut, self.max_body - len(kept)))]
                return Frame(bytes(kept[:size]), length, size)
            del self._buf[: len(piece)]
            kept += piece[: max(0, self.max_body - len(kept))]
            size += len(piece)
            tail = (tail + piece)[-_OVERLAP:]
        back = await self._header_across_end(tail) if size == length else 0
        if back:
            self._buf[:0] = tail[-back:]
            size -= back
        return Frame(bytes(kept[:size]), length, size)

    async def _header_across_end(self, tail: bytes) -> int:
        """Bytes at the end of a body that begin a header running on past it (a Content-Length too large by
        less than a header's length); 0 when there is none. A JSON text never ends with a header's start."""
        start = _before_partial_header(tail)
        if start == len(tail):
            return 0
        while b"\n" not in self._buf[:_OVERLAP] and len(self._buf) < _OVERLAP and await self._more(self.idle_s):
            pass
        return len(tail) - start if _EMBEDDED.match(tail[start:] + bytes(self._buf[:_OVERLAP])) else 0

    def _cut(self, n: int) -> bytes:
        line = bytes(self._buf[:n])
        del self._buf[:n]
        return line

    def _skip(self, data: bytes) -> None:
        if data.strip():
            room = KEEP_HEAD - len(self._skipped.head)
            self._skipped = Skipped(self._skipped.size + len(data), self._skipped.head + data[: max(0, room)])

    def _take_skipped(self) -> Skipped | None:
        skipped, self._skipped = self._skipped, Skipped(0, b"")
        return skipped if skipped.size else None


def _before_partial_header(data: bytes | bytearray) -> int:
    """Where a header that has only begun to arrive starts at the end of ``data`` (``len(data)`` if none)."""
    for start in range(max(0, len(data) - _OVERLAP), len(data)):
        end = bytes(data[start:]).lower()
        if b"content-length".startswith(end) or _HEADER_START.match(end):
            return start
    return len(data)


async def pump(reader: FrameReader, protocol: DiffillProtocol) -> None:
    """Read frames until the stream ends; every body is parsed and handed to the protocol, or answered."""
    while (item := await reader.next()) is not None:
        if isinstance(item, Skipped):
            protocol.skipped(item.size, item.head)
        elif item.too_large:
            reason = f"message of {item.size} bytes, over the limit of {reader.max_body}"
            protocol.reject_body(item.body, INVALID_REQUEST, reason)
        else:
            _receive(reader, protocol, item)


def _receive(reader: FrameReader, protocol: DiffillProtocol, frame: Frame) -> None:
    try:
        data = parse_body(frame.body)
    except ParseError as exc:
        data = _with_rest(reader, protocol, frame.body)
        if data is None:
            protocol.reject_body(frame.body, PARSE_ERROR, f"Parse error: body of {frame.size} bytes is {exc}")
            return
    else:
        if frame.size != frame.declared:
            protocol.note("Content-Length %d, but the body ended after %d bytes", frame.declared, frame.size)
    protocol.receive(data)


def _with_rest(reader: FrameReader, protocol: DiffillProtocol, body: bytes) -> Any:
    """The message when the bytes after ``body`` complete it (its Content-Length was too small), else None."""
    rest = reader.rest_of_body()
    if not rest.strip():
        return None
    try:
        data = parse_body(body + rest)
    except ParseError:
        return None
    reader.consume(len(rest))
    protocol.note("Content-Length %d, but the body ran on for %d more bytes", len(body), len(rest))
    return data


def stdin_source(stdin: BinaryIO, loop: asyncio.AbstractEventLoop) -> ChunkSource:
    """Chunks of ``stdin`` read by a thread (reads block), at most ``READ_AHEAD`` ahead of the loop."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    room = threading.Semaphore(READ_AHEAD)
    read = getattr(stdin, "read1", stdin.read)

    def reading() -> None:
        chunk = b"-"
        while chunk:
            room.acquire()
            try:
                chunk = read(CHUNK)
            except (OSError, ValueError):
                chunk = b""
            try:
                loop.call_soon_threadsafe(queue.put_nowait, chunk)
            except RuntimeError:  # the loop is closed
                return

    threading.Thread(target=reading, name="diffill-stdin", daemon=True).start()

    async def next_chunk() -> bytes:
        chunk = await queue.get()
        room.release()
        return chunk

    return next_chunk


def serve_io(server: JsonRPCServer, stdin: BinaryIO, stdout: BinaryIO) -> None:
    """pygls's ``start_io`` with this module's reader: until the client closes stdin (or sends ``exit``)."""
    protocol = _protocol(server)
    protocol.set_writer(StdoutWriter(stdout))

    async def run() -> None:
        await pump(FrameReader(stdin_source(stdin, asyncio.get_running_loop())), protocol)

    try:
        asyncio.run(run())
    except BrokenPipeError:
        log.error("the client closed the connection")
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.shutdown()


def serve_tcp(server: JsonRPCServer, host: str, port: int) -> None:
    """pygls's ``start_tcp`` with this module's reader: one client at a time, until it disconnects."""
    protocol = _protocol(server)

    async def run() -> None:
        done = asyncio.Event()

        async def connection(stream: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            protocol.set_writer(writer)  # type: ignore[arg-type]
            await pump(FrameReader(lambda: stream.read(CHUNK)), protocol)
            done.set()

        listener = await asyncio.start_server(connection, host, port)
        log.info("listening on %s", ", ".join(str(s.getsockname()) for s in listener.sockets))
        async with listener:
            await done.wait()

    try:
        asyncio.run(run())
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.shutdown()


def _protocol(server: JsonRPCServer) -> DiffillProtocol:
    protocol = server.protocol
    if not isinstance(protocol, DiffillProtocol):
        raise TypeError(f"the server's protocol must be a DiffillProtocol, not {type(protocol).__name__}")
    return protocol
