"""The server's workspace index: built off the request path, in step with open documents and the disk."""

from __future__ import annotations

import time
from pathlib import Path

from lsp_server.workspace_context import WorkspaceContext


def words(text: str) -> int:
    return len(text.split())


def _wait(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_context_follows_the_disk_and_open_documents(tmp_path: Path) -> None:
    (tmp_path / "shapes.py").write_text("def circle_area(radius):\n    return 3.14159 * radius * radius\n")
    (tmp_path / "ignored.py").write_text("def circle_area_ignored(): pass\n")
    (tmp_path / ".gitignore").write_text("ignored.py\n")
    ws = WorkspaceContext(tmp_path)
    assert ws.context(None, "x", 1, 100, words) == ""  # not ready: nothing, never a wait
    ws.start()
    try:
        _wait(ws.ready.is_set)
        text = "from shapes import circle_area\narea = circle_area(\n"
        here = tmp_path / "main.py"
        found = ws.context(here, text, len(text), 100, words)
        assert found.startswith("# file: shapes.py\n") and "ignored" not in found
        # the open document's own text stands for its file; its own chunks are never its context
        ws.sync(here, "def main_helper():\n    return circle_area(2)\n", version=1)
        _wait(lambda: not ws.index.dirty)
        assert "main_helper" not in ws.context(here, text, len(text), 100, words)
        other = tmp_path / "other.py"
        assert "main_helper" in ws.context(other, "main_helper(", 12, 100, words)
        # a file written on disk is picked up at the next rescan
        (tmp_path / "triangle.py").write_text("def triangle_area(base, height):\n    return base * height / 2\n")
        ws.changed_on_disk()
        _wait(lambda: ws.index.has(str((tmp_path / "triangle.py").resolve())) and not ws.index.dirty)
        query = "t = triangle_area("
        assert "triangle_area(base" in ws.context(other, query, len(query), 100, words)
    finally:
        ws.stop()


def test_a_fills_context_stays_while_its_line_is_edited(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("def alpha_value():\n    return 1\n")
    (tmp_path / "b.py").write_text("def beta_value():\n    return 2\n")
    ws = WorkspaceContext(tmp_path)
    ws.start()
    try:
        _wait(ws.ready.is_set)
        here = tmp_path / "c.py"
        first = ws.context(here, "x = alpha_value(", 16, 100, words)
        same_line = ws.context(here, "x = alpha_value() + beta_value(", 31, 100, words)
        assert same_line == first  # typing on one line keeps the window's front the same
        next_line = ws.context(here, "x = alpha_value()\ny = beta_value(", 32, 100, words)
        assert "beta_value" in next_line
    finally:
        ws.stop()
