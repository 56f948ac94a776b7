"""Cutting holes from an evaluation file: candidate ranges of each kind and a seeded, capped, disjoint draw.

A task's middle is a character range ``[start, end)`` of the file; the prompt is all the text before it and
the suffix all the text after it, so the whole file is the context. Line holes follow HumanEval-infilling:
the middle holds whole lines with their indentation and their newline, so the prompt ends with ``\\n``.
"""

from __future__ import annotations

import ast
import itertools
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from benchmarks.repo_bench.split import parse_python
from benchmarks.repo_bench.taskfile import Kind, RepoTask, task_id

FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
BRACKETS_ONLY = re.compile(r"[\s()\[\]{},:;]*")


@dataclass(frozen=True)
class CutConfig:
    """How many holes of each kind one file gives at most, and their sizes."""

    single_line: int = 5
    multi_line: int = 4
    random_span: int = 3
    min_line_chars: int = 8  # non-space characters of a single-line middle
    min_lines: int = 2  # lines of a multi-line middle
    max_lines: int = 6
    min_span: int = 3  # characters of a random span
    max_span: int = 120
    min_body: int = 24  # characters of a function body that random spans are cut from (skips ``...`` stubs)

    def cap(self, kind: Kind) -> int:
        return {
            Kind.SINGLE_LINE: self.single_line,
            Kind.MULTI_LINE: self.multi_line,
            Kind.RANDOM_SPAN: self.random_span,
        }[kind]


@dataclass(frozen=True)
class Range:
    """Characters ``[start, end)`` of the file."""

    start: int
    end: int

    def overlaps(self, other: Range) -> bool:
        return self.start < other.end and other.start < self.end


class Source:
    """A file's text, its lines (each with its ``\\n``), where each line starts, and its AST."""

    def __init__(self, text: str, tree: ast.Module) -> None:
        pieces = text.split("\n")
        self.text = text
        self.lines = [p + "\n" for p in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])
        self.starts = [0, *itertools.accumulate(len(line) for line in self.lines)]  # starts[i]: where line i+1 starts
        self.tree = tree

    def line_range(self, first: int, last: int) -> Range:
        """Lines ``first..last`` (1-based, inclusive) with their newlines."""
        return Range(self.starts[first - 1], self.starts[last])

    def column(self, lineno: int, byte_col: int) -> int:
        """The character column of an AST position in its line (``col_offset`` counts UTF-8 bytes)."""
        line = self.lines[lineno - 1]
        return byte_col if line.isascii() else len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))

    def before(self, lineno: int, byte_col: int) -> str:
        """The text of the line before an AST position."""
        return self.lines[lineno - 1][: self.column(lineno, byte_col)]

    def offset(self, lineno: int, byte_col: int) -> int:
        """The character offset of an AST position in the file."""
        return self.starts[lineno - 1] + self.column(lineno, byte_col)


def cut_file(text: str, repo: str, path: str, seed: int, config: CutConfig | None = None) -> list[RepoTask]:
    """The tasks of one file, by kind then position; the same inputs always give the same tasks."""
    config = config or CutConfig()
    tree = parse_python(text)
    if tree is None:
        return []
    source = Source(text, tree)
    tasks: list[RepoTask] = []
    for kind in Kind:
        rng = random.Random(f"{seed}:{repo}:{path}:{kind.value}")
        if kind is Kind.RANDOM_SPAN:
            picks = draw_spans(source, function_bodies(source), config, rng)
        else:
            candidates = single_lines(source, config) if kind is Kind.SINGLE_LINE else multi_lines(source, config)
            picks = pick_disjoint(candidates, config.cap(kind), rng)
        for n, r in enumerate(sorted(picks, key=lambda r: r.start)):
            prompt, middle, suffix = text[: r.start], text[r.start : r.end], text[r.end :]
            tasks.append(RepoTask(task_id(repo, path, kind, n), prompt, suffix, middle, repo, path, kind.value))
    return tasks


def pick_disjoint(candidates: Sequence[Range], cap: int, rng: random.Random) -> list[Range]:
    """Up to ``cap`` candidates in a seeded random order, skipping any that overlaps one already taken."""
    order = list(candidates)
    rng.shuffle(order)
    taken: list[Range] = []
    for r in order:
        if len(taken) == cap:
            break
        if not any(r.overlaps(t) for t in taken):
            taken.append(r)
    return taken


# --- single lines ---------------------------------------------------------------------------------


