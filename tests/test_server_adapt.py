"""Learning the workspace through the server: an adaptation runs in the background while ghost text is
answered, then the adapted model serves."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import stdlib_texts
from server_support import inline, open_doc, start, status, stop, wait_state

from lsp_server.adaptation import folder_key

TEXT = "def total(values):\n    result = 0\n    for v in values:\n        \n    return result\n"


@pytest.mark.asyncio
async def test_adaptation_runs_while_ghost_text_is_answered_then_serves(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    for i, text in enumerate(stdlib_texts(6)):
        (repo / f"mod{i}.py").write_text(text)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    client = await start(tiny_model_dir, init={"diffill": {"adapt": "manual", "adaptMinutes": 0.05}}, root=repo)
    try:
        ready = await wait_state(client, "ready")
        assert ready["serving"] == "base" and ready["adaptation"]["state"] == "idle"
        answer = await client.workspace_execute_command_async(_command("diffill.adaptNow"))
        assert answer["started"] is True
        uri = (repo / "work.py").as_uri()
        open_doc(client, uri, TEXT)
        answered_while_running = 0
        for _ in range(600):
            current = await status(client)
            if current["adaptation"]["state"] != "running":
                break
            items = await inline(client, uri, 3, 8)
            answered_while_running += isinstance(items, list)
            await asyncio.sleep(0.2)
        assert answered_while_running > 0
        assert current["adaptation"]["state"] == "ready", current["adaptation"]
        served = await wait_state(client, "ready")
        while served["serving"] != "adapted":
            await asyncio.sleep(0.2)
            served = await wait_state(client, "ready")
        cache = tmp_path / "cache" / "diffill" / "adapted" / folder_key(repo) / "model"
        assert Path(served["model"]) == cache
        items = await inline(client, uri, 3, 8)
        assert isinstance(items, list)  # the adapted model answers too
    finally:
        await stop(client)


def _command(name: str):
    from lsprotocol import types

    return types.ExecuteCommandParams(command=name, arguments=[])
