"""Ghost text already computed, served again while the user types through it.

Each suggestion is kept as the document it would make once accepted. A later request whose document is on
the way there (the text before its cursor begins that document and the text after its cursor ends it) is
answered at once with what is still missing, as tabby-agent and llama.vim answer from their caches: typing
the characters the ghost text shows, or deleting some of them again, never waits for the model. So is a
request repeated at the same place, and the first request where a prefetch filled ahead
(``lsp_server/features/prefetch.py``). Any other edit breaks the match, so a stale suggestion is never shown.
"""

from __future__ import annotations

from collections.abc import Iterable


class Suggestions:
    """The last few accepted-document results per document, newest first, for the documents used last."""

    def __init__(self, per_document: int = 8, documents: int = 16, chars: int = 2_000_000) -> None:
        self.per_document = per_document
        self.documents = documents
        self.chars = chars  # per document, over its results: a huge file keeps fewer (at least one)
        self._results: dict[str, list[str]] = {}  # in order of use, the last used last

    def add(self, uri: str, document: str, start: int, end: int, inserts: Iterable[str]) -> None:
        """Remember items that replace ``document[start:end]`` with each of ``inserts``."""
        kept = self._results.pop(uri, [])
        self._results[uri] = kept
        while len(self._results) > self.documents:
            del self._results[next(iter(self._results))]
        for insert in reversed(list(inserts)):
            result = document[:start] + insert + document[end:]
            if result != document:
                if result in kept:
                    kept.remove(result)
                kept.insert(0, result)
        del kept[max(1, min(self.per_document, self.chars // max(1, len(document)))) :]

    def missing(self, uri: str, document: str, cursor: int) -> list[str]:
        """What a remembered suggestion still adds at ``cursor`` of ``document``, newest first, without repeats.

        A result matches when ``document`` is that result with a non-empty piece cut out at the cursor."""
        out: list[str] = []
        head, tail = document[:cursor], document[cursor:]
        for result in self._results.get(uri, ()):
            gap = len(result) - len(document)
            if gap > 0 and result.startswith(head) and result.endswith(tail):
                piece = result[cursor : cursor + gap]
                if piece not in out:
                    out.append(piece)
        return out

    def forget(self, uri: str) -> None:
        self._results.pop(uri, None)

    def clear(self) -> None:
        """Forget everything (another model answers from now on)."""
        self._results.clear()
