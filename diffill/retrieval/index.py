"""A BM25 index (``bm25s``) over fixed-size line windows of a workspace's files, updated file by file.

Files are cut into windows of ``CHUNK_LINES`` lines every ``CHUNK_STRIDE`` lines (RepoCoder's retrieval
database). Code is tokenized into identifiers and their snake_case / camelCase parts. The BM25 index is
rebuilt on the first search after a change, or, with ``rebuild_on_search`` off, only by ``rebuild`` (which a
background thread calls, while searches use the last index built). The text kept is bounded
(``max_bytes``); a file that would exceed the bound is left out, and ``left_out`` says which.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass

import bm25s
import numpy as np

logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets DEBUG on import: every rebuild would log

CHUNK_LINES = 20
CHUNK_STRIDE = 10
MAX_BYTES = 32 * 1024 * 1024

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+")
_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


@dataclass(frozen=True)
class Chunk:
    """Lines ``start:end`` (0-based, end exclusive) of the file ``path``."""

    path: str
    start: int
    end: int
    text: str


def code_tokens(text: str) -> list[str]:
    """Identifiers and numbers, lower-cased, and the parts of compound identifiers: ``readLines`` gives
    ``readlines``, ``read``, ``lines``; ``max_len`` gives ``max_len``, ``max``, ``len``."""
    out: list[str] = []
    for word in _WORD.findall(text):
        low = word.lower()
        out.append(low)
        parts = [p.lower() for p in _PART.findall(word)]
        if len(parts) > 1:
            out.extend(parts)
    return out


def chunk_file(path: str, text: str, lines: int = CHUNK_LINES, stride: int = CHUNK_STRIDE) -> list[Chunk]:
    """Windows of ``lines`` lines every ``stride`` lines (the last one reaching the file's end); blank ones
    are dropped."""
    rows = text.splitlines(keepends=True)
    out = []
    start = 0
    while start < len(rows):
        end = min(len(rows), start + lines)
        body = "".join(rows[start:end])
        if body.strip():
            out.append(Chunk(path, start, end, body))
        if end == len(rows):
            break
        start += stride
    return out


class CodeIndex:
    """Chunks of many files and a BM25 index over them; thread-safe."""

    def __init__(self, max_bytes: int = MAX_BYTES, rebuild_on_search: bool = True) -> None:
        self.max_bytes = max_bytes
        self.rebuild_on_search = rebuild_on_search
        self._files: dict[str, tuple[int, list[Chunk]]] = {}  # path -> (bytes, chunks)
        self._bytes = 0
        self.left_out: set[str] = set()  # files the byte bound kept out
        self._lock = threading.Lock()
        self._dirty = True
        self._retriever: bm25s.BM25 | None = None
        self._chunks: list[Chunk] = []

    def __len__(self) -> int:
        return len(self._files)

    @property
    def bytes(self) -> int:
        return self._bytes

    @property
    def dirty(self) -> bool:
        """Files changed since the last ``rebuild``."""
        return self._dirty

    def has(self, path: str) -> bool:
        return path in self._files

    def set_file(self, path: str, text: str) -> bool:
        """Index ``text`` as the contents of ``path`` (replacing what it held); False when over the bound."""
        size = len(text.encode("utf-8", "surrogatepass"))
        with self._lock:
            old = self._files.get(path, (0, []))[0]
            if self._bytes - old + size > self.max_bytes:
                self.left_out.add(path)
                return False
            self._files[path] = (size, chunk_file(path, text))
            self._bytes += size - old
            self.left_out.discard(path)
            self._dirty = True
        return True

    def remove_file(self, path: str) -> None:
        with self._lock:
            entry = self._files.pop(path, None)
            if entry is not None:
                self._bytes -= entry[0]
                self._dirty = True
            self.left_out.discard(path)

    def search(self, query: str, k: int = 8, exclude: str | None = None) -> list[tuple[Chunk, float]]:
        """The ``k`` chunks most like ``query`` (best first, positive scores only), none from ``exclude``."""
        words = code_tokens(query)
        if not words:
            return []
        if self.rebuild_on_search:
            self.rebuild()
        with self._lock:
            retriever, chunks = self._retriever, self._chunks
        if retriever is None or not chunks:
            return []
        wanted = min(len(chunks), k + 64 if exclude else k)  # room for the excluded file's own chunks
        ids, scores = retriever.retrieve([words], k=wanted, show_progress=False, n_threads=1)
        out = []
        for i, score in zip(np.asarray(ids[0]).tolist(), np.asarray(scores[0]).tolist()):
            chunk = chunks[int(i)]
            if score <= 0 or chunk.path == exclude:
                continue
            out.append((chunk, float(score)))
            if len(out) == k:
                break
        return out

    def rebuild(self) -> None:
        """Build the BM25 index of the files as they are now (nothing to do when nothing changed)."""
        with self._lock:
            if not self._dirty:
                return
            chunks = [c for _, (_, file_chunks) in sorted(self._files.items()) for c in file_chunks]
            self._dirty = False
        retriever = None
        corpus = [code_tokens(c.text) or ["_"] for c in chunks]
        if corpus:
            retriever = bm25s.BM25()
            retriever.index(corpus, show_progress=False)
        with self._lock:
            self._retriever, self._chunks = retriever, chunks