def string_lines(tree: ast.Module) -> set[int]:
    """Lines inside docstrings and other bare string statements, and inside multi-line string literals."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, (ast.expr, ast.stmt)):
            continue
        end = node.end_lineno or node.lineno
        if _is_bare_string(node) or (_is_string(node) and end > node.lineno):
            lines.update(range(node.lineno, end + 1))
    return lines


def single_lines(source: Source, config: CutConfig) -> list[Range]:
    """Code lines: not blank, not a comment, not in a string, not brackets alone, ``min_line_chars`` or more."""
    strings = string_lines(source.tree)
    out = []
    for lineno, line in enumerate(source.lines, start=1):
        code = line.strip()
        if lineno in strings or code.startswith("#") or BRACKETS_ONLY.fullmatch(code):
            continue
        if sum(not c.isspace() for c in code) >= config.min_line_chars:
            out.append(source.line_range(lineno, lineno))
    return out


# --- whole statements -------------------------------------------------------------------------------


def blocks_in_functions(node: ast.AST, inside: bool = False) -> Iterator[list[ast.stmt]]:
    """Every statement list that lies inside a function body (the body itself and the blocks nested in it)."""
    inside = inside or isinstance(node, FUNCTIONS)
    for name in ("body", "orelse", "finalbody"):
        block = getattr(node, name, None)
        if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
            if inside:
                yield block
            for stmt in block:
                yield from blocks_in_functions(stmt, inside)
    for child in [*getattr(node, "handlers", []), *getattr(node, "cases", [])]:
        yield from blocks_in_functions(child, inside)


def multi_lines(source: Source, config: CutConfig) -> list[Range]:
    """Runs of consecutive sibling statements in function bodies that fill ``min_lines..max_lines`` whole lines.

    Bare strings (docstrings) end a run; so does any statement that shares a line with code outside the run.
    """
    out: set[Range] = set()
    for block in blocks_in_functions(source.tree):
        for i, first in enumerate(block):
            start_line = _first_line(first)
            for last in block[i:]:
                end_line = last.end_lineno or last.lineno
                if _is_bare_string(last) or end_line - start_line + 1 > config.max_lines:
                    break
                filled = sum(bool(line.strip()) for line in source.lines[start_line - 1 : end_line])
                if filled >= config.min_lines and _owns_lines(source, first, last):
                    out.add(source.line_range(start_line, end_line))
    return sorted(out, key=lambda r: (r.start, r.end))


def _first_line(stmt: ast.stmt) -> int:
    """The statement's first line, counting its decorators."""
    decorators = getattr(stmt, "decorator_list", [])
    return min([stmt.lineno, *(d.lineno for d in decorators)])


def _owns_lines(source: Source, first: ast.stmt, last: ast.stmt) -> bool:
    """Whether nothing but blanks and a comment shares the lines of statements ``first..last`` with them.

    Only simple statements can share a line (``a = 1; b = 2``); a decorated statement starts its own line.
    """
    if _first_line(first) == first.lineno and source.before(first.lineno, first.col_offset).strip():
        return False
    end_line = last.end_lineno or last.lineno
    after = source.lines[end_line - 1][source.column(end_line, last.end_col_offset or 0) :].strip()
    return not after or after.startswith("#")


# --- random spans ---------------------------------------------------------------------------------


def function_bodies(source: Source) -> list[Range]:
    """Each function's body after its docstring, from its first statement to the end of its last one.

    A first statement on a line of its own starts the range at the start of its line (its indentation too).
    """
    out = []
    for node in ast.walk(source.tree):
        if not isinstance(node, FUNCTIONS):
            continue
        body = node.body[1:] if _is_bare_string(node.body[0]) else node.body
        if not body:
            continue
        first, last = body[0], body[-1]
        if _first_line(first) == first.lineno and source.before(first.lineno, first.col_offset).strip():
            start = source.offset(first.lineno, first.col_offset)  # ``def f(): return 1``: the body shares a line
        else:
            start = source.starts[_first_line(first) - 1]
        out.append(Range(start, source.offset(last.end_lineno or last.lineno, last.end_col_offset or 0)))
    return sorted(out, key=lambda r: (r.start, r.end))


def draw_spans(source: Source, bodies: Sequence[Range], config: CutConfig, rng: random.Random) -> list[Range]:
    """Up to ``random_span`` disjoint spans of ``min_span..max_span`` characters, each inside one function body.

    A body of ``min_body`` characters or more is drawn uniformly, then a length, then a start; a span with
    fewer than three non-space characters is drawn again (at most 50 tries per span).
    """
    bodies = [b for b in bodies if b.end - b.start >= config.min_body]
    taken: list[Range] = []
    for _ in range(50 * config.random_span):
        if len(taken) == config.random_span or not bodies:
            break
        body = rng.choice(bodies)
        length = rng.randint(config.min_span, min(config.max_span, body.end - body.start))
        start = rng.randint(body.start, body.end - length)
        span = Range(start, start + length)
        if sum(not c.isspace() for c in source.text[span.start : span.end]) < 3:
            continue
        if not any(span.overlaps(t) for t in taken):
            taken.append(span)
    return taken


def _is_string(node: ast.AST) -> bool:
    return (isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes))) or isinstance(node, ast.JoinedStr)


def _is_bare_string(node: ast.AST) -> bool:
    """A statement that is only a string: a docstring, or a comment written as a string."""
    return isinstance(node, ast.Expr) and _is_string(node.value)
