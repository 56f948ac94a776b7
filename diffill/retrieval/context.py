"""The repository context of one fill: the indexed chunks most like the code before the cursor, as text that
goes before the prefix in the model's window, within a token budget.

The query is the last ``QUERY_LINES`` lines before the hole (RepoCoder queries with the lines it completes
after). Chunks of the file being filled are left out (the window holds its own context), as are chunks that
overlap one already taken. Recently opened or edited files rank higher. The most similar chunk comes last,
right before the prefix. Each chunk is headed by a comment naming its file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection
from pathlib import Path

from diffill.retrieval.index import Chunk, CodeIndex

QUERY_LINES = 20
CANDIDATES = 16
RECENT_BOOST = 1.5  # score factor of a chunk from a recently opened or edited file


def query_text(text: str, cursor: int, lines: int = QUERY_LINES) -> str:
    """The last ``lines`` lines before ``cursor`` (the current line's start included)."""
    start = cursor
    for _ in range(lines):
        start = text.rfind("\n", 0, max(0, start - 1)) + 1
        if start == 0:
            break
    return text[start:cursor]


def select_chunks(
    hits: list[tuple[Chunk, float]], budget: int, count: Callable[[str], int], recent: Collection[str] = ()
) -> list[Chunk]:
    """The best-scoring chunks that fit ``budget`` tokens together (headers included), without overlaps."""
    ranked = sorted(hits, key=lambda h: h[1] * (RECENT_BOOST if h[0].path in recent else 1.0), reverse=True)
    taken: list[Chunk] = []
    used = 0
    for chunk, _ in ranked:
        if any(c.path == chunk.path and c.start < chunk.end and chunk.start < c.end for c in taken):
            continue
        cost = count(render([chunk]))
        if used + cost > budget:
            continue
        taken.append(chunk)
        used += cost
    return taken


def render(chunks: list[Chunk], root: Path | None = None) -> str:
    """The chunks as code: each headed by ``# file: PATH``, the least similar first (chunks come best first)."""
    parts = []
    for chunk in reversed(chunks):
        name = chunk.path
        if root is not None:
            with contextlib.suppress(ValueError):  # a path outside the root keeps its full name
                name = Path(chunk.path).relative_to(root).as_posix()
        body = chunk.text if chunk.text.endswith("\n") else chunk.text + "\n"
        parts.append(f"# file: {name}\n{body}")
    return "".join(parts)


def repository_context(
    index: CodeIndex,
    text: str,
    cursor: int,
    budget: int,
    count: Callable[[str], int],
    path: str | None = None,
    recent: Collection[str] = (),
    root: Path | None = None,
) -> str:
    """Context text for a fill at ``cursor`` of ``text`` (the file ``path``), at most ``budget`` tokens."""
    if budget <= 0 or len(index) == 0:
        return ""
    hits = index.search(query_text(text, cursor), CANDIDATES, exclude=path)
    return render(select_chunks(hits, budget, count, recent), root)
