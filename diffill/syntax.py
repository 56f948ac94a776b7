"""Syntax checks for post-processing: does a region of a file parse? (tree-sitter; Python for now).

The engine stays free of tree-sitter: callers hand it a ``RegionCheck`` made here. A region is valid when
no ERROR or MISSING node of the file's parse overlaps it, so other broken places of the file (another
unfilled hole) do not count against it.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

import tree_sitter
import tree_sitter_python

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
    parser, query = _python()
    data = text.encode("utf-8")
    tree = parser.parse(data)
    if not tree.root_node.has_error:
        return True
    lo, hi = len(text[:start].encode("utf-8")), len(text[:end].encode("utf-8"))
    for nodes in tree_sitter.QueryCursor(query).captures(tree.root_node).values():
        for node in nodes:
            if node.start_byte <= hi and node.end_byte >= lo:
                return False
    return True


CHECKS: dict[str, RegionCheck] = {"python": python_region_ok}


def check_for(language: str | None = None, path: str | Path | None = None) -> RegionCheck | None:
    """The region check for a language id (``python``) or a file name; None when there is none."""
    if language is None and path is not None:
        language = _SUFFIXES.get(Path(path).suffix)
    return CHECKS.get(language or "")
