"""Driving a real ``diffill serve`` process: a raw LSP client, and a tiny model to drive it with.

The fuzzer and the memory benchmark talk to the server through ``Wire``, not through pygls's client: they must
be able to send bytes no library would build (bad JSON, lying headers, wrong-typed ids). A thread reads the
server's stdout and keeps each response by its id (``key(id)``: the JSON text, so ``1`` and ``"1"`` differ),
error replies with a null id apart, and answers the server's own requests as an editor would (``answer``).
``tiny_model`` saves a random 1-layer checkpoint (as the tests' ``tiny_model_dir``): its text is gibberish,
but every request goes through the whole server in milliseconds.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

Answer = Callable[[dict[str, Any]], dict[str, Any]]


def key(msg_id: Any) -> str:
    """A response's id as a dictionary key (the JSON text: ``1`` and ``"1"`` are different ids)."""
    return json.dumps(msg_id)


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def polite_answer(request: dict[str, Any]) -> dict[str, Any]:
    """What an editor answers to the server's requests: edits applied, progress created, no configuration."""
    results: dict[str, Any] = {"workspace/applyEdit": {"applied": True}, "workspace/configuration": [None]}
    return {"jsonrpc": "2.0", "id": request.get("id"), "result": results.get(request.get("method", ""))}


def tiny_model(out: Path) -> Path:
    """A random ModernBERT checkpoint (32 hidden, 1 layer) with a 600-token BPE trained on the stdlib."""
    import sysconfig

    import torch
    from transformers import AutoTokenizer

    from training.modeling import ModelConfig, new_model
    from training.tokenizer import save_tokenizer, train_tokenizer

    files = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[:40]
    texts = [p.read_text(encoding="utf-8", errors="ignore") for p in files]
    config = ModelConfig(hidden=32, layers=1, heads=1, intermediate=64, max_length=256)
    save_tokenizer(train_tokenizer(texts, vocab_size=600, max_length=config.max_length), out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    torch.manual_seed(0)
    new_model(config, tokenizer).save_pretrained(out)
    return out


def serve_command(model: Path | None, log_file: Path, *extra: str) -> list[str]:
    cmd = [sys.executable, "-m", "lsp_server.cli", "serve", "--log-file", str(log_file), *extra]
    return cmd + (["--model", str(model)] if model is not None else [])


class Wire:
    """One server process and what came back from it."""

    def __init__(self, command: list[str], answer: Answer = polite_answer, cwd: Path | None = None) -> None:
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=cwd
        )
        self.answer = answer
        self.responses: dict[str, list[dict[str, Any]]] = {}
        self.null_errors: list[dict[str, Any]] = []
        self.notifications: Counter[str] = Counter()
        self.server_requests: Counter[str] = Counter()
        self.unreadable = 0  # frames from the server that were not JSON (must stay 0)
        self.broken = False  # the server closed its stdin
        self._outbox: queue.Queue[bytes] = queue.Queue()  # a thread writes: the reader never waits on a write
        self._seen = threading.Condition()
        threading.Thread(target=self._write, daemon=True).start()
        threading.Thread(target=self._read, daemon=True).start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def send_raw(self, data: bytes) -> None:
        """Queue ``data`` for the server's stdin (written in order by the writer thread)."""
        self._outbox.put(data)

    def _write(self) -> None:
        stream = self.proc.stdin
        assert stream is not None
        try:
            while data := self._outbox.get():
                stream.write(data)
                stream.flush()
            stream.close()
        except (BrokenPipeError, OSError, ValueError):
            self.broken = True

    def send(self, message: Any) -> None:
        self.send_raw(frame(json.dumps(message).encode()))

    def request(self, msg_id: int | str, method: str, params: Any = None) -> str:
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return key(msg_id)

    def notify(self, method: str, params: Any = None) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def call(self, msg_id: int | str, method: str, params: Any = None, timeout: float = 60.0) -> dict[str, Any]:
        """Send a request and wait for its response (AssertionError when none comes)."""
        k = self.request(msg_id, method, params)
        if self.wait([k], timeout):
            raise AssertionError(f"no answer to {method} ({msg_id}) within {timeout} s")
        return self.responses[k][0]

    def wait(self, keys: Iterable[str], timeout: float) -> set[str]:
        """Wait until each key has a response; the keys still unanswered at the deadline."""
        missing = set(keys)
        deadline = time.monotonic() + timeout
        with self._seen:
            while True:
                missing = {k for k in missing if k not in self.responses}
                left = deadline - time.monotonic()
                if not missing or left <= 0 or self.proc.poll() is not None:
                    return missing
                self._seen.wait(min(left, 0.5))

    def wait_null_errors(self, count: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        with self._seen:
            while len(self.null_errors) < count and time.monotonic() < deadline and self.proc.poll() is None:
                self._seen.wait(0.1)
            return len(self.null_errors)

    def rss_kib(self) -> int:
        """The server's resident set size from /proc (KiB)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError(f"no VmRSS for process {self.pid}")

    def close(self, timeout: float = 30.0) -> int | None:
        """shutdown, then exit; the exit code (None when the server had to be killed)."""
        if self.proc.poll() is None:
            if self.wait([self.request("diffill-wire-shutdown", "shutdown")], timeout):
                self.proc.kill()  # it did not answer shutdown: it cannot be trusted to exit
            self.notify("exit")
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None
        finally:
            self._outbox.put(b"")  # the writer stops
            if self.proc.stdout is not None:
                self.proc.stdout.close()

    def _read(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        while True:
            length = self._header(stream)
            if length is None:
                break
            body = stream.read(length)
            if len(body) < length:
                break
            self._dispatch(body)
        with self._seen:
            self._seen.notify_all()

    @staticmethod
    def _header(stream: Any) -> int | None:
        length = None
        while True:
            line = stream.readline()
            if not line:
                return None
            if line in (b"\r\n", b"\n") and length is not None:
                return length
            name, _, value = line.decode("ascii", "replace").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())

    def _dispatch(self, body: bytes) -> None:
        try:
            message = json.loads(body)
        except ValueError:
            self.unreadable += 1
            return
        if "method" in message and "id" in message:
            self.server_requests[message["method"]] += 1
            self.send(self.answer(message))
            return
        with self._seen:
            if "method" in message:
                self.notifications[message["method"]] += 1
            elif message.get("id") is None:
                self.null_errors.append(message)
            else:
                self.responses.setdefault(key(message["id"]), []).append(message)
            self._seen.notify_all()
