"""The fuzzer's messages: a seeded stream of valid, mutated, malformed and mis-framed LSP traffic for diffill.

``Cases(seed).make(n)`` gives the same bytes for the same seed and commands. Each ``Case`` says what the server
owes for it: an answer to one id (``answer``), perhaps an answer (``maybe``: a frame whose header lied, cut
before its id could be read), and replies with a null id (``null_errors``, at least; ``maybe_null`` more at
most). The mix:

- requests of every method diffill registers, with valid params, out-of-range positions and ranges, and with
  one param anywhere in the tree replaced by a value of a wrong type, removed, or joined by an unknown one;
- document traffic: opens (unicode edge cases, a lone surrogate, CR/CRLF endings, huge documents), changes
  with ranges out of the document, closes of unknown documents, cancels of unknown and of pending requests;
- bodies that are no message (not JSON, not UTF-8, ``[]``, ``null``, wrong-typed ids, batches, deep nesting);
- frames whose Content-Length is too small, too large, zero or missing, junk lines, a body over the limit.
"""

from __future__ import annotations

import json
import random
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.lsp_wire import frame, key

WRONG_VALUES: list[Any] = [
    None, True, 0, -1, 2**31, 2**63, -(2**63), 1.5, 1e308, "", "x", "\ud800", "😀\u200d👩", [], [1, "a"], {},
    {"a": {"b": []}},
]  # fmt: skip
BIG_LINES = [-1, 2**31 - 1, 2**31, 10**6]
UNICODE_TEXTS = [
    "x = '😀😀'\ny = ",  # astral characters: two UTF-16 units each
    "s = 'e\u0301\u0301'  # combining\r\nt = ",  # CRLF endings
    "a = 1\rb = 2\rc = ",  # lone CR endings
    "\ufeffdef f():\n    return ???\n",  # a BOM
    "x = '\u202e\u2066'\nname\x00 = ???\n",  # bidi controls and NUL
    "bad = '\ud800\udfff\ud800'\nz = ",  # lone surrogates, escaped in JSON
    "",
    "\n" * 5000,
    "y = " + "1 + " * 30_000 + "???\n",  # one long line
]
HUGE_BYTES = 33 * 2**20  # over the server's MAX_BODY_BYTES (lsp_server/limits.py)


@dataclass
class Case:
    kind: str
    data: bytes
    answer: str | None = None
    maybe: str | None = None
    null_errors: int = 0
    maybe_null: int = 0


@dataclass
class Document:
    uri: str
    text: str
    version: int = 1


