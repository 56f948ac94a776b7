"""`diffill-train` checks every numeric flag of every subcommand as it parses: one line, exit 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from training.cli import parse_args

TRAIN = ["train", "corpus", "--tokenizer", "tok", "--out", "run"]
TOKENIZER = ["tokenizer", "corpus", "--out", "tok"]
CORPUS = ["corpus", "src", "--out", "out"]
EVAL = ["eval"]

BAD = [
    # train: model size
    (TRAIN, ["--hidden", "0"], "argument --hidden: must be a positive whole number, got '0'"),
    (TRAIN, ["--layers", "0"], "argument --layers: must be a positive whole number"),
    (TRAIN, ["--heads", "0"], "argument --heads: must be a positive whole number"),
    (TRAIN, ["--intermediate", "-4"], "argument --intermediate: must be a positive whole number"),
    (TRAIN, ["--max-length", "1"], "argument --max-length: must be a whole number >= 2"),
    (TRAIN, ["--hidden", "abc"], "argument --hidden: must be a whole number, got 'abc'"),
    (TRAIN, ["--hidden", "100", "--heads", "3"], "--hidden 100 is not divisible by --heads 3"),
    (TRAIN, ["--hidden", "6", "--heads", "2"], "gives heads of 3 dimensions"),
    # train: objective
    (TRAIN, ["--max-middle", "0"], "argument --max-middle: must be a positive whole number"),
    (TRAIN, ["--max-middle", "512", "--max-length", "512"], "--max-middle 512 must be below --max-length 512"),
    (TRAIN, ["--context-noise", "1.5"], "argument --context-noise: must be a number in [0, 1], got '1.5'"),
    # train: optimisation
    (TRAIN, ["--batch-size", "0"], "argument --batch-size: must be a positive whole number"),
    (TRAIN, ["--steps", "0"], "argument --steps: must be a positive whole number"),
    (TRAIN, ["--checkpoint-every", "0"], "argument --checkpoint-every: must be a positive whole number"),
    (TRAIN, ["--log-every", "0"], "argument --log-every: must be a positive whole number"),
    (TRAIN, ["--max-minutes", "0"], "argument --max-minutes: must be a number > 0"),
    (TRAIN, ["--lr", "0"], "argument --lr: must be a number > 0"),
    (TRAIN, ["--lr", "nan"], "argument --lr: must be a number > 0, got 'nan'"),
    (TRAIN, ["--warmup", "-1"], "argument --warmup: must be a whole number >= 0"),
    (TRAIN, ["--weight-decay", "-0.1"], "argument --weight-decay: must be a number >= 0"),
    (TRAIN, ["--grad-clip", "0"], "argument --grad-clip: must be a number > 0"),
    (TRAIN, ["--seed", "-1"], "argument --seed: must be a whole number >= 0"),
    (TRAIN, ["--max-examples", "0"], "argument --max-examples: must be a positive whole number"),
    (TRAIN, ["--data-workers", "-1"], "argument --data-workers: must be a whole number >= 0"),
    # tokenizer
    (TOKENIZER, ["--vocab-size", "100"], "argument --vocab-size: must be a whole number >= 262"),
    (TOKENIZER, ["--max-length", "0"], "argument --max-length: must be a positive whole number"),
    # eval: its own flags, then the denoising flags it shares with `diffill fill`
    (EVAL, ["--limit", "0"], "argument --limit: must be a positive whole number"),
    (EVAL, ["--elbo-examples", "0"], "argument --elbo-examples: must be a positive whole number"),
    (EVAL, ["--batch-size", "0"], "argument --batch-size: must be a positive whole number"),
    (EVAL, ["--workers", "0"], "argument --workers: must be a positive whole number"),
    (EVAL, ["--timeout", "-1"], "argument --timeout: must be a number > 0"),
    (EVAL, ["--steps-sweep", "4,0"], "argument --steps-sweep: must be a positive whole number, got '0'"),
    (EVAL, ["--steps-sweep", "4,,8"], "argument --steps-sweep: must be comma-separated positive whole numbers"),
    (EVAL, ["--steps", "0"], "steps must be >= 1"),
    (EVAL, ["--top-p", "2"], "top_p must be in (0, 1]"),
    (EVAL, ["--window", "4"], "window must be >= 8 tokens"),
    # corpus
    (CORPUS, ["--max-file-bytes", "0"], "argument --max-file-bytes: must be a positive whole number"),
    (CORPUS, ["--min-file-chars", "-1"], "argument --min-file-chars: must be a whole number >= 0"),
    (CORPUS, ["--max-avg-line-chars", "0"], "argument --max-avg-line-chars: must be a number > 0"),
    (CORPUS, ["--near-dup-threshold", "0"], "argument --near-dup-threshold: must be a number in (0, 1]"),
    (CORPUS, ["--minhash-perms", "12"], "argument --minhash-perms: must be a multiple of 8, got '12'"),
    (CORPUS, ["--shingle-tokens", "0"], "argument --shingle-tokens: must be a positive whole number"),
    (CORPUS, ["--decontam-ngram", "0"], "argument --decontam-ngram: must be a positive whole number"),
    (CORPUS, ["--chunk-chars", "10"], "argument --chunk-chars: must be a whole number >= 64"),
    (CORPUS, ["--max-spans", "0"], "argument --max-spans: must be a positive whole number"),
    (CORPUS, ["--max-span-chars", "0"], "argument --max-span-chars: must be a positive whole number"),
    (CORPUS, ["--random-span-prob", "1.1"], "argument --random-span-prob: must be a number in [0, 1]"),
    (CORPUS, ["--val-fraction", "1"], "argument --val-fraction: must be a number in [0, 1), got '1'"),
    (CORPUS, ["--shard-size", "0"], "argument --shard-size: must be a positive whole number"),
    (CORPUS, ["--seed", "-3"], "argument --seed: must be a whole number >= 0"),
    (CORPUS, ["--workers", "0"], "argument --workers: must be a positive whole number"),
    # export has no numeric flag; a missing one is one line too
    (["export", "ckpt"], [], "the following arguments are required: --out"),
]


@pytest.mark.parametrize(("base", "flags", "message"), BAD, ids=[" ".join(b[:1] + f) for b, f, _ in BAD])
def test_bad_values_exit_2_with_one_line(
    base: list[str], flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        parse_args([*base, *flags])
    err = capsys.readouterr().err
    assert info.value.code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"diffill-train {base[0]}: error: ") and message in lines[0]
    assert not lines[0].endswith(("..", "?."))


@pytest.mark.parametrize("base", [TRAIN, TOKENIZER, CORPUS, EVAL, ["export", "ckpt", "--out", "m"]])
def test_defaults_and_edge_values_pass(base: list[str]) -> None:
    assert parse_args(base).command == base[0]
    edges = {
        "train": [
            "--warmup",
            "0",
            "--context-noise",
            "0",
            "--weight-decay",
            "0",
            "--data-workers",
            "0",
            "--hidden",
            "8",
            "--heads",
            "2",
            "--max-length",
            "16",
            "--max-middle",
            "15",
        ],
        "corpus": [
            "--val-fraction",
            "0",
            "--random-span-prob",
            "1",
            "--near-dup-threshold",
            "1",
            "--minhash-perms",
            "8",
        ],
        "eval": ["--steps-sweep", "2, 4,8"],
    }.get(base[0], [])
    args = parse_args([*base, *edges])
    if base[0] == "eval":
        assert args.steps_sweep == [2, 4, 8]


def test_train_config_refuses_what_would_divide_by_zero(tmp_path: Path) -> None:
    from training.train import TrainConfig

    for field in ("checkpoint_every", "log_every", "batch_size", "steps"):
        with pytest.raises(ValueError, match=f"{field} must be >= 1"):
            TrainConfig(corpus=tmp_path, tokenizer=tmp_path, out=tmp_path, **{field: 0})


def test_the_command_prints_no_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "training.cli", *TRAIN, "--checkpoint-every", "0"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [
        "diffill-train train: error: argument --checkpoint-every: must be a positive whole number, got '0'"
    ]


def test_eval_refuses_to_run_model_code_without_a_sandbox(tmp_path: Path, tiny_model_dir: Path) -> None:
    import os

    tasks = Path(__file__).parent / "fixtures" / "eval" / "single-line.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "training.cli",
        "eval",
        "--model",
        str(tiny_model_dir),
        "--tasks",
        str(tasks),
        "--out",
        str(tmp_path / "eval"),
    ]
    env = {**os.environ, "PATH": str(tmp_path)}  # no bwrap on this PATH
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 2 and "--allow-unsandboxed" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
