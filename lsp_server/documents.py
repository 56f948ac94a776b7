"""The server's open documents: incremental edits that cost the size of the edit, not of the document.

pygls applies an incremental ``didChange`` by splitting the whole text into lines and writing every line
again (a Python loop over ~100k lines for a 5 MB file, on the event loop, at every keystroke), and each
request used to build a line index of its own (``LineIndex``: a pass over the whole text). A ``Document``
keeps the line index of its text and updates both with each edit: the text is spliced (one copy in C) and
the line starts after the edit are shifted, so a keystroke and a request's position lookup cost
milliseconds on any document. ``install`` makes every document the client opens one of these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote

from lsprotocol import types
from pygls.workspace import TextDocument

from lsp_server.edits import LineIndex

if TYPE_CHECKING:
    from lsp_server.server import DiffillServer


class Document(TextDocument):
    """A pygls ``TextDocument`` that keeps its ``LineIndex`` current through incremental edits."""

    _index: LineIndex | None = None

    @classmethod
    def adopt(cls, doc: TextDocument) -> Document:
        """This document's text, uri, version and settings in a ``Document``."""
        if isinstance(doc, Document):
            return doc
        kind = types.TextDocumentSyncKind
        sync = kind.Full if doc._is_sync_kind_full else kind.None_ if doc._is_sync_kind_none else kind.Incremental
        return cls(
            doc.uri,
            source=doc.source,
            version=doc.version,
            language_id=doc.language_id,
            local=doc._local,
            sync_kind=sync,
            position_codec=doc.position_codec,
        )

    @property
    def line_index(self) -> LineIndex:
        """The line index of the current text (built once, then kept up to date by edits)."""
        if self._index is None or self._index.text is not self.source:
            self._index = LineIndex(self.source, self.position_codec)
        return self._index

    def apply_change(self, change: types.TextDocumentContentChangeEvent) -> None:
        if not isinstance(change, types.TextDocumentContentChangePartial) or self._is_sync_kind_full:
            super().apply_change(change)
            self._index = None
            return
        index = self.line_index
        start, end = index.offset(change.range.start), index.offset(change.range.end)
        if start is None:  # a position below the last line: the end of the text, as pygls does
            start = len(index.text)
        if end is None:
            end = len(index.text)
        start, end = min(start, end), max(start, end)
        self._index = index.splice(start, end, change.text)
        self._source = self._index.text


def install(server: DiffillServer) -> None:
    """Every document the client opens becomes a ``Document`` (pygls has put its own in the workspace just
    before this handler runs)."""

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def on_open(params: types.DidOpenTextDocumentParams) -> None:
        documents = server.workspace.text_documents
        key = unquote(params.text_document.uri)
        doc = documents.get(key)
        if doc is not None:
            documents[key] = Document.adopt(doc)