def stdlib_snippets(count: int = 12, size: int = 3000) -> list[str]:
    """Pieces of real code, each with two ``???`` holes."""
    files = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[:count]
    out = []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")[:size]
        lines = text.split("\n")
        for row in (len(lines) // 3, 2 * len(lines) // 3):
            if 0 <= row < len(lines):
                lines[row] = lines[row][: len(lines[row]) - len(lines[row].lstrip())] + "???"
        out.append("\n".join(lines))
    return out


@dataclass
class Cases:
    """A seeded generator of cases; ``commands`` are the server's (from its initialize result)."""

    seed: int
    commands: list[str] = field(default_factory=lambda: ["diffill.fillHoles", "diffill.rewriteRange"])
    huge_documents: int = 1
    huge_bodies: int = 1

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.snippets = stdlib_snippets()
        self.docs: dict[str, Document] = {}
        self.count = 0
        self.recent: list[Any] = []  # ids of requests sent lately (for cancels)
        self.mutated_paths: set[str] = set()

    def make(self, n: int) -> list[Case]:
        """The opening documents, then ``n`` cases."""
        cases = [self._open(self.snippets[i % len(self.snippets)]) for i in range(4)]
        kinds: list[tuple[float, Callable[[], Case]]] = [
            (30, self._request), (18, self._mutated), (16, self._document), (5, self._cancel),
            (3, self._configuration), (12, self._bad_body), (10, self._bad_frame),
        ]  # fmt: skip
        weights, makers = zip(*kinds)
        for _ in range(n - self.huge_documents - self.huge_bodies):
            cases.append(self.rng.choices(makers, weights)[0]())
        for _ in range(self.huge_documents):
            cases.insert(self.rng.randrange(4, len(cases) + 1), self._open(self._huge_text(), "huge"))
        for _ in range(self.huge_bodies):
            cases.insert(self.rng.randrange(4, len(cases) + 1), self._huge_body())
        return cases

    # ids and messages

    def _id(self) -> int | str:
        self.count += 1
        return self.count if self.count % 2 else f"fuzz-{self.count}"

    def _message(self, kind: str, method: str, params: Any, request: bool = True) -> Case:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
        if not request:
            return Case(kind, frame(json.dumps(message).encode()))
        message["id"] = msg_id = self._id()
        self.recent = [*self.recent[-9:], msg_id]
        return Case(kind, frame(json.dumps(message).encode()), answer=key(msg_id))

    # documents

    def _doc(self) -> Document:
        if not self.docs:
            self._open(self.rng.choice(self.snippets))
        return self.docs[self.rng.choice(sorted(self.docs))]

    def _open(self, text: str, kind: str = "open") -> Case:
        uri = f"file:///fuzz/{self.rng.choice(['a', 'b', 'ü b', '%20c'])}{len(self.docs)}.py"
        self.docs[uri] = Document(uri, text)
        item = {"uri": uri, "languageId": self.rng.choice(["python"] * 4 + ["rust", ""]), "version": 1, "text": text}
        return self._message(f"notify:{kind}", "textDocument/didOpen", {"textDocument": item}, request=False)

    def _huge_text(self) -> str:
        text = "\n\n".join(self.snippets)
        return (text * (int(2.4 * 2**20) // len(text) + 1))[: int(2.4 * 2**20)]

    def _position(self, doc: Document, wild: bool = False) -> dict[str, int]:
        lines = doc.text.split("\n")
        if wild:
            return {"line": self.rng.choice([*BIG_LINES, len(lines)]), "character": self.rng.choice(BIG_LINES)}
        line = self.rng.randrange(len(lines))
        return {"line": line, "character": self.rng.randrange(len(lines[line]) + 3)}

    def _range(self, doc: Document, wild: bool = False) -> dict[str, Any]:
        a, b = self._position(doc, wild), self._position(doc, wild and self.rng.random() < 0.5)
        ordered = (a, b) if (a["line"], a["character"]) <= (b["line"], b["character"]) else (b, a)
        return {"start": ordered[0], "end": ordered[1]}

    # requests

    def _params(self, method: str, doc: Document, wild: bool) -> Any:
        ident = {"uri": doc.uri}
        rng = self._range(doc, wild)
        return {
            "textDocument/inlineCompletion": lambda: {
                "textDocument": ident, "position": self._position(doc, wild),
                "context": {"triggerKind": self.rng.choice([1, 2])},
            },
            "textDocument/codeAction": lambda: {
                "textDocument": ident, "range": rng, "context": {"diagnostics": [], "only": ["quickfix"]},
            },
            "codeAction/resolve": lambda: {
                "title": "Fill", "kind": "quickfix",
                "data": {"uri": doc.uri, "version": doc.version, "range": rng, "strength": 1.0},
            },
            "diffill/fill": lambda: {"textDocument": ident, "range": rng if self.rng.random() < 0.5 else None,
                                     "strength": self.rng.choice([1.0, 0.4])},
            "diffill/status": lambda: None,
            "workspace/executeCommand": lambda: self._command(doc, rng),
        }[method]()  # fmt: skip

    def _command(self, doc: Document, rng: dict[str, Any]) -> dict[str, Any]:
        command = self.rng.choice(self.commands)
        arguments: list[Any] = {
            "diffill.fillHoles": [doc.uri], "diffill.rewriteRange": [doc.uri, rng, self.rng.choice([1.0, 0.4])],
        }.get(command, [doc.uri])  # fmt: skip
        return {"command": command, "arguments": arguments}

    METHODS = (
        "textDocument/inlineCompletion", "textDocument/codeAction", "codeAction/resolve", "diffill/fill",
        "diffill/status", "workspace/executeCommand",
    )  # fmt: skip

    def _request(self) -> Case:
        method = self.rng.choice(self.METHODS)
        wild = self.rng.random() < 0.3
        return self._message(
            f"request:{method}{':out-of-range' if wild else ''}", method, self._params(method, self._doc(), wild)
        )

    def _mutated(self) -> Case:
        method = self.rng.choice([*self.METHODS, "diffill/prefetch", "textDocument/didChange"])
        doc = self._doc()
        if method == "diffill/prefetch":
            params: Any = {"textDocument": {"uri": doc.uri}, "position": self._position(doc)}
        elif method == "textDocument/didChange":
            params = self._change(doc)
        else:
            params = self._params(method, doc, wild=False)
        wrapped = {"params": params}
        path = self._mutate(wrapped)
        self.mutated_paths.add(f"{method}:{path}")
        request = method not in ("diffill/prefetch", "textDocument/didChange")
        return self._message(f"mutated:{method}", method, wrapped.get("params"), request=request)

    def _mutate(self, root: dict[str, Any]) -> str:
        """Replace, remove or add one member anywhere under ``root["params"]``; the path it changed."""
        paths: list[tuple[Any, Any, str]] = []

        def walk(node: Any, path: str) -> None:
            items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
            for k, child in list(items):
                paths.append((node, k, f"{path}.{k}"))
                walk(child, f"{path}.{k}")

        walk(root, "")
        parent, member, path = self.rng.choice(paths)
        roll = self.rng.random()
        if roll < 0.15 and isinstance(parent, dict):
            del parent[member]
            return f"{path}(removed)"
        if roll < 0.25 and isinstance(parent[member], dict):
            parent[member]["unknownMember"] = self.rng.choice(WRONG_VALUES)
            return f"{path}(extra)"
        parent[member] = self.rng.choice(WRONG_VALUES)
        return path

    # document traffic, cancels, configuration

    def _change(self, doc: Document) -> dict[str, Any]:
        doc.version += 1
        ident = {"uri": doc.uri, "version": doc.version}
        if self.rng.random() < 0.4:  # out of the document: the client broke the protocol, the server survives
            change = {"range": self._range(doc, wild=True), "text": self.rng.choice(["x", "", "😀\n"])}
            return {"textDocument": ident, "contentChanges": [change, {"text": doc.text}]}  # then back in sync
        doc.text = self.rng.choice([doc.text + "\nz = ", doc.text.replace("???", "pass", 1), *UNICODE_TEXTS])
        return {"textDocument": ident, "contentChanges": [{"text": doc.text}]}

    def _document(self) -> Case:
        roll = self.rng.random()
        if roll < 0.25:
            return self._open(self.rng.choice(UNICODE_TEXTS + self.snippets), "open")
        if roll < 0.7:
            doc = self._doc()
            return self._message("notify:change", "textDocument/didChange", self._change(doc), request=False)
        if roll < 0.85 and len(self.docs) > 2:
            uri = self.rng.choice(sorted(self.docs))
            del self.docs[uri]
            return self._message("notify:close", "textDocument/didClose", {"textDocument": {"uri": uri}}, False)
        if roll < 0.9:  # a document never opened
            return self._message(
                "notify:close-unknown", "textDocument/didClose", {"textDocument": {"uri": "x:y"}}, False
            )
        doc = self._doc()
        params = {"textDocument": {"uri": doc.uri}, "position": self._position(doc, self.rng.random() < 0.3)}
        return self._message("notify:prefetch", "diffill/prefetch", params, request=False)

    def _cancel(self) -> Case:
        target = self.rng.choice(self.recent) if self.recent and self.rng.random() < 0.6 else f"unknown-{self.count}"
        return self._message("notify:cancel", "$/cancelRequest", {"id": target}, request=False)

    def _configuration(self) -> Case:
        name = self.rng.choice(
            [
                "steps",
                "lineLength",
                "inlineLength",
                "temperature",
                "candidates",
                "languages",
                "debounceMs",
                "holeMarker",
                "prefetch",
                "minConfidence",
                "preview",
                "endProbability",
            ]
        )
        value = self.rng.choice([*WRONG_VALUES[:10], 2, 4])
        settings = self.rng.choice([{"diffill": {name: value}}, None, 5, {"diffill": None}])
        return self._message("notify:configuration", "workspace/didChangeConfiguration", {"settings": settings}, False)

    # malformed bodies and frames

    def _bad_body(self) -> Case:
        msg_id = self._id()
        request = json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": "diffill/status"})
        bodies: list[tuple[str, bytes, str | None, int]] = [  # kind, body, id answered, null-id replies
            ("not-json", b"{not json", None, 1), ("not-utf8", b'{"a":"\xff\xfe"}', None, 1),
            ("empty-array", b"[]", None, 1), ("null", b"null", None, 1), ("number", b"12", None, 1),
            ("no-method", b'{"jsonrpc":"2.0"}', None, 1), ("nan", request[:-1].encode() + b',"x":NaN}', key(msg_id), 0),
            ("deep", b"[" * 50_000 + b"]" * 50_000, None, 1), ("batch-of-numbers", b"[1,2,3]", None, 3),
            ("object-id", b'{"jsonrpc":"2.0","id":{"a":1},"method":"diffill/status"}', None, 1),
            ("float-id", b'{"jsonrpc":"2.0","id":2.5,"method":"diffill/status"}', None, 1),
            ("old-version", request.replace('"2.0"', '"1.0"').encode(), key(msg_id), 0),
            ("number-method", request.replace('"diffill/status"', "7").encode(), key(msg_id), 0),
            ("unknown-method", request.replace("diffill/status", "diffill/none").encode(), key(msg_id), 0),
            ("batch", f"[{request}]".encode(), key(msg_id), 0),
            ("unknown-notification", b'{"jsonrpc":"2.0","method":"x/y","params":{}}', None, 0),
            ("stray-response", b'{"jsonrpc":"2.0","id":"nobody","result":{}}', None, 0),
        ]  # fmt: skip
        kind, body, answer, nulls = self.rng.choice(bodies)
        return Case(f"body:{kind}", frame(body), answer=answer, null_errors=nulls)

    def _bad_frame(self) -> Case:
        msg_id = self._id()
        body = json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": "diffill/status", "params": None}).encode()
        k, cut = key(msg_id), self.rng.randrange(1, len(body))
        frames: list[Case] = [
            Case("frame:short", b"Content-Length: %d\r\n\r\n" % cut + body, maybe=k, maybe_null=1),
            Case("frame:long", b"Content-Length: %d\r\n\r\n" % (len(body) + cut) + body, answer=k),
            Case("frame:far-too-long", b"Content-Length: 999999999999\r\n\r\n" + body, answer=k),
            Case("frame:missing-header", body, answer=k),
            Case("frame:lowercase-header", b"content-length:%d\n\n" % len(body) + body, answer=k),
            Case("frame:extra-headers", b"Content-Type: x\r\nX-A: b\r\n" + frame(body), answer=k),
            Case("frame:zero", b"Content-Length: 0\r\n\r\n", null_errors=1),
            Case("frame:junk-line", b"this is not a header\r\n"),
        ]
        return self.rng.choice(frames)

    def _huge_body(self) -> Case:
        msg_id = self._id()
        params = {"textDocument": {"uri": "file:///fuzz/huge.py"}, "pad": "p" * HUGE_BYTES}
        body = json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": "diffill/fill", "params": params}).encode()
        return Case("frame:over-the-limit", frame(body), answer=key(msg_id))
