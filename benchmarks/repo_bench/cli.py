"""The command line: ``build`` the benchmark from the pinned projects, ``score`` a samples file against it."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks.repo_bench.errors import RepoBenchError

DEFAULT_OUT = Path("data/repo-bench")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.repo_bench",
        description="Repository-level infilling benchmark: build it, score samples.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="download the pinned projects, split them and cut the tasks")
    build.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    build.add_argument("--seed", type=int, default=0, help="seed of the split and the cuts (default: %(default)s)")
    build.add_argument("--projects", nargs="+", default=None, help="only these pinned projects (default: all)")
    build.add_argument(
        "--eval-share",
        type=float,
        default=0.2,
        help="share of each project's .py files that become evaluation files (default: %(default)s)",
    )
    build.add_argument("--download-dir", type=Path, default=None, help="where sdists are kept (default: OUT/sdists)")
    build.add_argument(
        "--corpus-licenses",
        type=Path,
        default=None,
        help="the model's corpus_licenses.json to check against (default: the bundled model's)",
    )
    build.set_defaults(func=run_build)
    score = sub.add_parser("score", help="score a samples file (diffill fill --tasks) against the tasks")
    score.add_argument("--tasks", type=Path, required=True, help="tasks .jsonl (tasks.jsonl or a per-kind file)")
    score.add_argument("--samples", type=Path, required=True, help='samples .jsonl: {"task_id", "completion"} lines')
    score.add_argument("--out", type=Path, default=None, help="write the result as JSON here")
    score.add_argument("--per-task", type=Path, default=None, help="write each task's score as jsonl here")
    score.set_defaults(func=run_score)
    matrix = sub.add_parser("matrix", help="base, base + context, adapted, adapted + context, side by side")
    matrix.add_argument("--bench", type=Path, default=DEFAULT_OUT, help="the built benchmark (default: %(default)s)")
    matrix.add_argument(
        "--variants",
        nargs="+",
        default=["base", "base+context", "adapted", "adapted+context"],
        help="base, base+context, adapted, adapted+context; add :--flag=value,... for fill flags",
    )
    matrix.add_argument("--adapted", default=None, help="adapted model directory template, e.g. runs/{project}")
    matrix.add_argument("--context-tokens", type=int, default=128, help="context budget of +context variants")
    matrix.add_argument("--projects", nargs="+", default=None, help="only these projects (default: all)")
    matrix.add_argument("--work", type=Path, default=None, help="where samples are kept (default: BENCH/matrix)")
    matrix.add_argument("--batch-size", type=int, default=8, help="tasks per denoising batch")
    matrix.add_argument("--out", type=Path, required=True, help="the matrix as JSON (a .md beside it)")
    matrix.set_defaults(func=run_matrix_command)
    sweep = sub.add_parser("sweep", help="adaptation settings on one project: adapt, fill, score, plot")
    sweep.add_argument("project", help="a project of the benchmark")
    sweep.add_argument("settings", nargs="+", help="NAME:--flag=value,... (diffill adapt flags)")
    sweep.add_argument("--bench", type=Path, default=DEFAULT_OUT, help="the built benchmark (default: %(default)s)")
    sweep.add_argument("--work", type=Path, default=None, help="models and samples (default: BENCH/sweep-PROJECT)")
    sweep.add_argument("--threads", type=int, default=2, help="torch threads of the adaptation")
    sweep.add_argument("--fill-flags", default="", help="diffill fill flags for every setting, comma-separated")
    sweep.add_argument("--out", type=Path, required=True, help="results JSON (with .md and .png beside it)")
    sweep.set_defaults(func=run_sweep_command)
    return parser


def run_sweep_command(args: argparse.Namespace) -> int:
    from benchmarks.repo_bench.sweep import markdown, run_sweep, write

    fill_flags = [f for f in args.fill_flags.split(",") if f]
    work = args.work or args.bench / f"sweep-{args.project}"
    result = run_sweep(args.bench, args.project, args.settings, work, args.threads, fill_flags=fill_flags)
    write(result, args.out)
    print(markdown(result))
    return 0


def run_matrix_command(args: argparse.Namespace) -> int:
    from benchmarks.repo_bench.matrix import markdown, parse_variant, run_matrix
    from benchmarks.results_file import write_results

    variants = [parse_variant(v, args.adapted, args.context_tokens) for v in args.variants]
    result = run_matrix(args.bench, variants, args.work or args.bench / "matrix", args.batch_size, args.projects)
    write_results(result, args.out, markdown(result), echo=True)
    return 0


def run_build(args: argparse.Namespace) -> int:
    from benchmarks.repo_bench.build import BuildConfig, build, summary_table
    from benchmarks.repo_bench.projects import select_projects

    try:
        projects = select_projects(args.projects)
    except ValueError as exc:
        raise RepoBenchError(str(exc)) from exc
    config = BuildConfig(
        out=args.out,
        seed=args.seed,
        eval_share=args.eval_share,
        download_dir=args.download_dir,
        corpus_licenses=args.corpus_licenses,
    )
    manifest = build(projects, config)
    print(summary_table(manifest))
    print(f"\nwrote {args.out}/manifest.json and {args.out}/{manifest['files']['all']}", file=sys.stderr)
    return 0


def run_score(args: argparse.Namespace) -> int:
    from benchmarks.repo_bench.score import markdown, per_task_jsonl, score_tasks, summarize
    from benchmarks.repo_bench.taskfile import load_samples, load_tasks

    samples = load_samples(args.samples)
    scores = score_tasks(load_tasks(args.tasks), samples)
    result = summarize(scores, samples)
    print(markdown(result))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if args.per_task is not None:
        args.per_task.parent.mkdir(parents=True, exist_ok=True)
        args.per_task.write_text(per_task_jsonl(scores), encoding="utf-8")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except RepoBenchError as exc:
        print(f"repo_bench: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("repo_bench: interrupted", file=sys.stderr)
        return 130
