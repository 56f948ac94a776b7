"""Character offsets <-> LSP positions, and TextEdits / WorkspaceEdits built from offsets.

The engine works in character offsets of the document's text; the client speaks positions in the
negotiated encoding (UTF-16 code units unless it asked otherwise). Lines end at ``\\n``, ``\\r\\n`` or ``\\r``
as in the LSP (not at the other separators that ``str.splitlines`` knows). Units are counted with the
document's pygls position codec. A position past the end of a line means the line's end (LSP rule); a
line past the end of the document is ``None``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from lsprotocol import types
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import PositionCodec

_BREAK = re.compile(r"\r\n|\r|\n")


def line_starts(text: str) -> np.ndarray:
    """(lines,) int64: where each line starts (after ``\\n``, ``\\r\\n`` or ``\\r``); vectorised when the text
    holds no ``\\r`` (a 5 MB text in a few milliseconds)."""
    if "\r" in text:
        return np.array([0, *(m.end() for m in _BREAK.finditer(text))], dtype=np.int64)
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)  # (chars,)
    return np.concatenate([np.zeros(1, dtype=np.int64), np.flatnonzero(codes == 10) + 1])


class LineIndex:
    """Line starts of one text, to convert offsets and positions both ways. Immutable: an edit gives a new
    index (``splice``) at the cost of the edit plus a shift of the line starts after it."""

    def __init__(self, text: str, codec: PositionCodec | None = None, starts: np.ndarray | None = None) -> None:
        self.text = text
        self.codec = codec or PositionCodec()
        self.starts = starts if starts is not None else line_starts(text)  # (lines,) int64

    @classmethod
    def of(cls, doc: TextDocument) -> LineIndex:
        """The document's index: kept up to date by a ``lsp_server.documents.Document``, built otherwise."""
        kept = getattr(doc, "line_index", None)
        return kept if isinstance(kept, LineIndex) else cls(doc.source, doc.position_codec)

    @property
    def ends(self) -> Sequence[int]:
        """Where each line's content ends (before its line break)."""
        return _LineEnds(self)

    def line_end(self, line: int) -> int:
        """Where the content of ``line`` ends (before its line break)."""
        if line + 1 >= len(self.starts):
            return len(self.text)
        nxt = int(self.starts[line + 1])
        return nxt - 2 if self.text.startswith("\r\n", nxt - 2) else nxt - 1

    def offset(self, position: types.Position) -> int | None:
        """Character offset of ``position``, or None when its line is outside the text."""
        if not 0 <= position.line < len(self.starts) or position.character < 0:
            return None
        start, end = int(self.starts[position.line]), self.line_end(position.line)
        units = 0
        for i in range(start, end):
            if units >= position.character:
                return i
            units += self.codec.client_num_units(self.text[i])
        return end

    def position(self, offset: int) -> types.Position:
        """Position of a character offset (clamped to the text)."""
        offset = max(0, min(offset, len(self.text)))
        line = self._line(offset)
        start = int(self.starts[line])
        column = min(offset, self.line_end(line))  # an offset inside "\r\n" is the end of its line
        return types.Position(line=line, character=self.codec.client_num_units(self.text[start:column]))

    def range(self, start: int, end: int) -> types.Range:
        return types.Range(start=self.position(start), end=self.position(end))

    def line_of(self, offset: int) -> tuple[int, int]:
        """(start, end) offsets of the content of the line holding ``offset``."""
        line = self._line(offset)
        return int(self.starts[line]), self.line_end(line)

    def _line(self, offset: int) -> int:
        return int(np.searchsorted(self.starts, offset, side="right")) - 1

    def splice(self, start: int, end: int, new: str) -> LineIndex:
        """The index of the text with ``text[start:end]`` replaced by ``new``.

        Only the lines around the edit are scanned again, from the start of the line before it (a ``\\r``
        there may pair with a ``\\n`` the edit brings) to the first line start past it; the starts after
        that move by the change in length (one vector addition)."""
        starts, text = self.starts, self.text
        edited = text[:start] + new + text[end:]
        first = max(0, int(np.searchsorted(starts, start, side="right")) - 2)
        lo = int(starts[first])
        after = int(np.searchsorted(starts, end + 1, side="left"))  # the first line start past the edit
        delta = len(new) - (end - start)
        hi = (int(starts[after]) if after < len(starts) else len(text)) + delta
        rescanned = np.array([m.end() for m in _BREAK.finditer(edited, lo, hi)], dtype=np.int64)
        moved = np.concatenate([starts[: first + 1], rescanned, starts[after + 1 :] + delta])
        return LineIndex(edited, self.codec, moved)


class _LineEnds(Sequence[int]):
    """``LineIndex.ends`` without building the list."""

    def __init__(self, index: LineIndex) -> None:
        self._index = index

    def __len__(self) -> int:
        return len(self._index.starts)

    def __getitem__(self, line):  # type: ignore[override]
        if isinstance(line, slice):
            return [self._index.line_end(i) for i in range(len(self))[line]]
        if not -len(self) <= line < len(self):
            raise IndexError(line)
        return self._index.line_end(line % len(self))


def text_edit(index: LineIndex, start: int, end: int, new_text: str) -> types.TextEdit:
    """Replace ``text[start:end]`` with ``new_text``."""
    return types.TextEdit(range=index.range(start, end), new_text=new_text)


def span_edits(index: LineIndex, replacements: Sequence[tuple[int, int, str]]) -> list[types.TextEdit]:
    """One edit per (start, end, new text); unchanged spans give no edit. Spans must not overlap."""
    edits = []
    for start, end, new in sorted(replacements):
        if index.text[start:end] != new:
            edits.append(text_edit(index, start, end, new))
    return edits


def supports_document_changes(capabilities: types.ClientCapabilities | None) -> bool:
    workspace = capabilities.workspace if capabilities is not None else None
    edit = workspace.workspace_edit if workspace is not None else None
    return bool(edit is not None and edit.document_changes)


def workspace_edit(
    uri: str, version: int | None, edits: list[types.TextEdit], capabilities: types.ClientCapabilities | None
) -> types.WorkspaceEdit:
    """A WorkspaceEdit of one document: versioned ``documentChanges`` (the client refuses it if the document
    changed since ``version``) where the client takes them, else ``changes``."""
    if supports_document_changes(capabilities):
        ident = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version)
        return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(text_document=ident, edits=edits)])
    return types.WorkspaceEdit(changes={uri: edits})


def apply_edits(text: str, edits: Sequence[types.TextEdit], codec: PositionCodec | None = None) -> str:
    """Apply non-overlapping edits as a client does (used by tests and the benchmark)."""
    index = LineIndex(text, codec)
    spans = []
    for edit in edits:
        start, end = index.offset(edit.range.start), index.offset(edit.range.end)
        if start is None or end is None:
            raise ValueError(f"edit range {edit.range} is outside the text")
        spans.append((start, end, edit.new_text))
    out, cursor = [], 0
    for start, end, new in sorted(spans):
        out += [text[cursor:start], new]
        cursor = end
    return "".join(out) + text[cursor:]
