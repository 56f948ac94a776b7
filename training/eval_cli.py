"""``diffill-train eval``: run the fill path on HumanEval-infilling, execute the programs, report.

Completions come from the same engine path as ``diffill fill --tasks`` (``diffill.batch.fill_pairs``) or
from a samples file. Settings: unknown length (the layout's budget) or oracle length (the reference's token
count); a sweep over denoising steps; the multi-hole variant filled jointly or one hole at a time. Writes one
JSON report per run, a summary, and a quality-vs-steps plot when sweeping.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import replace
from pathlib import Path

from diffill.argtypes import positive_float, positive_int, positive_ints
from diffill.batch import fill_pairs
from diffill.errors import DiffillError
from diffill.flags import add_denoise_arguments, add_model_arguments, fill_options
from diffill.holes import Span
from diffill.infill import FillOptions, FillRequest, Infiller
from diffill.model import load_model
from diffill.tasks import load_samples
from training.benchmarks import (
    BENCHMARKS,
    InfillTask,
    MultiHoleTask,
    load_tasks,
    make_multi_hole_tasks,
    resolve_benchmark,
)
from training.evaluate import EvalReport, evaluate_multi_hole, evaluate_samples, evaluate_tasks, write_report
from training.model_card import CONFIG_FILE, SCORES_FILE, card_for, scores_section
from training.plots import maybe_plot, plot_quality_vs_steps


def add_eval_parser(sub) -> None:
    p = sub.add_parser("eval", help="score a model (or a samples file) on HumanEval-infilling")
    p.add_argument(
        "--tasks",
        nargs="+",
        default=["single-line"],
        help=f"benchmarks: {', '.join(BENCHMARKS)} or .jsonl[.gz] paths (default: single-line)",
    )
    p.add_argument("--samples", type=Path, help="score this samples .jsonl instead of running a model")
    p.add_argument("--limit", type=positive_int, default=None, help="only the first N tasks of each benchmark")
    p.add_argument("--out", type=Path, default=Path("runs/eval"), help="directory for JSON reports and plots")
    p.add_argument(
        "--oracle-length",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="also run with each hole's true token count as its budget",
    )
    p.add_argument(
        "--steps-sweep", type=positive_ints, default=None, help="comma-separated step counts, e.g. 4,8,16,32"
    )
    p.add_argument(
        "--multi-hole",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="also score 2-3 hole variants, filled jointly and one hole at a time",
    )
    p.add_argument(
        "--elbo-corpus",
        type=Path,
        default=None,
        help="also estimate the ELBO bound (nats/token, perplexity) on this corpus's val split",
    )
    p.add_argument("--elbo-examples", type=positive_int, default=200, help="held-out sequences for the ELBO")
    p.add_argument("--batch-size", type=positive_int, default=8, help="tasks per denoising batch")
    p.add_argument("--workers", type=positive_int, default=2, help="parallel test executions")
    p.add_argument("--timeout", type=positive_float, default=5.0, help="seconds per test program")
    p.add_argument(
        "--allow-unsandboxed",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="run generated programs even where no bubblewrap sandbox works (they can then reach your "
        "files and network)",
    )
    p.add_argument(
        "--card",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="record the scores in the model directory (scores.json and the model card)",
    )
    add_model_arguments(p)
    add_denoise_arguments(p)
    p.set_defaults(func=run_eval, check=check_eval)


def check_eval(args: argparse.Namespace) -> str | None:
    """The denoising and length flags (shared with ``diffill fill``) and the sandbox, checked before a model
    loads."""
    from training.execution import use_sandbox
    from training.sandbox import SandboxUnavailable

    try:
        fill_options(args)
        use_sandbox(args.allow_unsandboxed, warn=False)
    except (DiffillError, SandboxUnavailable) as exc:
        return str(exc)
    return None


def run_eval(args: argparse.Namespace) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    if args.samples is not None:
        return _score_samples(args)
    infiller = Infiller(load_model(args.model, args.device, args.dtype))
    steps_list = args.steps_sweep or [args.steps]
    scores: dict[str, dict] = {}
    for name in args.tasks:
        tasks = load_tasks(resolve_benchmark(name), args.limit)
        bench = _short_name(name)
        options = fill_options(args, single_line_default=bench == "single-line")
        settings = ["unknown", "oracle"] if args.oracle_length else ["unknown"]
        sweep: dict[str, list[tuple[int, dict]]] = {s: [] for s in settings}
        for steps in steps_list:
            opts = replace(options, denoise=replace(options.denoise, steps=steps))
            for setting in settings:
                report = _run_single(infiller, tasks, opts, setting, args)
                key = f"{bench}/{setting}-length/steps{steps}"
                _write(report, args.out, key, model=str(infiller.lm.path), steps=steps, setting=setting)
                scores[key] = {**report.summary, "setting": f"{setting} length, {steps} steps", "tasks": len(tasks)}
                sweep[setting].append((steps, report.summary))
        if len(steps_list) > 1:
            for setting, points in sweep.items():
                maybe_plot(plot_quality_vs_steps, points, args.out / f"quality-vs-steps-{bench}-{setting}.png")
        if args.multi_hole and bench == "single-line":
            scores.update(_run_multi_hole(infiller, tasks, options, args))
    if args.elbo_corpus is not None:
        scores["elbo/heldout"] = _run_elbo(infiller, args)
    _finish(scores, args, infiller.lm.path)
    return 0


def _short_name(name: str) -> str:
    if name in BENCHMARKS:
        return name
    return re.sub(r"\.jsonl(\.gz)?$", "", Path(name).name)


def _run_single(infiller: Infiller, tasks: list[InfillTask], options: FillOptions, setting: str, args) -> EvalReport:
    def fill(batch: list[InfillTask]) -> list[str]:
        lengths = [_oracle(infiller, t.canonical_solution) for t in batch] if setting == "oracle" else None
        pairs = [(t.prompt, t.suffix) for t in batch]
        opts = replace(options, end_probability=None) if lengths else options  # the length is known
        return fill_pairs(infiller, pairs, opts, args.seed, len(batch), progress=False, lengths=lengths)

    return evaluate_tasks(
        tasks,
        fill,
        batch_size=args.batch_size,
        timeout_s=args.timeout,
        workers=args.workers,
        progress=True,
        allow_unsandboxed=args.allow_unsandboxed,
    )


def _oracle(infiller: Infiller, reference: str) -> int:
    return max(1, len(infiller.lm.tokenizer(reference, add_special_tokens=False)["input_ids"]))


def _multi_request(task: MultiHoleTask, fills: list[str]) -> FillRequest:
    """The program with ``fills`` in the holes that have one and zero-width spans at the others."""
    text, spans = task.segments[0], []
    for i, segment in enumerate(task.segments[1:]):
        if i < len(fills):
            text += fills[i]
        else:
            spans.append(Span(len(text), len(text)))
        text += segment
    return FillRequest(text, spans)


def _run_multi_hole(infiller: Infiller, tasks: list[InfillTask], options: FillOptions, args) -> dict[str, dict]:
    multi = make_multi_hole_tasks(tasks, seed=args.seed)
    if not multi:
        return {}

    def joint(batch: list[MultiHoleTask]) -> list[list[str]]:
        results = infiller.fill_batch([_multi_request(t, []) for t in batch], options, seed=args.seed)
        return [r.completions for r in results]

    def one_at_a_time(batch: list[MultiHoleTask]) -> list[list[str]]:
        fills: list[list[str]] = [[] for _ in batch]
        for _ in range(max(t.holes for t in batch)):
            todo = [i for i, t in enumerate(batch) if len(fills[i]) < t.holes]
            requests = [_multi_request(batch[i], fills[i]) for i in todo]
            requests = [FillRequest(r.text, r.spans[:1]) for r in requests]
            for i, result in zip(todo, infiller.fill_batch(requests, options, seed=args.seed)):
                fills[i].append(result.completions[0])
        return fills

    scores = {}
    for mode, fn in (("joint", joint), ("one-at-a-time", one_at_a_time)):
        report = evaluate_multi_hole(
            multi,
            fn,
            batch_size=args.batch_size,
            timeout_s=args.timeout,
            workers=args.workers,
            progress=True,
            allow_unsandboxed=args.allow_unsandboxed,
        )
        key = f"multi-hole/{mode}"
        _write(report, args.out, key, model=str(infiller.lm.path), mode=mode)
        scores[key] = {**report.summary, "setting": mode, "tasks": len(multi)}
    return scores


def _run_elbo(infiller: Infiller, args: argparse.Namespace) -> dict:
    """The linear-schedule ELBO on held-out middles (comparable across models whatever they trained with)."""
    from training.data import DataConfig, encode_examples, read_shards
    from training.elbo import elbo_bound
    from training.schedules import LinearSchedule
    from training.train import special_ids

    lm = infiller.lm
    examples = [e for _, e in zip(range(args.elbo_examples), read_shards(args.elbo_corpus, "val"))]
    cfg = DataConfig(max_length=lm.max_length)
    result = elbo_bound(
        lm, encode_examples(examples, lm.tokenizer), special_ids(lm.tokenizer), LinearSchedule(), cfg, seed=args.seed
    )
    summary = {**result.to_dict(), "setting": "held-out val split, linear schedule", "tasks": result.sequences}
    (args.out / "elbo.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def _write(report: EvalReport, out: Path, key: str, **meta) -> None:
    report.meta.update(meta)
    write_report(report, out / (key.replace("/", "__") + ".json"))


def _score_samples(args: argparse.Namespace) -> int:
    samples = load_samples(args.samples)
    name = args.tasks[0]
    tasks = load_tasks(resolve_benchmark(name), args.limit)
    report = evaluate_samples(
        tasks,
        samples,
        strict=args.limit is None,
        timeout_s=args.timeout,
        workers=args.workers,
        progress=True,
        allow_unsandboxed=args.allow_unsandboxed,
    )
    key = f"{_short_name(name)}/samples"
    _write(report, args.out, key, samples=str(args.samples))
    _finish({key: {**report.summary, "setting": "samples", "tasks": len(report.records)}}, args, None)
    return 0


def _finish(scores: dict[str, dict], args: argparse.Namespace, model_dir: Path | None) -> None:
    """Print a table, write summary.json, and optionally record the scores in the model card."""
    (args.out / "summary.json").write_text(json.dumps(scores, indent=1) + "\n")
    table = scores_section(scores)
    print("\n".join(table), file=sys.stdout)
    if args.card and model_dir is not None:
        _update_card(model_dir, scores)


def _update_card(model_dir: Path, scores: dict[str, dict]) -> None:
    path = model_dir / SCORES_FILE
    existing = json.loads(path.read_text()) if path.exists() else {}
    existing.update(scores)
    path.write_text(json.dumps(existing, indent=1) + "\n")
    card = model_dir / "README.md"
    if (model_dir / CONFIG_FILE).is_file():
        card.write_text(card_for(model_dir))
        return
    text = card.read_text() if card.exists() else "# diffill model\n"
    head = text.split("\n## Scores", 1)[0].rstrip("\n")
    card.write_text(head + "\n\n" + "\n".join(scores_section(existing)))
