"""The VS Code extension's contributed settings agree with the server's: same keys, same defaults, same choices."""

from __future__ import annotations

import json
from pathlib import Path

from lsp_server.settings import ADAPT_MODES, COMPILE_MODES, DEVICES, DTYPES, Settings

MANIFEST = Path(__file__).resolve().parents[2] / "editors" / "vscode" / "package.json"
CLIENT_ONLY = {"server.command", "server.pythonPath", "server.logLevel", "trace.server"}
RENAMED = {"enabledLanguages": "languages"}  # VS Code key -> server key


def contributed() -> dict[str, dict]:
    properties = json.loads(MANIFEST.read_text(encoding="utf-8"))["contributes"]["configuration"]["properties"]
    return {key.removeprefix("diffill."): spec for key, spec in properties.items()}


def test_every_server_setting_is_contributed_with_the_servers_default() -> None:
    server = Settings().to_wire()
    client = {RENAMED.get(k, k): spec["default"] for k, spec in contributed().items() if k not in CLIENT_ONLY}
    assert client == server


def test_choices_match() -> None:
    props = contributed()
    assert tuple(props["device"]["enum"]) == DEVICES
    assert tuple(props["dtype"]["enum"]) == DTYPES
    assert tuple(props["compile"]["enum"]) == COMPILE_MODES
    assert tuple(props["adapt"]["enum"]) == ADAPT_MODES


def test_every_setting_has_a_description() -> None:
    for key, spec in contributed().items():
        assert spec.get("description") or spec.get("markdownDescription"), f"diffill.{key} has no description"
