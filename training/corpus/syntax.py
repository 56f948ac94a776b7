"""Syntax-aligned span candidates and chunk cut points from a tree-sitter parse of a whole file.

Kinds: ``line`` (a simple statement, whole lines), ``statements`` (2-4 consecutive statements),
``block`` (a compound statement), ``definition`` (a function or class), ``function_body`` (a function's
statements after its docstring), ``expression`` and ``arguments`` (mid-line). Whole-line kinds run from
the start of the first line (indentation included) through the newline of the last, as in HumanEval
single-line and multi-line infilling.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

from training.corpus.chunking import Cut
from training.corpus.languages import REGISTRY, LanguageSpec, load_language

if TYPE_CHECKING:
    from tree_sitter import Node, Parser, Query

MAX_WINDOW = 4  # most statements in one "statements" span


@dataclass(frozen=True, slots=True)
class Candidate:
    start: int  # character offsets into the file text
    end: int
    kind: str


class OffsetMap:
    """UTF-8 byte offset -> character offset, for the positions tree-sitter reports."""

    def __init__(self, text: str, data: bytes) -> None:
        self._prefix: np.ndarray | None = None
        if len(data) != len(text):
            is_start = (np.frombuffer(data, dtype=np.uint8) & 0xC0) != 0x80
            self._prefix = np.concatenate([[0], np.cumsum(is_start)])

    def __call__(self, byte: int) -> int:
        return byte if self._prefix is None else int(self._prefix[byte])


@cache
def _parser(name: str) -> Parser:
    from tree_sitter import Parser

    return Parser(load_language(name))


@cache
def _query(name: str) -> Query:
    from tree_sitter import Query

    spec = REGISTRY[name]
    language = load_language(name)
    groups = {
        "line": spec.line_types,
        "block": spec.block_types,
        "definition": spec.definition_types,
        "function": spec.function_types,
        "expression": spec.expression_types,
        "arguments": spec.argument_types,
        "container": spec.block_container_types,
    }
    parts = []
    for capture, types in groups.items():
        known = sorted(t for t in types if language.id_for_node_kind(t, True))
        if known:
            parts.append("[" + " ".join(f"({t})" for t in known) + f"] @{capture}")
    return Query(language, "\n".join(parts))


class FileSyntax:
    """Candidates and cut points of one file."""

    def __init__(self, text: str, spec: LanguageSpec, max_chars: int) -> None:
        from tree_sitter import QueryCursor

        self.text = text
        self.spec = spec
        self.max_chars = max_chars
        data = text.encode("utf-8")
        self.offset = OffsetMap(text, data)
        self.root = _parser(spec.name).parse(data).root_node
        self.captures: dict[str, list[Node]] = QueryCursor(_query(spec.name)).captures(self.root)
        self.candidates: list[Candidate] = []
        self.cuts: dict[int, Cut] = {}
        self._collect()

    @property
    def has_error(self) -> bool:
        return self.root.has_error

    # -- helpers ----------------------------------------------------------------------------------
    def _span(self, node: Node) -> tuple[int, int]:
        return self.offset(node.start_byte), self.offset(node.end_byte)

    def full_lines(self, start: int, end: int) -> tuple[int, int] | None:
        """The whole lines holding [start, end) if nothing but whitespace/a comment shares them."""
        text = self.text
        line_start = text.rfind("\n", 0, start) + 1
        if text[line_start:start].strip():
            return None
        newline = text.find("\n", end)
        line_end = len(text) if newline == -1 else newline + 1
        tail = text[end:line_end].strip()
        if tail and not tail.startswith(self.spec.line_comment):
            return None
        return line_start, line_end

    def _statements(self, node: Node) -> list[Node]:
        children = [c for c in node.named_children if c.type not in self.spec.comment_types]
        if len(children) == 1 and children[0].type in self.spec.statement_list_types:
            return self._statements(children[0])
        return children

    def _is_docstring(self, node: Node) -> bool:
        return (
            self.spec.docstrings
            and node.type == "expression_statement"
            and node.named_child_count == 1
            and node.named_children[0].type == "string"
        )

    def _add(self, span: tuple[int, int] | None, kind: str) -> None:
        if span is not None and 0 < span[1] - span[0] <= self.max_chars and self.text[span[0] : span[1]].strip():
            self.candidates.append(Candidate(span[0], span[1], kind))

    # -- collection -------------------------------------------------------------------------------
    def _collect(self) -> None:
        get = self.captures.get
        for kind in ("line", "block", "definition"):
            for node in get(kind, []):
                if not node.has_error and node.end_byte - node.start_byte <= 4 * self.max_chars:
                    self._add(self.full_lines(*self._span(node)), kind)
        for node in get("function", []):
            body = node.child_by_field_name("body")
            if body is not None and not body.has_error:
                self._function_body(body)
        for node in get("container", []):
            if not node.has_error:
                self._windows(self._statements(node))
        for node in get("expression", []):
            size = node.end_byte - node.start_byte
            if not node.has_error and size > 1 and size <= 4 * self.max_chars:
                self._add(self._span(node), "expression")
        for node in get("arguments", []):
            if not node.has_error:
                self._arguments(node)
        self._cut_points(get("definition", []))

    def _function_body(self, body: Node) -> None:
        statements = self._statements(body)
        if statements and self._is_docstring(statements[0]):
            statements = statements[1:]
        if statements:
            start, _ = self._span(statements[0])
            _, end = self._span(statements[-1])
            self._add(self.full_lines(start, end), "function_body")

    def _windows(self, statements: list[Node]) -> None:
        for i in range(len(statements) - 1):
            start, _ = self._span(statements[i])
            for size in range(2, min(MAX_WINDOW, len(statements) - i) + 1):
                _, end = self._span(statements[i + size - 1])
                if end - start > self.max_chars:
                    break
                self._add(self.full_lines(start, end), "statements")

    def _arguments(self, node: Node) -> None:
        start, end = self._span(node)
        inner = self.text[start + 1 : end - 1]
        if not inner.strip():
            return
        lead = len(inner) - len(inner.lstrip())
        trail = len(inner) - len(inner.rstrip())
        self._add((start + 1 + lead, end - 1 - trail), "arguments")

    def _cut_points(self, definitions: list[Node]) -> None:
        top = [c for c in self.root.named_children]
        for i, node in enumerate(top):
            lines = self.full_lines(*self._span(node))
            if lines is None:
                continue
            rank = Cut.DEFINITION if node.type in self.spec.definition_types else Cut.STATEMENT
            first = i
            while (
                rank is Cut.DEFINITION
                and first > 0
                and top[first - 1].type in self.spec.comment_types
                and top[first - 1].end_point[0] + 1 >= top[first].start_point[0]
            ):
                first -= 1
            start = self.text.rfind("\n", 0, self._span(top[first])[0]) + 1
            self.cuts[start] = max(rank, self.cuts.get(start, Cut.LINE))
        for node in definitions:
            if node.parent is not None and node.parent != self.root:
                lines = self.full_lines(*self._span(node))
                if lines is not None:
                    self.cuts[lines[0]] = max(Cut.STATEMENT, self.cuts.get(lines[0], Cut.LINE))
