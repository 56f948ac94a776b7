"""Ghost text already computed, served again while the user types through it.

Each suggestion is kept as the document it would make once accepted. A later request whose document is on
the way there (the text before its cursor begins that document and the text after its cursor ends it) is
answered at once with what is still missing, as tabby-agent and llama.vim answer from their caches: typing
the characters the ghost text shows, or deleting some of them again, never waits for the model. So is a
request repeated at the same place, and the first request where a prefetch filled ahead
(``lsp_server/features/prefetch.py``). Any other edit breaks the match, so a stale suggestion is never shown.

What is kept is bounded whatever the client does: a few results per document, for the documents used last,
and ``chars`` characters of resulting documents in all (``lsp_server/limits.py``); only the newest result of
the document used last is kept beyond that, so typing through ghost text works in a huge file too. A result
is stored as the document it came from and the edit, not as a copy: the document is the very string the
server holds while it is unchanged, and the candidates of one request share it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lsp_server.limits import SUGGESTION_CHARS


@dataclass(frozen=True)
class _Result:
    """``document[:start] + insert + document[end:]``, without building it."""

    document: str
    start: int
    end: int
    insert: str

    def __len__(self) -> int:
        return len(self.document) - (self.end - self.start) + len(self.insert)

    def text(self, lo: int, hi: int) -> str:
        """``result[lo:hi]`` (0 <= lo <= hi <= len)."""
        doc, start, end, insert = self.document, self.start, self.end, self.insert
        mid = start + len(insert)  # where the document's tail begins in the result
        parts = [doc[lo : min(hi, start)], insert[max(0, lo - start) : max(0, hi - start)]]
        parts.append(doc[end + max(0, lo - mid) : end + max(0, hi - mid)])
        return "".join(parts)

    def is_same(self, other: _Result) -> bool:
        if len(self) != len(other):
            return False
        if self.document is not other.document:
            return self.text(0, len(self)) == other.text(0, len(other))
        # same document, same length: the two agree outside their edits, so compare the edited stretch only
        lo, hi = min(self.start, other.start), max(self.start + len(self.insert), other.start + len(other.insert))
        return self.text(lo, hi) == other.text(lo, hi)


class Suggestions:
    """The last few accepted-document results per document, newest first, for the documents used last."""

    def __init__(self, per_document: int = 8, documents: int = 16, chars: int = SUGGESTION_CHARS) -> None:
        self.per_document = per_document
        self.documents = documents
        self.chars = chars  # over all results (see ``size``): huge files keep fewer (the one used last keeps one)
        self._results: dict[str, list[_Result]] = {}  # in order of use, the last used last

    def add(self, uri: str, document: str, start: int, end: int, inserts: Iterable[str]) -> None:
        """Remember items that replace ``document[start:end]`` with each of ``inserts``."""
        kept = self._results.pop(uri, [])
        self._results[uri] = kept
        for insert in reversed(list(inserts)):
            if insert == document[start:end]:
                continue  # changes nothing
            result = _Result(document, start, end, insert)
            kept[:] = [r for r in kept if not result.is_same(r)]
            kept.insert(0, result)
        del kept[self.per_document :]
        self._bound()

    def _bound(self) -> None:
        """Drop the least recently used documents, then the oldest results, until within the bounds."""
        while len(self._results) > self.documents:
            del self._results[next(iter(self._results))]
        while len(self._results) > 1 and self.size() > self.chars:
            del self._results[next(iter(self._results))]
        if self._results:
            last = self._results[next(reversed(self._results))]
            while len(last) > 1 and self.size() > self.chars:
                last.pop()

    def size(self) -> int:
        """Characters of the documents of all remembered results, each counted whole (more than they hold)."""
        return sum(len(r.document) for kept in self._results.values() for r in kept)

    def missing(self, uri: str, document: str, cursor: int) -> list[str]:
        """What a remembered suggestion still adds at ``cursor`` of ``document``, newest first, without repeats.

        A result matches when ``document`` is that result with a non-empty piece cut out at the cursor."""
        out: list[str] = []
        for result in self._results.get(uri, ()):
            gap = len(result) - len(document)
            if gap <= 0 or not 0 <= cursor <= len(document):
                continue
            if (
                result.text(0, cursor) == document[:cursor]
                and result.text(cursor + gap, len(result)) == document[cursor:]
            ):
                piece = result.text(cursor, cursor + gap)
                if piece not in out:
                    out.append(piece)
        return out

    def forget(self, uri: str) -> None:
        self._results.pop(uri, None)

    def clear(self) -> None:
        """Forget everything (another model answers from now on)."""
        self._results.clear()
