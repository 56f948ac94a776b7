"""``python -m benchmarks.engine``: time every (case, context, variant), score every variant, write the report.

Writes ``bench.json`` (settings, hardware, latency rows, quality, ratios against plain decoding, targets),
``summary.md`` (the same as tables), ``latency_vs_context.png`` and ``quality_vs_latency.png`` to ``--out``,
and prints the tables. Nothing is asserted: the numbers are the result.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from dataclasses import replace
from typing import Any

import torch
import transformers

from benchmarks.engine import args as bench_args
from benchmarks.engine import quality, report
from benchmarks.engine.cases import build_cases, large_file, source_path
from benchmarks.engine.measure import Timing, time_case, time_layout
from benchmarks.engine.variants import DEFAULT_SWEEP, Variant, VariantError, parse_variants
from diffill.errors import DiffillError
from diffill.flags import add_denoise_arguments, add_model_arguments, fill_options
from diffill.infill import FillOptions, Infiller
from diffill.int8 import parameter_count
from diffill.model import LoadedModel, describe_device, load_model
from diffill.model_dir import default_model_dir

log = logging.getLogger(__name__)


def contexts(requested: tuple[int, ...], max_length: int) -> list[dict[str, Any]]:
    """Each requested context with the length used (capped at the model's window) and whether it was capped."""
    return [{"requested": c, "used": min(c, max_length), "capped": c > max_length} for c in requested]


def _settings(args: argparse.Namespace) -> tuple[tuple[int, ...], tuple[str, ...], list[Variant], int]:
    quick = args.quick
    ctx = args.contexts or (bench_args.QUICK_CONTEXTS if quick else bench_args.CONTEXTS)
    cases = args.cases or bench_args.CASES
    specs = args.variants or (bench_args.QUICK_VARIANTS if quick else DEFAULT_SWEEP)
    try:
        variants = parse_variants(specs)
    except VariantError as exc:
        raise DiffillError(str(exc)) from exc
    tasks = args.quality_tasks
    if tasks is None:
        tasks = bench_args.QUICK_QUALITY_TASKS if quick else bench_args.QUALITY_TASKS
    return ctx, cases, variants, tasks


def base_options(syntax_check: bool = False) -> FillOptions:
    """What ``diffill fill`` uses when given no flags (every variant starts from it), with the syntax check of
    post-processing off unless asked: its cost depends on whether a completion parses, not on decoding, so it
    would drown the decoding settings' differences (the ``syntax=1`` variants measure it)."""
    parser = argparse.ArgumentParser()
    add_denoise_arguments(parser)
    flag = "--syntax-check" if syntax_check else "--no-syntax-check"
    return fill_options(parser.parse_args([flag]))


def _latency(
    infiller: Infiller,
    cases: list,
    ctx: list[dict],
    variants: list[Variant],
    reps: int,
    max_seconds: float,
    base: FillOptions,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    measured: dict[int, list[dict[str, Any]]] = {}
    for c in ctx:
        if c["used"] in measured:  # a capped context is the same measurement as the window itself
            rows += [{**row, "context": c["requested"]} for row in measured[c["used"]]]
            continue
        batch = []
        for case in cases:
            for variant in variants:
                options = variant.apply(replace(base, window=c["used"]))
                cell = Timing(case.name, c["requested"], c["used"], variant.name)
                row = time_case(infiller, case, options, reps, max_seconds, cell, variant.warm).to_dict()
                _print_row(row)
                batch.append(row)
        measured[c["used"]] = batch
        rows += batch
    return rows


def _print_row(row: dict[str, Any]) -> None:
    if "p50_ms" not in row:
        print(f"{row['case']:<12} {row['context']:>5} {row['variant']:<40} skipped: {row['skipped']}", file=sys.stderr)
        return
    print(
        f"{row['case']:<12} {row['context']:>5} {row['variant']:<40} p50 {row['p50_ms']:8.1f} ms  "
        f"p95 {row['p95_ms']:8.1f} ms  steps {row['steps']:6.1f}  n={row['reps']}",
        file=sys.stderr,
    )


def _quality(
    infiller: Infiller, variants: list[Variant], count: int, batch_size: int, base: FillOptions
) -> dict[str, Any]:
    if count <= 0:
        return {}
    tasks = quality.subset(count)
    out: dict[str, Any] = {}
    for variant in variants:
        out[variant.name] = quality.score(infiller, tasks, variant.apply(base), batch_size, warm=variant.warm)
        q = out[variant.name]
        print(
            f"quality {variant.name:<40} pass@1 {q['pass_at_1']:.3f}  exact {q['exact_match']:.3f}  ({q['seconds']} s)",
            file=sys.stderr,
        )
    plain = next((out[v.name]["completions"] for v in variants if v.plain), [])
    for q in out.values():
        q["same_as_plain"] = quality.agreement(q["completions"], plain)
    return out


def _model_info(lm: LoadedModel) -> dict[str, Any]:
    params = parameter_count(lm.model)
    bundled = lm.path.resolve() == default_model_dir().resolve()
    path = "bundled (diffill/models/default)" if bundled else str(lm.path)
    return {"path": path, "params": params, "max_length": lm.max_length}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engine", description=__doc__.splitlines()[0])
    bench_args.add_bench_arguments(parser)
    add_model_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the flags and run; an expected failure prints one line and exits 2."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    args = build_parser().parse_args(argv)
    try:
        return run_bench(args)
    except DiffillError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2


def run_bench(args: argparse.Namespace) -> int:
    """The command: load, measure, score, write."""
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    ctx_req, case_names, variants, tasks = _settings(args)
    lm = load_model(args.model, args.device, args.dtype, buckets=args.buckets, compile_mode=args.compile)
    infiller = Infiller(lm)
    ctx = contexts(ctx_req, lm.max_length)
    cases = build_cases(case_names, infiller)
    started = time.perf_counter()
    record: dict[str, Any] = {
        "schema": 1,
        "hardware": describe_device(lm.device),
        "device": str(lm.device),
        "dtype": "int8" if lm.quantized else str(lm.dtype),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "attention": getattr(lm.model.config, "_attn_implementation", None),
        "buckets": list(lm.buckets),
        "compile": args.compile,
        "model": _model_info(lm),
        "quick": args.quick,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "source": source_path().name,
        "contexts": ctx,
        "cases": {c.name: c.description for c in cases},
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],  # other work on the machine
    }
    base = base_options(args.syntax_check)
    record["variants"] = {v.name: v.describe(base) for v in variants}
    reps = 2 if args.quick else args.reps
    record["base_options"] = {
        "line_length": base.line_length,
        "inline_length": base.inline_length,
        "syntax_check": base.syntax_check is not None,
    }
    record["latency"] = _latency(infiller, cases, ctx, variants, reps, 1.0 if args.quick else args.max_seconds, base)
    record["speedup"] = report.speedups(record["latency"])
    record["quality"] = _quality(infiller, variants, tasks, args.batch_size, base)
    completions = {name: q.pop("completions") for name, q in record["quality"].items()}
    record["layout"] = time_layout(infiller, large_file(args.large_file_lines), reps=3 if args.quick else 20)
    record["targets"] = report.check_targets(record)
    record["seconds"] = round(time.perf_counter() - started, 1)
    record["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    _write(record, completions, args)
    return 0


def _write(record: dict[str, Any], completions: dict[str, list[str]], args: argparse.Namespace) -> None:
    out = args.out
    report.write_json(record, out / "bench.json")
    if completions:
        report.write_json(completions, out / "quality_completions.json")
    summary = report.markdown(record)
    (out / "summary.md").write_text(summary, encoding="utf-8")
    report.plot_latency_vs_context(record, out / "latency_vs_context.png")
    report.plot_quality_vs_latency(record, out / "quality_vs_latency.png")
    sys.stdout.write(summary)
    print(f"written {out / 'bench.json'}", file=sys.stderr)
