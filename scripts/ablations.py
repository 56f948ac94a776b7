"""DiffusionBERT's designs side by side on one corpus and budget: schedule, time input, span alignment.

    python scripts/ablations.py --out runs/ablations --minutes 6 [--parallel 2] [--tasks 200]

Builds two stdlib corpora (AST-aligned + random spans, and random spans only), shares one tokenizer, trains
each variant for the same wall-clock budget, then scores every model on the same held-out split (the
AST-aligned corpus's val, linear-schedule ELBO) and on the first N single-line HumanEval-infilling tasks.
Writes ``results.json`` and ``results.md`` (a table for the README) in the output directory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
BENCH = HERE.parent / "shared" / "benchmarks" / "humaneval-infilling"

# name -> (corpus, extra train flags)
VARIANTS: dict[str, tuple[str, list[str]]] = {
    "baseline (linear, time-agnostic, AST+random spans)": ("mixed", []),
    "spindle schedule": ("mixed", ["--schedule", "spindle"]),
    "time-conditioned": ("mixed", ["--time-conditioning"]),
    "random spans only": ("random", []),
}
MODEL = ["--hidden", "128", "--layers", "4", "--heads", "2", "--intermediate", "384", "--max-length", "512"]


def sh(cmd: list[str], log: Path, threads: int) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    with log.open("w") as f:
        subprocess.run(cmd, check=True, stdout=f, stderr=subprocess.STDOUT, env=env)


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "training.cli", *args]


def prepare(out: Path, threads: int) -> None:
    for mode in ("mixed", "random"):
        corpus = out / f"corpus-{mode}"
        if not (corpus / "stats.json").exists():
            sh(cli("corpus", "stdlib", "--out", str(corpus), "--span-mode", mode, "--decontaminate", str(BENCH),
                   "--val-fraction", "0.05", "--no-progress"), out / f"corpus-{mode}.log", threads)
    if not (out / "tokenizer" / "tokenizer.json").exists():
        sh(cli("tokenizer", str(out / "corpus-mixed"), "--out", str(out / "tokenizer")), out / "tok.log", threads)


def train_and_score(out: Path, index: int, name: str, minutes: float, tasks: int, threads: int) -> dict:
    corpus_mode, flags = VARIANTS[name]
    run = out / f"run-{index}"
    sh(cli("train", str(out / f"corpus-{corpus_mode}"), "--tokenizer", str(out / "tokenizer"), "--out", str(run),
           "--steps", "1000000", "--max-minutes", str(minutes), "--batch-size", "16", "--lr", "2e-3",
           "--warmup", "100", "--checkpoint-every", "1000", *MODEL, *flags), run.with_suffix(".train.log"), threads)
    sh(cli("eval", "--model", str(run / "checkpoint"), "--tasks", "single-line", "--limit", str(tasks),
           "--oracle-length", "--elbo-corpus", str(out / "corpus-mixed"), "--out", str(run / "eval"),
           "--device", "cpu"), run.with_suffix(".eval.log"), threads)
    summary = json.loads((run / "eval" / "summary.json").read_text())
    state = json.loads((run / "checkpoint" / "trainer_state.json").read_text())
    return {
        "variant": name, "steps": state["step"], "tokens": state["tokens_processed"],
        "elbo_nats": summary["elbo/heldout"]["elbo_nats_per_token"],
        "pass_unknown": summary["single-line/unknown-length/steps16"]["pass_at_1"],
        "pass_oracle": summary["single-line/oracle-length/steps16"]["pass_at_1"],
        "exact_unknown": summary["single-line/unknown-length/steps16"]["exact_match"],
        "parse_unknown": summary["single-line/unknown-length/steps16"]["parse_rate"],
    }


def table(rows: list[dict], minutes: float, tasks: int) -> str:
    lines = [
        f"Same stdlib corpus, tokenizer and model (hidden 128 x 4 layers), {minutes:g} min of training each; "
        f"ELBO on the same held-out middles; pass@1 on the first {tasks} single-line tasks (16 steps).",
        "",
        "| variant | steps | tokens | ELBO nats/token (lower is better) | pass@1 unknown | pass@1 oracle | "
        "exact | parses |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {r['steps']:,} | {r['tokens']:,} | {r['elbo_nats']:.3f} | {r['pass_unknown']:.1%} "
            f"| {r['pass_oracle']:.1%} | {r['exact_unknown']:.1%} | {r['parse_unknown']:.1%} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=HERE / "runs" / "ablations")
    p.add_argument("--minutes", type=float, default=6.0, help="training time per variant")
    p.add_argument("--tasks", type=int, default=200, help="single-line tasks to score")
    p.add_argument("--parallel", type=int, default=2, help="variants trained at once (one thread each)")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    threads = max(1, (os.cpu_count() or 1) // args.parallel)
    prepare(args.out, threads)
    names = list(VARIANTS)
    with ThreadPoolExecutor(args.parallel) as pool:
        rows = list(pool.map(lambda i: train_and_score(args.out, i, names[i], args.minutes, args.tasks, threads),
                             range(len(names))))
    (args.out / "results.json").write_text(json.dumps(rows, indent=1) + "\n")
    (args.out / "results.md").write_text(table(rows, args.minutes, args.tasks))
    print(table(rows, args.minutes, args.tasks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
