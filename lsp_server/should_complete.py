"""Should-complete: is a ghost-text completion worth asking for here, and how much of one?

The first step of the inline pipeline (as in llm-ls): from the text and the cursor, decide between nothing,
the rest of the current line, one new line, or a block. Python is parsed with tree-sitter, to see strings,
comments and block openers (a ``:`` that ends a ``def``/``if``/``for``... header, not a dict or a slice);
other languages get the same rules on the raw text, with ``{`` as the opener.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import lru_cache

import tree_sitter
import tree_sitter_python

from diffill.holes import ends_line, starts_line
from diffill.postprocess import bracket_balance


class Mode(enum.Enum):
    """What kind of completion fits at the cursor."""

    NONE = "none"  # nothing to complete here
    LINE = "line"  # finish the current line (the cursor follows code on its line)
    SINGLE = "single"  # one line on an empty line
    BLOCK = "block"  # several lines: the body after a block opener


@dataclass(frozen=True)
class Decision:
    """The mode, why, and whether the cursor ends an opener line (the block then starts on a new line)."""

    mode: Mode
    reason: str
    open_line: bool = False


@dataclass(frozen=True)
class Policy:
    """The knobs of the decision (from the settings)."""

    in_comments: bool = False
    in_strings: bool = False
    block_on_empty_line: bool = False


_OPENER_PARENTS = {
    "function_definition", "class_definition", "if_statement", "elif_clause", "else_clause", "for_statement",
    "while_statement", "with_statement", "try_statement", "except_clause", "except_group_clause",
    "finally_clause", "match_statement", "case_clause", "ERROR",
}
_HEADER_WORDS = {
    "def", "class", "if", "elif", "else", "for", "while", "with", "try", "except", "finally", "match", "case",
    "async",
}
_WORD = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


@lru_cache(maxsize=1)
def _parser() -> tree_sitter.Parser:
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_python.language()))


def _is_word(ch: str) -> bool:
    return ch in _WORD or (ch.isalnum() and not ch.isascii())


def should_complete(text: str, offset: int, language_id: str | None, policy: Policy | None = None) -> Decision:
    """Decide what to complete at character ``offset`` of ``text``."""
    policy = policy or Policy()
    syntax = PythonSyntax(text) if language_id == "python" else None
    if syntax is not None:
        where = syntax.literal_at(offset)
        if where == "comment" and not policy.in_comments:
            return Decision(Mode.NONE, "inside a comment")
        if where == "string" and not policy.in_strings:
            return Decision(Mode.NONE, "inside a string")
    after = text[offset : offset + 1]
    if after and _is_word(after):
        return Decision(Mode.NONE, "before a word")
    if starts_line(text, offset):
        if not ends_line(text, offset):
            return Decision(Mode.NONE, "in the indentation of a line of code")
        if _after_opener(text, offset, syntax):
            return Decision(Mode.BLOCK, "empty line after a block opener")
        if policy.block_on_empty_line:
            return Decision(Mode.BLOCK, "empty line")
        return Decision(Mode.SINGLE, "empty line")
    if ends_line(text, offset) and _opens_block(text, offset, syntax):
        return Decision(Mode.BLOCK, "end of a block opener", open_line=True)
    return Decision(Mode.LINE, "after code on the line")


def _after_opener(text: str, offset: int, syntax: PythonSyntax | None) -> bool:
    """The cursor stands on an empty line whose previous non-empty line opens a block."""
    line_start = text.rfind("\n", 0, offset) + 1
    cursor = line_start - 1  # the newline that ends the previous line
    while cursor > 0:
        prev_start = text.rfind("\n", 0, cursor) + 1
        if text[prev_start:cursor].strip():
            return _opens_block(text, cursor, syntax)
        cursor = prev_start - 1
    return False


def _opens_block(text: str, line_end: int, syntax: PythonSyntax | None) -> bool:
    """The line that ends at ``line_end`` ends (before any comment) with a block opener."""
    if syntax is not None:
        return syntax.ends_with_opener(line_end)
    return text[:line_end].rstrip(" \t\r").endswith(("{", ":"))


class PythonSyntax:
    """A tree-sitter parse of Python text, asked about character offsets."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.data = text.encode("utf-8")
        self.root = _parser().parse(self.data).root_node

    def _byte(self, offset: int) -> int:
        return len(self.text[:offset].encode("utf-8"))

    def literal_at(self, offset: int) -> str | None:
        """``"comment"`` or ``"string"`` when the cursor is inside one (f-string interpolations are code)."""
        b = self._byte(offset)
        if b == 0:
            return None
        node: tree_sitter.Node | None = self.root.descendant_for_byte_range(b - 1, b)
        while node is not None:
            if node.type == "interpolation" and node.start_byte < b < node.end_byte:
                return None
            if node.type == "comment" and node.start_byte < b <= node.end_byte:
                return "comment"
            if node.type == "string" and node.start_byte < b < node.end_byte:
                return "string"
            node = node.parent
        return None

    def ends_with_opener(self, line_end: int) -> bool:
        """The last code character before ``line_end`` (skipping a trailing comment) is a block's ``:``."""
        b = self._byte(line_end)
        line_start = self.data.rfind(b"\n", 0, b) + 1
        while b > line_start:
            while b > line_start and self.data[b - 1 : b] in (b" ", b"\t", b"\r"):
                b -= 1
            if b == line_start:
                return False
            node = self.root.descendant_for_byte_range(b - 1, b)
            if node is None:
                return False
            if node.type == "comment":
                b = node.start_byte
                continue
            parent = node.parent
            if node.type != ":" or parent is None or parent.type not in _OPENER_PARENTS:
                return False
            return parent.type != "ERROR" or _looks_like_header(self.data[line_start:b].decode("utf-8", "replace"))
        return False


def _looks_like_header(line: str) -> bool:
    """A line that tree-sitter could not parse still reads as a compound statement's header."""
    words = line.strip().split(None, 1)
    return bool(words) and words[0].rstrip(":") in _HEADER_WORDS and bracket_balance(line) == 0
