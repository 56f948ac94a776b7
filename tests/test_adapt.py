"""Local adaptation on a tiny model and a tiny repository: it learns, its result loads, it resumes after a
kill, and a cancelled background run leaves no half-written model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import stdlib_texts

from diffill.retrieval.files import changed_share, file_hashes
from lsp_server.adaptation import Adapter, folder_key, read_meta
from training.adapt.config import AdaptConfig, Method
from training.adapt.corpus import is_holdout, workspace_examples
from training.adapt.loop import AdaptError, adapt, state_folder

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A small workspace: stdlib modules, one git-ignored file and one vendored folder."""
    root = tmp_path / "repo"
    for i, text in enumerate(stdlib_texts(8)):
        (root / "pkg").mkdir(parents=True, exist_ok=True)
        (root / "pkg" / f"mod{i}.py").write_text(text)
    (root / ".gitignore").write_text("ignored.py\n")
    (root / "ignored.py").write_text("SECRET = 1\n" * 50)
    (root / "node_modules" / "x").mkdir(parents=True)
    (root / "node_modules" / "x" / "vendored.py").write_text("VENDORED = 1\n" * 50)
    return root


def _config(repo: Path, out: Path, model: Path, **kw) -> AdaptConfig:
    base = dict(
        workspace=repo,
        out=out,
        base=model,
        minutes=5.0,
        lr=3e-3,
        batch_size=4,
        max_steps=24,
        eval_every=8,
        eval_sequences=8,
        holdout=0.3,
        patience=10,
        warmup=2,
        bf16=False,
    )
    return AdaptConfig(**{**base, **kw})


def test_the_workspace_split_is_by_file_and_skips_ignored_and_vendored_code(repo: Path) -> None:
    examples = workspace_examples(repo, holdout=0.3, chunk_chars=1600, seed=0)
    names = set(examples.manifest.files)
    assert names == {f"pkg/mod{i}.py" for i in range(8)}
    assert examples.manifest.holdout and set(examples.manifest.holdout) < names
    held = {r["path"] for r in examples.holdout}
    assert held == set(examples.manifest.holdout) and not held & {r["path"] for r in examples.train}
    assert is_holdout("pkg/mod1.py", 0.3, 0) == is_holdout("pkg/mod1.py", 0.3, 0)


@pytest.mark.parametrize("method", [Method.FULL, Method.LORA])
def test_adaptation_lowers_the_heldout_loss_and_its_model_loads(
    repo: Path, tmp_path: Path, tiny_model_dir: Path, method: Method
) -> None:
    if method is Method.LORA:
        pytest.importorskip("peft")
    out = tmp_path / "adapted"
    adapt(_config(repo, out, tiny_model_dir, method=method))
    meta = read_meta(out)
    assert meta is not None and meta["method"] == method.value and meta["steps"] == 24
    losses = [loss for _, _, loss in meta["evals"]]
    assert meta["best_loss"] < losses[0]  # it learned the held-out files' code
    assert not state_folder(out).exists()
    from diffill.holes import find_holes
    from diffill.infill import Infiller
    from diffill.model import load_model

    text = "def f(a):\n    return ???\n"
    lm = load_model(out, device="cpu")
    assert Infiller(lm).fill(text, find_holes(text, "???")).text.startswith("def f(a):\n    return ")


def test_no_usable_files_is_one_clear_error(tmp_path: Path, tiny_model_dir: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(AdaptError, match="no usable Python files"):
        adapt(_config(empty, tmp_path / "out", tiny_model_dir))


def _cli(repo: Path, out: Path, model: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "training.adapt",
        str(repo),
        "--out",
        str(out),
        "--model",
        str(model),
        "--minutes",
        "0.15",
        "--holdout",
        "0",
        "--batch-size",
        "2",
        "--lr",
        "0.003",
        "--checkpoint-minutes",
        "0",
        "--threads",
        "1",
        *extra,
    ]


def _saved_step(out: Path) -> int:
    """The step of the saved state (a kill between the save's two renames leaves it in the ``.old`` folder)."""
    folder = state_folder(out)
    for candidate in (folder, folder.with_name(folder.name + ".old")):
        try:
            return json.loads((candidate / "state.json").read_text())["step"]
        except (OSError, ValueError):
            continue
    return 0


@pytest.mark.reliability
def test_a_killed_run_resumes_where_it_stopped(repo: Path, tmp_path: Path, tiny_model_dir: Path) -> None:
    out = tmp_path / "adapted"
    proc = subprocess.Popen(_cli(repo, out, tiny_model_dir), cwd=REPO, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and _saved_step(out) < 5:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    reached = _saved_step(out)
    assert reached >= 5 and not out.exists()
    plain = subprocess.run(_cli(repo, out, tiny_model_dir), cwd=REPO, capture_output=True, text=True)
    assert plain.returncode == 2 and "--resume" in plain.stderr
    resumed = subprocess.run(_cli(repo, out, tiny_model_dir, "--resume"), cwd=REPO, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    meta = read_meta(out)
    assert meta is not None and meta["steps"] > reached and meta["minutes"] >= 0.15  # the time bound ended it
    assert meta["tokens"] > 0 and meta["best_loss"] is None  # no held-out files: the last weights are kept


def test_a_cancelled_background_run_leaves_nothing_half_written(
    repo: Path, tmp_path: Path, tiny_model_dir: Path
) -> None:
    adapter = Adapter(repo, tiny_model_dir, minutes=5.0, root=tmp_path / "cache")
    assert adapter.dir.name == folder_key(repo) and adapter.state.state == "idle"
    adapter.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and adapter.state.state == "running" and not adapter.state.progress:
        adapter.poll()
        time.sleep(0.1)
    adapter.pause(True)
    adapter.pause(False)
    adapter.cancel()
    assert not adapter.running and adapter.state.state == "idle"
    assert not adapter.model_dir.exists()
    assert not list(adapter.dir.glob(".model.export-*"))
    assert adapter.finished() is None and adapter.stale()


def test_a_workspace_that_changed_enough_is_stale(repo: Path) -> None:
    before = file_hashes(repo)
    (repo / "pkg" / "mod0.py").write_text("changed = True\n")
    assert changed_share(before, file_hashes(repo)) == pytest.approx(1 / 8)
    for i in range(1, 4):
        os.remove(repo / "pkg" / f"mod{i}.py")
    assert changed_share(before, file_hashes(repo)) == pytest.approx(4 / 8)
