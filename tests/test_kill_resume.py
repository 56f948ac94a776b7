"""Kill -9 and resume: a training run and a corpus build killed mid-run finish as if never stopped.

Each test starts the real command as a subprocess on tiny settings (``diffill-train train``, and the corpus
builder's own entry point, which is ``diffill-train corpus`` without torch to import), kills it with SIGKILL
where work is half done, and resumes it in this process.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from training.checkpoint import STATE_FILE, find_checkpoint
from training.cli import main

pytestmark = pytest.mark.reliability

TINY_TRAIN = [
    "--hidden", "32", "--layers", "1", "--heads", "1", "--intermediate", "64", "--max-length", "128",
    "--max-middle", "32", "--batch-size", "4", "--no-bf16", "--warmup", "2", "--log-every", "1",
    "--checkpoint-every", "4", "--data-workers", "0",
]  # fmt: skip


def kill_when(module: str, args: list[str], ready: Callable[[], bool], log: Path, timeout: float = 120) -> None:
    """Run ``python -m module args`` (stderr to ``log``) and SIGKILL it as soon as ``ready()``.

    Fails if the run ends or times out first.
    """
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", module, *args], stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"the run ended (exit {proc.returncode}) before it could be killed: {log.read_text()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the run never reached the point to kill it at")
        time.sleep(0.01)
    proc.kill()
    assert proc.wait(timeout=30) == -9


def logged_steps(run: Path) -> list[int]:
    """The steps of train_log.csv's complete rows."""
    if not (run / "train_log.csv").is_file():
        return []
    with (run / "train_log.csv").open(newline="") as f:
        return [int(r["step"]) for r in csv.DictReader(f) if r.get("train_seconds")]


def checkpoint_step(run: Path) -> int | None:
    found = find_checkpoint(run / "checkpoint")
    if found is None:
        return None
    try:
        return int(json.loads((found / STATE_FILE).read_text())["step"])
    except (OSError, ValueError):  # renamed away between the two reads
        return None


def test_training_killed_after_a_checkpoint_resumes(
    tiny_corpus: Path, tiny_tokenizer_dir: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    base = ["train", str(tiny_corpus), "--tokenizer", str(tiny_tokenizer_dir), "--out", str(run), *TINY_TRAIN]

    def past_a_checkpoint() -> bool:  # rows logged after the checkpoint: what a resume must not log twice
        step = checkpoint_step(run)
        return step is not None and max(logged_steps(run), default=0) > step

    kill_when("training.cli", [*base, "--steps", "100000"], past_a_checkpoint, tmp_path / "killed.log")
    resumed_from = checkpoint_step(run)
    assert resumed_from is not None and resumed_from % 4 == 0
    target = resumed_from + 3
    assert main([*base, "--steps", str(target), "--resume"]) == 0
    assert logged_steps(run) == list(range(1, target + 1))  # every step once, in order
    assert checkpoint_step(run) == target and not (run / ".checkpoint.old").exists()
    from diffill.model import load_model

    lm = load_model(run / "checkpoint", device="cpu", dtype="float32")
    assert lm.mask_id is not None and lm.max_length == 128


def stdlib_tree(root: Path, count: int = 40) -> Path:
    """A source tree of small standard-library modules (their license is unknown to the builder)."""
    root.mkdir(parents=True)
    files = [p for p in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")) if 3000 < p.stat().st_size < 12000]
    for path in files[:count]:
        shutil.copy(path, root / path.name)
    return root


def corpus_state(out: Path) -> tuple[dict[str, bytes], dict]:
    shards = {p.name: p.read_bytes() for p in sorted(out.glob("*-*.jsonl.gz"))}
    stats = json.loads((out / "stats.json").read_text())
    stats.pop("elapsed_s", None)
    return shards, stats


def test_corpus_build_killed_mid_run_refuses_a_plain_rerun_and_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = stdlib_tree(tmp_path / "src")
    flags = ["--allow-unknown-license", "--workers", "1", "--shard-size", "5", "--no-progress"]
    out = tmp_path / "out"

    def half_written() -> bool:
        try:
            progress = json.loads((out / "progress.json").read_text())
        except (OSError, ValueError):
            return False
        return not progress["complete"] and len(progress["splits"]["train"]["shards"]) >= 3

    kill_when("training.corpus", [str(src), "--out", str(out), *flags], half_written, tmp_path / "killed.log")
    assert not json.loads((out / "progress.json").read_text())["complete"]
    (out / "train-00999.jsonl.gz.tmp-4242").write_bytes(b"torn")  # what a kill during a write leaves

    assert main(["corpus", str(src), "--out", str(out), *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"diffill-train corpus: error: {out} holds an interrupted corpus build; pass --resume to continue it or "
        "--overwrite to start over"
    ]

    assert main(["corpus", str(src), "--out", str(out), "--resume", *flags]) == 0
    assert main(["corpus", str(src), "--out", str(tmp_path / "ref"), *flags]) == 0
    assert corpus_state(out) == corpus_state(tmp_path / "ref")
    assert not list(out.glob("*.tmp-*"))
