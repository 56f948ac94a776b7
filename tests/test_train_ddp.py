"""The training loop under torchrun: two CPU processes with the gloo backend (DistributedDataParallel)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_two_process_gloo_run(tiny_corpus: Path, tiny_tokenizer_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "training.cli",
        "train",
        str(tiny_corpus),
        "--tokenizer",
        str(tiny_tokenizer_dir),
        "--out",
        str(out),
        "--hidden",
        "32",
        "--layers",
        "1",
        "--heads",
        "1",
        "--intermediate",
        "64",
        "--max-length",
        "256",
        "--batch-size",
        "4",
        "--steps",
        "6",
        "--warmup",
        "2",
        "--checkpoint-every",
        "3",
        "--log-every",
        "3",
        "--no-bf16",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    state = json.loads((out / "checkpoint" / "trainer_state.json").read_text())
    assert state["step"] == 6
    rows = (out / "train_log.csv").read_text().splitlines()
    assert len(rows) == 3  # header + steps 3 and 6, written by rank 0 only
