"""Repository context in the server: the index follows the contextTokens setting and a fill's context comes
from the workspace's other files, with the editor's text standing for the open document."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

from lsp_server.server import build_server


def test_the_index_follows_the_setting_and_fills_read_from_it(tmp_path: Path) -> None:
    (tmp_path / "shapes.py").write_text("def circle_area(radius):\n    return 3.14159 * radius * radius\n")
    here = tmp_path / "main.py"
    server = build_server()
    server.folder, server._started = tmp_path, True
    server.follow_context_setting()
    assert server.workspace_context is None and server.repository_context(here.as_uri()) is None  # off: 0 tokens
    server.settings = replace(server.settings, context_tokens=64)
    server.follow_context_setting()
    workspace = server.workspace_context
    assert workspace is not None
    deadline = time.monotonic() + 30
    while not workspace.ready.is_set():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    text = "from shapes import circle_area\nx = circle_area(\n"
    server.document = lambda uri: SimpleNamespace(source=text, version=3, uri=uri)  # type: ignore[method-assign]
    context = server.repository_context(here.as_uri())
    assert context is not None
    engine = SimpleNamespace(lm=SimpleNamespace(max_length=512), count_tokens=lambda t: len(t.split()))
    found = context(engine, text, len(text))
    assert found.startswith("# file: shapes.py\n") and "circle_area(radius)" in found
    assert workspace.index.has(str(here.resolve()))  # the open document's editor text joined the index
    server.settings = replace(server.settings, context_tokens=0)
    server.follow_context_setting()
    assert server.workspace_context is None
