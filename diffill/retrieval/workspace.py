"""Index a whole workspace folder, and fetch the context of one fill from it (what the CLI and server share)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from pathlib import Path

from diffill.progress import progress_bar
from diffill.retrieval.context import repository_context
from diffill.retrieval.files import workspace_files
from diffill.retrieval.index import CodeIndex

log = logging.getLogger(__name__)


def read_source(path: Path) -> str | None:
    """A file's text, or None when it is not UTF-8 text."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def index_workspace(
    root: Path, index: CodeIndex | None = None, exclude: Collection[Path] = (), progress: bool = False
) -> CodeIndex:
    """Every source file of ``root`` (``workspace_files``) but ``exclude``, in an index."""
    index = index if index is not None else CodeIndex()
    skip = {p.resolve() for p in exclude}
    files = [p for p in workspace_files(root) if p not in skip]
    with progress_bar(total=len(files), desc="index", unit="file", enabled=progress) as bar:
        for path in files:
            text = read_source(path)
            if text is not None:
                index.set_file(str(path), text)
            bar.update(1)
    if index.left_out:
        log.warning(
            "%d file(s) of %s left out of the index (over %d bytes)", len(index.left_out), root, index.max_bytes
        )
    return index


class Workspace:
    """A folder's index, and the repository context of fills in it."""

    def __init__(self, root: Path, index: CodeIndex) -> None:
        self.root = root.resolve()
        self.index = index

    @classmethod
    def load(cls, root: Path, exclude: Collection[Path] = (), progress: bool = False) -> Workspace:
        return cls(root, index_workspace(root, exclude=exclude, progress=progress))

    def context(
        self,
        text: str,
        cursor: int,
        budget: int,
        count: Callable[[str], int],
        path: Path | None = None,
        recent: Collection[str] = (),
    ) -> str:
        """Context for a fill at ``cursor``; the window decides how much of it fits (``diffill.window``)."""
        own = str(path.resolve()) if path is not None else None
        return repository_context(self.index, text, cursor, budget, count, own, recent, self.root)
