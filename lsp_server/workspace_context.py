"""Repository context in the server: the workspace folder's index, built and kept current off the event loop.

A background thread indexes the folder's source files (``diffill.retrieval``: git-ignored and vendored files
skipped, bounded in bytes), rescans it for files changed on disk every ``RESCAN_S`` seconds (and at once on
``workspace/didChangeWatchedFiles`` or ``didSave``), and rebuilds the BM25 index after changes. Open
documents count with their editor text: a fill syncs its document first. Searches never wait for a rebuild:
they use the last index built. A fill's context is kept per (document, line) while that line is edited, so
the window in front of the prefix stays the same from keystroke to keystroke (and the context states of the
last request stay usable).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from diffill.retrieval.context import repository_context
from diffill.retrieval.files import workspace_files
from diffill.retrieval.index import CodeIndex
from diffill.retrieval.workspace import read_source

log = logging.getLogger(__name__)

RESCAN_S = 30.0
RECENT = 8  # recently opened or edited files that rank higher
CACHED_CONTEXTS = 32


class WorkspaceContext:
    """One workspace folder's index and the context of fills in it (thread-safe)."""

    def __init__(self, root: Path, max_bytes: int | None = None) -> None:
        self.root = root.resolve()
        self.index = CodeIndex(max_bytes, rebuild_on_search=False) if max_bytes else CodeIndex(rebuild_on_search=False)
        self.ready = threading.Event()
        self._mtimes: dict[str, float] = {}
        self._open: dict[str, int | None] = {}  # path -> version synced from the editor
        self._recent: OrderedDict[str, float] = OrderedDict()
        self._contexts: OrderedDict[tuple[str, int, int], str] = OrderedDict()
        self._generation = 0  # bumped when the index changes
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="diffill-index", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def changed_on_disk(self) -> None:
        """A file event or a save: rescan soon."""
        self._wake.set()

    def sync(self, path: Path, text: str, version: int | None) -> None:
        """An open document's editor text stands for its file (call before a fill)."""
        key = str(path.resolve())
        if not key.startswith(str(self.root)):
            return
        with self._lock:
            self._recent[key] = time.monotonic()
            self._recent.move_to_end(key)
            while len(self._recent) > RECENT:
                self._recent.popitem(last=False)
            if self._open.get(key, -1) == version and version is not None:
                return
            self._open[key] = version
        if self.index.set_file(key, text):
            self._bump()

    def closed(self, path: Path) -> None:
        """A document closed: its file on disk stands again at the next rescan."""
        with self._lock:
            self._open.pop(str(path.resolve()), None)
            self._mtimes.pop(str(path.resolve()), None)
        self._wake.set()

    def context(self, path: Path | None, text: str, cursor: int, budget: int, count: Callable[[str], int]) -> str:
        """Context for a fill at ``cursor``: the same while the cursor stays on one line of one document."""
        if not self.ready.is_set() or budget <= 0:
            return ""
        own = str(path.resolve()) if path is not None else None
        line = text.count("\n", 0, cursor)
        key = (own or "", line, self._generation)
        with self._lock:
            cached = self._contexts.get(key)
            recent = set(self._recent)
        if cached is not None:
            return cached
        found = repository_context(self.index, text, cursor, budget, count, own, recent, self.root)
        with self._lock:
            self._contexts[key] = found
            while len(self._contexts) > CACHED_CONTEXTS:
                self._contexts.popitem(last=False)
        return found

    def _bump(self) -> None:
        """The files changed: rebuild the index soon (in the thread), forget the contexts found before."""
        with self._lock:
            self._generation += 1
            self._contexts.clear()
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                changed = self._rescan() or self.index.dirty
                if changed or not self.ready.is_set():
                    self.index.rebuild()
                    self.ready.set()
                    log.info(
                        "workspace index: %d files, %.1f MB, %d left out (%.2f s)",
                        len(self.index),
                        self.index.bytes / 1e6,
                        len(self.index.left_out),
                        time.monotonic() - started,
                    )
            except Exception:  # the index is a help, never a reason for the server to fail
                log.exception("workspace index failed")
            self._wake.wait(RESCAN_S)
            self._wake.clear()

    def _rescan(self) -> bool:
        """Index new and modified files, forget deleted ones (open documents keep their editor text)."""
        files = {str(p): p for p in workspace_files(self.root)}
        changed = False
        with self._lock:
            open_now = set(self._open)
        for key, path in files.items():
            if key in open_now:
                continue
            try:
                mtime = path.stat().st_mtime
            except OSError:
                continue
            if self._mtimes.get(key) == mtime:
                continue
            text = read_source(path)
            self._mtimes[key] = mtime
            if text is not None and self.index.set_file(key, text):
                changed = True
        for key in [k for k in self._mtimes if k not in files and k not in open_now]:
            self._mtimes.pop(key)
            self.index.remove_file(key)
            changed = True
        if changed:
            self._bump()
        return changed
