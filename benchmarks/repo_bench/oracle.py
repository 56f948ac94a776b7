"""Is it the length or the content? Fill the repository benchmark's tasks with each hole's true token count.

The bundled model guesses a hole's length from its mask budget and the first step's end-of-middle
probabilities; an adapted copy inherits that guess. Filling with the reference's own token count (as
``diffill-train eval --oracle-length`` does for HumanEval) separates what a model knows of the code from how
well it guesses lengths. Same engine and settings as ``diffill fill --tasks`` otherwise.

    python -m benchmarks.repo_bench.oracle --projects mistune --models base data/adapt-runs/mistune-full-12m \
        --out benchmarks/results/repo-bench/oracle-mistune.json
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks.repo_bench.cli import DEFAULT_OUT
from benchmarks.repo_bench.matrix import KINDS, _by_kind
from benchmarks.repo_bench.score import score_tasks
from benchmarks.repo_bench.taskfile import load_tasks
from benchmarks.results_file import write_results
from diffill.batch import fill_pairs
from diffill.flags import fill_options
from diffill.infill import Infiller
from diffill.model import load_model
from lsp_server.cli import build_parser


def run(bench: Path, projects: list[str] | None, model: str, batch_size: int) -> dict[str, Any]:
    tasks = [t for t in load_tasks(bench / "tasks.jsonl") if projects is None or t.repo in projects]
    argv = ["fill", "--tasks", "-", "--device", "cpu"] + ([] if model == "base" else ["--model", model])
    args = build_parser().parse_args(argv)
    infiller = Infiller(load_model(args.model, args.device, args.dtype))
    options = fill_options(args)
    pairs = [(t.prompt, t.suffix) for t in tasks]
    out: dict[str, Any] = {}
    for setting in ("estimated", "oracle"):
        lengths = None
        opts = options
        if setting == "oracle":
            lengths = [max(1, infiller.count_tokens(t.canonical_solution)) for t in tasks]
            opts = replace(options, end_probability=None)  # the length is known
        completions = fill_pairs(infiller, pairs, opts, batch_size=batch_size, lengths=lengths)
        samples = {t.task_id: c for t, c in zip(tasks, completions)}
        out[setting] = _by_kind(score_tasks(tasks, samples))
    return out


def markdown(result: dict[str, Any]) -> str:
    rows = [
        "| model | length | single-line EM | single-line ES | multi-line EM | multi-line ES | random-span EM |",
        "|---|---|---|---|---|---|---|",
    ]
    for model, settings in result["models"].items():
        for setting, scores in settings.items():
            sl, ml, rs = (scores[k] for k in KINDS)
            rows.append(
                f"| {model} | {setting} | {sl['exact_match']:.1%} | {sl['edit_similarity']:.3f} | "
                f"{ml['exact_match']:.1%} | {ml['edit_similarity']:.3f} | {rs['exact_match']:.1%} |"
            )
    return "\n".join(rows) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", type=Path, default=DEFAULT_OUT, help="the built benchmark")
    parser.add_argument("--projects", nargs="+", default=None, help="only these projects (default: all)")
    parser.add_argument("--models", nargs="+", default=["base"], help="base (the bundled model) or model dirs")
    parser.add_argument("--batch-size", type=int, default=8, help="tasks per denoising batch")
    parser.add_argument("--out", type=Path, required=True, help="results JSON (a .md beside it)")
    args = parser.parse_args()
    result: dict[str, Any] = {"bench": str(args.bench), "projects": args.projects, "models": {}}
    for model in args.models:
        result["models"][model] = run(args.bench, args.projects, model, args.batch_size)
    write_results(result, args.out, markdown(result), echo=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
