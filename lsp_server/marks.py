"""Uncertain marks: the parts of a fill or rewrite whose tokens the model was unsure of, in the edited document.

A job returns ``Replacement``s: a range of the text the request read, its new text, and each token's
(start, end, confidence) in that new text. ``marks_after`` merges the tokens below a level into runs
(``diffill.confidence.uncertain_ranges``) and places them in the document as the edits leave it: each
replacement's start moves by the length changes of the replacements before it. ``PendingMarks`` keeps the
marks of a resolved code action until the client runs its ``diffill.showMarks`` command after the edit.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pygls.workspace.position_codec import PositionCodec

from diffill.confidence import TokenSpan, uncertain_ranges
from lsp_server.edits import LineIndex
from lsp_server.protocol import MARKS, Mark, MarksParams

if TYPE_CHECKING:
    from lsp_server.server import DiffillServer


@dataclass(frozen=True)
class Replacement:
    """Replace ``text[start:end]`` of the request's text with ``new``; ``tokens`` are offsets in ``new``."""

    start: int
    end: int
    new: str
    tokens: tuple[TokenSpan, ...] = ()


def edited_text(text: str, replacements: Sequence[Replacement]) -> str:
    """``text`` with every (non-overlapping) replacement applied."""
    out, cursor = [], 0
    for r in sorted(replacements, key=lambda r: r.start):
        out += [text[cursor : r.start], r.new]
        cursor = r.end
    return "".join(out) + text[cursor:]


def uncertain_offsets(replacements: Sequence[Replacement], below: float) -> list[TokenSpan]:
    """(start, end, lowest confidence) of each uncertain run, as offsets of the edited text."""
    out: list[TokenSpan] = []
    shift = 0
    for r in sorted(replacements, key=lambda r: r.start):
        at = r.start + shift
        out += [(at + a, at + b, conf) for a, b, conf in uncertain_ranges(r.tokens, below, r.new)]
        shift += len(r.new) - (r.end - r.start)
    return out


def marks_after(
    text: str, replacements: Sequence[Replacement], below: float, codec: PositionCodec | None = None
) -> list[Mark]:
    """The marks of the tokens below ``below`` (none when it is 0), with ranges in the edited document."""
    if below <= 0:
        return []
    runs = uncertain_offsets(replacements, below)
    if not runs:
        return []
    index = LineIndex(edited_text(text, replacements), codec)
    return [Mark(range=index.range(a, b), confidence=conf) for a, b, conf in runs]


def send_marks(server: DiffillServer, uri: str, edited: str, marks: list[Mark]) -> None:
    """``diffill/marks`` for a document the client just edited (``edited``: its text after the edit); the
    version is the document's when the server already holds that text, else null."""
    doc = server.document(uri)
    version = doc.version if doc is not None and doc.source == edited else None
    server.protocol.notify(MARKS, MarksParams(uri=uri, version=version, marks=marks))


@dataclass(frozen=True)
class Pending:
    """Marks waiting for their edit: the document, its text once edited, the marks."""

    uri: str
    edited: str
    marks: list[Mark]


class PendingMarks:
    """The marks of the latest resolved code actions, by key (the ``diffill.showMarks`` argument)."""

    def __init__(self, keep: int = 32) -> None:
        self._keep = keep
        self._items: OrderedDict[str, Pending] = OrderedDict()

    def put(self, key: str, pending: Pending) -> None:
        self._items[key] = pending
        while len(self._items) > self._keep:
            self._items.popitem(last=False)

    def pop(self, key: object) -> Pending | None:
        return self._items.pop(key, None) if isinstance(key, str) else None
