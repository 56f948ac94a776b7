"""Syntax checks for post-processing: does a region of a file parse? (tree-sitter; Python for now).

The engine stays free of tree-sitter: callers hand it a ``RegionCheck`` made here. A region is valid when
no ERROR or MISSING node of the file's parse overlaps it, so other broken places of the file (another
unfilled hole) do not count against it. ``parse_problem`` tells whether a whole input parses with its holes
standing in for code, so ``diffill fill`` can warn before filling a file that is broken elsewhere.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import tree_sitter
import tree_sitter_python

from diffill.holes import Span
from diffill.postprocess import RegionCheck

_SUFFIXES = {".py": "python", ".pyi": "python"}


@lru_cache(maxsize=1)
def _python() -> tuple[tree_sitter.Parser, tree_sitter.Query]:
    language = tree_sitter.Language(tree_sitter_python.language())
    return tree_sitter.Parser(language), tree_sitter.Query(language, "(ERROR) @e (MISSING) @m")


def python_region_ok(text: str, start: int, end: int) -> bool:
    """No syntax error of ``text`` touches the character range [start, end] (offsets in characters).

    Python's own parser decides first (tree-sitter misses some errors, such as an empty block at the end of
    a file); when its first error lies elsewhere, tree-sitter's error nodes tell whether the region is fine.
    """
    try:
        ast.parse(text)
        return True
    except SyntaxError as exc:
        first, last = text.count("\n", 0, start) + 1, text.count("\n", 0, end) + 1
        if exc.lineno is not None and first <= exc.lineno <= last + 1:
            return False
    except ValueError:  # e.g. a NUL byte
        return False
    except (RecursionError, MemoryError):  # nested too deeply for Python's parser: tree-sitter decides
        pass
    parser, query = _python()
    data = text.encode("utf-8", "surrogatepass")
    tree = parser.parse(data)
    if not tree.root_node.has_error:
        return True
    lo, hi = len(text[:start].encode("utf-8", "surrogatepass")), len(text[:end].encode("utf-8", "surrogatepass"))
    for nodes in tree_sitter.QueryCursor(query).captures(tree.root_node).values():
        for node in nodes:
            if node.start_byte <= hi and node.end_byte >= lo:
                return False
    return True


CHECKS: dict[str, RegionCheck] = {"python": python_region_ok}
HOLE_STANDINS = ("_", "")  # a name fits most holes (an expression, a statement, a body); nothing fits the rest


def parse_problem(
    text: str, path: str | Path | None = None, holes: Sequence[Span] = (), language: str | None = None
) -> str | None:
    """``"line N: message"`` when Python ``text`` does not parse with code in its holes, else None.

    The language comes from ``language`` or the file name; other languages are not checked (None). A hole
    counts as a name or as nothing, whichever parses, so only problems outside the holes are reported.
    """
    if language is None and path is not None:
        language = _SUFFIXES.get(Path(path).suffix)
    if language != "python":
        return None
    first = None
    for standin in HOLE_STANDINS if holes else ("",):
        problem = _python_problem(_fill_holes(text, holes, standin).removeprefix("\ufeff"))  # Python skips a BOM
        if problem is None:
            return None
        first = first or problem
    return first


def _fill_holes(text: str, holes: Sequence[Span], standin: str) -> str:
    pieces, cursor = [], 0
    for hole in sorted(holes, key=lambda h: h.start):
        pieces += [text[cursor : hole.start], standin]
        cursor = hole.end
    pieces.append(text[cursor:])
    return "".join(pieces)


def _python_problem(text: str) -> str | None:
    try:
        with warnings.catch_warnings():  # invalid escape sequences warn; they are not what is asked
            warnings.simplefilter("ignore")
            ast.parse(text)
    except SyntaxError as exc:
        message = (exc.msg or "invalid syntax").strip().splitlines()[0]
        return f"line {exc.lineno}: {message}" if exc.lineno else message
    except ValueError as exc:  # a NUL byte (before Python 3.12)
        return _first_line(exc)
    except (RecursionError, MemoryError):  # nested too deeply to tell
        return None
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def check_for(language: str | None = None, path: str | Path | None = None) -> RegionCheck | None:
    """The region check for a language id (``python``) or a file name; None when there is none."""
    if language is None and path is not None:
        language = _SUFFIXES.get(Path(path).suffix)
    return CHECKS.get(language or "")
