"""Should-complete: is a ghost-text completion worth asking for here, and how much of one?

The first step of the inline pipeline (as in llm-ls): from the text and the cursor, decide between nothing,
the rest of the current line, one new line, or a block. Python is parsed with tree-sitter, to see strings,
comments and block openers (a ``:`` that ends a ``def``/``if``/``for``... header, not a dict or a slice);
other languages get the same rules on the raw text, with ``{`` as the opener.

A large document is not parsed whole at every request (a 2.4 MB file took 1.1 s on the event loop): only a
region around the cursor, a few hundred lines cut at top-level statements (``region_around``), which is
what the decision reads. After a block opener, a block is filled only where the block has no body yet; in
one that has (the next code line is indented deeper than the opener) one line is. An invoked request at the
end of a complete line asks for the next line (or block) rather than the rest of a line that has none.
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
    "function_definition",
    "class_definition",
    "if_statement",
    "elif_clause",
    "else_clause",
    "for_statement",
    "while_statement",
    "with_statement",
    "try_statement",
    "except_clause",
    "except_group_clause",
    "finally_clause",
    "match_statement",
    "case_clause",
    "ERROR",
}
_HEADER_WORDS = {
    "def",
    "class",
    "if",
    "elif",
    "else",
    "for",
    "while",
    "with",
    "try",
    "except",
    "finally",
    "match",
    "case",
    "async",
}
_WORD = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
WHOLE_PARSE_CHARS = 200_000  # a text up to this size is parsed whole; a larger one only around the cursor
REGION_LINES_BEFORE = 300  # the region: this many lines before the cursor's line ...
REGION_LINES_AFTER = 100  # ... and after it, each widened to a top-level statement
REGION_LINES_SEARCH = 200  # how much further a top-level statement is looked for
_CONTINUES = (
    "\\",
    ",",
    ":",
    "(",
    "[",
    "{",
    "=",
    "+",
    "-",
    "*",
    "/",
    "%",
    "&",
    "|",
    "^",
    "<",
    ">",
    ".",
    "@",
    " and",
    " or",
    " not",
    " in",
    " is",
    " if",
    " else",
    " lambda",
    "->",
)


@lru_cache(maxsize=1)
def _parser() -> tree_sitter.Parser:
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_python.language()))


def _is_word(ch: str) -> bool:
    return ch in _WORD or (ch.isalnum() and not ch.isascii())


def should_complete(
    text: str, offset: int, language_id: str | None, policy: Policy | None = None, invoked: bool = False
) -> Decision:
    """Decide what to complete at character ``offset`` of ``text`` (``invoked``: the user asked for it)."""
    policy = policy or Policy()
    syntax = PythonSyntax(text, around=offset) if language_id == "python" else None
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
            if _has_body(text, offset, _indent_of(_previous_code_line(text, offset))):
                return Decision(Mode.SINGLE, "empty line after a block opener whose block has a body")
            return Decision(Mode.BLOCK, "empty line after a block opener")
        if policy.block_on_empty_line:
            return Decision(Mode.BLOCK, "empty line")
        return Decision(Mode.SINGLE, "empty line")
    if ends_line(text, offset) and _opens_block(text, offset, syntax):
        if _has_body(text, offset, _indent_of(_line_at(text, offset))):
            return Decision(Mode.SINGLE, "end of a block opener whose block has a body", open_line=True)
        return Decision(Mode.BLOCK, "end of a block opener", open_line=True)
    if invoked and ends_line(text, offset) and line_complete(text, offset):
        return Decision(Mode.SINGLE, "end of a complete line, invoked: the next line", open_line=True)
    return Decision(Mode.LINE, "after code on the line")


def line_complete(text: str, offset: int) -> bool:
    """The line holding ``offset`` reads as a finished statement: its brackets are closed and it does not
    end with an operator, a comma or a backslash that carries it on to the next line (a comment aside)."""
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    code = _strip_comment(text[start : len(text) if end < 0 else end]).rstrip()
    if not code.strip() or bracket_balance(code) > 0:
        return False
    return not code.endswith(_CONTINUES) and not code.lstrip().startswith("@")


def _strip_comment(line: str) -> str:
    """The line without a trailing ``#`` comment (a ``#`` inside a string literal is kept)."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            quote = "" if ch == quote and line[i - 1] != "\\" else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return line[:i]
    return line


def _line_at(text: str, offset: int) -> str:
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    return text[start : len(text) if end < 0 else end]


def _previous_code_line(text: str, offset: int) -> str:
    """The last non-blank line before the line holding ``offset``."""
    cursor = text.rfind("\n", 0, offset)
    while cursor > 0:
        start = text.rfind("\n", 0, cursor) + 1
        if text[start:cursor].strip():
            return text[start:cursor]
        cursor = start - 1
    return ""


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _has_body(text: str, offset: int, opener_indent: int) -> bool:
    """The first non-blank line after the one holding ``offset`` is indented deeper than the opener: the
    block already has a body, and one line is filled in it rather than a whole block."""
    cursor = text.find("\n", offset)
    while cursor >= 0:
        end = text.find("\n", cursor + 1)
        line = text[cursor + 1 : len(text) if end < 0 else end]
        if line.strip():
            return _indent_of(line) > opener_indent
        cursor = end
    return False


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


def region_around(text: str, offset: int) -> tuple[int, int]:
    """The part of ``text`` parsed for a decision at ``offset``: all of it when it is small, else from a
    top-level statement some ``REGION_LINES_BEFORE`` lines above the cursor to one some
    ``REGION_LINES_AFTER`` lines below (the line before which the region ends)."""
    if len(text) <= WHOLE_PARSE_CHARS:
        return 0, len(text)
    start = text.rfind("\n", 0, offset) + 1
    for _ in range(REGION_LINES_BEFORE):
        if start == 0:
            break
        start = text.rfind("\n", 0, start - 1) + 1
    for _ in range(REGION_LINES_SEARCH):
        if start == 0 or _top_level(text, start):
            break
        start = text.rfind("\n", 0, start - 1) + 1
    end = offset
    for _ in range(REGION_LINES_AFTER):
        end = text.find("\n", end) + 1
        if end == 0:
            return start, len(text)
    for _ in range(REGION_LINES_SEARCH):
        if _top_level(text, end):
            return start, end
        end = text.find("\n", end) + 1
        if end == 0:
            return start, len(text)
    return start, end


def _top_level(text: str, line_start: int) -> bool:
    """The line at ``line_start`` begins a top-level statement (code in its first column, no continuation)."""
    ch = text[line_start : line_start + 1]
    if not ch or not (_is_word(ch) or ch == "@"):
        return False
    return line_start < 2 or text[line_start - 2] != "\\"


class PythonSyntax:
    """A tree-sitter parse of Python text (a large one only around ``around``), asked about character
    offsets of the whole text."""

    def __init__(self, text: str, around: int | None = None) -> None:
        self.start, end = region_around(text, around) if around is not None else (0, len(text))
        self.text = text[self.start : end]
        self.data = self.text.encode("utf-8")
        self.root = _parser().parse(self.data).root_node

    def _byte(self, offset: int) -> int:
        return len(self.text[: max(0, offset - self.start)].encode("utf-8"))

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
