"""Character offsets <-> LSP positions, and TextEdits / WorkspaceEdits built from offsets.

The engine works in character offsets of the document's text; the client speaks positions in the
negotiated encoding (UTF-16 code units unless it asked otherwise). Lines end at ``\\n``, ``\\r\\n`` or ``\\r``
as in the LSP (not at the other separators that ``str.splitlines`` knows). Units are counted with the
document's pygls position codec. A position past the end of a line means the line's end (LSP rule); a
line past the end of the document is ``None``.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence

from lsprotocol import types
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import PositionCodec

_BREAK = re.compile(r"\r\n|\r|\n")


class LineIndex:
    """Line starts of one text, to convert offsets and positions both ways."""

    def __init__(self, text: str, codec: PositionCodec | None = None) -> None:
        self.text = text
        self.codec = codec or PositionCodec()
        self.starts = [0] + [m.end() for m in _BREAK.finditer(text)]
        self.ends = [m.start() for m in _BREAK.finditer(text)] + [len(text)]  # line content ends

    @classmethod
    def of(cls, doc: TextDocument) -> LineIndex:
        return cls(doc.source, doc.position_codec)

    def offset(self, position: types.Position) -> int | None:
        """Character offset of ``position``, or None when its line is outside the text."""
        if not 0 <= position.line < len(self.starts) or position.character < 0:
            return None
        start, end = self.starts[position.line], self.ends[position.line]
        units = 0
        for i in range(start, end):
            if units >= position.character:
                return i
            units += self.codec.client_num_units(self.text[i])
        return end

    def position(self, offset: int) -> types.Position:
        """Position of a character offset (clamped to the text)."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self.starts, offset) - 1
        start = self.starts[line]
        column = min(offset, self.ends[line])  # an offset inside "\r\n" is the end of its line
        return types.Position(line=line, character=self.codec.client_num_units(self.text[start:column]))

    def range(self, start: int, end: int) -> types.Range:
        return types.Range(start=self.position(start), end=self.position(end))

    def line_of(self, offset: int) -> tuple[int, int]:
        """(start, end) offsets of the content of the line holding ``offset``."""
        line = bisect.bisect_right(self.starts, offset) - 1
        return self.starts[line], self.ends[line]


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
