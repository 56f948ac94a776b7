"""DiffusionBERT's designs side by side on one corpus and budget: schedule, time input, span alignment.

    python scripts/ablations.py --out runs/ablations --minutes 6 [--steps N] [--seeds 2] [--parallel 2] [--tasks 200]

Builds two stdlib corpora (AST-aligned + random spans, and random spans only), shares one tokenizer, trains
each variant for the same budget (wall-clock minutes, or a number of steps), then scores every model on the
same held-out split (the AST-aligned corpus's val, linear-schedule ELBO) and on the first N single-line
HumanEval-infilling tasks. ``--seeds N`` trains every variant N times (training seeds 0..N-1) so that the
table shows how far two seeds of one design lie apart, the yardstick for the gaps between designs. A run
whose evaluation is already on disk is not redone, so an interrupted run picks up where it stopped.
Writes ``results.json`` and ``results.md`` (a table for the README) in the output directory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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
            sh(
                cli(
                    "corpus",
                    "stdlib",
                    "--out",
                    str(corpus),
                    "--span-mode",
                    mode,
                    "--decontaminate",
                    str(BENCH),
                    "--val-fraction",
                    "0.05",
                    "--no-progress",
                ),
                out / f"corpus-{mode}.log",
                threads,
            )
    if not (out / "tokenizer" / "tokenizer.json").exists():
        sh(cli("tokenizer", str(out / "corpus-mixed"), "--out", str(out / "tokenizer")), out / "tok.log", threads)


@dataclass(frozen=True)
class Budget:
    """How long each variant trains: ``steps`` when given (equal tokens for all), else ``minutes`` of wall clock."""

    minutes: float
    steps: int | None

    def flags(self) -> list[str]:
        if self.steps is not None:
            return ["--steps", str(self.steps)]
        return ["--steps", "1000000", "--max-minutes", str(self.minutes)]

    def describe(self) -> str:
        return f"{self.steps:,} steps" if self.steps is not None else f"{self.minutes:g} min of training"


def train_and_score(out: Path, index: int, seed: int, name: str, budget: Budget, tasks: int, threads: int) -> dict:
    corpus_mode, flags = VARIANTS[name]
    run = out / (f"run-{index}" if seed == 0 else f"run-{index}-seed{seed}")
    if not (run / "eval" / "summary.json").exists():
        sh(
            cli(
                "train",
                str(out / f"corpus-{corpus_mode}"),
                "--tokenizer",
                str(out / "tokenizer"),
                "--out",
                str(run),
                *budget.flags(),
                "--seed",
                str(seed),
                "--batch-size",
                "16",
                "--lr",
                "2e-3",
                "--warmup",
                "100",
                "--checkpoint-every",
                "1000",
                *MODEL,
                *flags,
            ),
            run.with_suffix(".train.log"),
            threads,
        )
        sh(
            cli(
                "eval",
                "--model",
                str(run / "checkpoint"),
                "--tasks",
                "single-line",
                "--limit",
                str(tasks),
                "--oracle-length",
                "--elbo-corpus",
                str(out / "corpus-mixed"),
                "--out",
                str(run / "eval"),
                "--device",
                "cpu",
            ),
            run.with_suffix(".eval.log"),
            threads,
        )
    summary = json.loads((run / "eval" / "summary.json").read_text())
    state = json.loads((run / "checkpoint" / "trainer_state.json").read_text())
    return {
        "variant": name,
        "seed": seed,
        "steps": state["step"],
        "tokens": state["tokens_processed"],
        "elbo_nats": summary["elbo/heldout"]["elbo_nats_per_token"],
        "pass_unknown": summary["single-line/unknown-length/steps16"]["pass_at_1"],
        "pass_oracle": summary["single-line/oracle-length/steps16"]["pass_at_1"],
        "exact_unknown": summary["single-line/unknown-length/steps16"]["exact_match"],
        "parse_unknown": summary["single-line/unknown-length/steps16"]["parse_rate"],
    }


def _mean(rows: list[dict], key: str) -> float:
    return sum(r[key] for r in rows) / len(rows)


def table(rows: list[dict], budget: Budget, tasks: int) -> str:
    """One line per variant: means over its seeds, and each seed's ELBO where there are several."""
    seeds = sorted({r["seed"] for r in rows})
    lines = [
        f"Same stdlib corpus, tokenizer and model (hidden 128 x 4 layers), {budget.describe()} each; "
        f"ELBO on the same held-out middles; pass@1 on the first {tasks} single-line tasks (16 steps)"
        + (f"; means over training seeds {', '.join(map(str, seeds))}." if len(seeds) > 1 else "."),
        "",
        "| variant | steps | tokens | ELBO nats/token (lower is better) | pass@1 unknown | pass@1 oracle | "
        "exact | parses |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in dict.fromkeys(r["variant"] for r in rows):
        runs = sorted((r for r in rows if r["variant"] == name), key=lambda r: r["seed"])
        elbo = f"{_mean(runs, 'elbo_nats'):.3f}"
        if len(runs) > 1:
            elbo += " (" + " / ".join(f"{r['elbo_nats']:.3f}" for r in runs) + ")"
        lines.append(
            f"| {name} | {round(_mean(runs, 'steps')):,} | {round(_mean(runs, 'tokens')):,} | {elbo} "
            f"| {_mean(runs, 'pass_unknown'):.1%} | {_mean(runs, 'pass_oracle'):.1%} "
            f"| {_mean(runs, 'exact_unknown'):.1%} | {_mean(runs, 'parse_unknown'):.1%} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=HERE / "runs" / "ablations")
    p.add_argument("--minutes", type=float, default=6.0, help="training time per variant (without --steps)")
    p.add_argument("--steps", type=int, default=None, help="training steps per variant (equal tokens for all)")
    p.add_argument("--seeds", type=int, default=1, help="training seeds per variant (0..N-1)")
    p.add_argument("--tasks", type=int, default=200, help="single-line tasks to score")
    p.add_argument("--parallel", type=int, default=2, help="runs trained at once (threads shared among them)")
    args = p.parse_args()
    if args.seeds < 1 or args.parallel < 1 or (args.steps is not None and args.steps < 1):
        p.error("--seeds, --parallel and --steps must be >= 1")
    args.out.mkdir(parents=True, exist_ok=True)
    threads = max(1, (os.cpu_count() or 1) // args.parallel)
    budget = Budget(args.minutes, args.steps)
    prepare(args.out, threads)
    names = list(VARIANTS)
    jobs = [(i, seed) for seed in range(args.seeds) for i in range(len(names))]
    with ThreadPoolExecutor(args.parallel) as pool:
        rows = list(
            pool.map(
                lambda job: train_and_score(args.out, job[0], job[1], names[job[0]], budget, args.tasks, threads), jobs
            )
        )
    (args.out / "results.json").write_text(json.dumps(rows, indent=1) + "\n")
    (args.out / "results.md").write_text(table(rows, budget, args.tasks))
    print(table(rows, budget, args.tasks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
