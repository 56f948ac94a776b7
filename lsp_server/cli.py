"""The ``diffill`` command: ``fill`` a file's holes or a benchmark's tasks; ``serve`` the language server.

Expected failures (a missing file, no holes, a bad model or range) print one line and exit non-zero. torch and
transformers are imported only by the commands that need them, so ``--version`` and ``serve`` start at once.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from lsp_server import __version__, defaults
from lsp_server.bench.args import add_bench_arguments
from lsp_server.choices import COMPILE_MODES, DEVICES, DTYPES, UnmaskOrder
from lsp_server.errors import DiffillError, HoleError
from lsp_server.holes import DEFAULT_MARKER, find_holes, parse_region

if TYPE_CHECKING:
    from lsp_server.infill import FillOptions, Infiller

log = logging.getLogger("diffill")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--model/--device/--dtype, shared by every command that loads a model."""
    parser.add_argument("--model", type=Path, default=None, help="checkpoint directory (default: bundled)")
    parser.add_argument("--device", choices=DEVICES, default="auto", help="where to run the model")
    parser.add_argument("--dtype", choices=DTYPES, default="auto", help="weights dtype (auto: bf16 if fast)")


def add_denoise_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of the denoising loop and of hole lengths, shared by fill, eval and bench."""
    g = parser.add_argument_group("denoising")
    g.add_argument("--steps", type=int, default=defaults.STEPS, help="denoising steps (at most)")
    g.add_argument("--order", choices=[o.value for o in UnmaskOrder], default="confidence",
                   help="which masked positions to commit first")
    g.add_argument("--temperature", type=float, default=0.0, help="sampling temperature (0: greedy)")
    g.add_argument("--top-k", type=int, default=0, help="sample among the k most likely tokens (0: all)")
    g.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass")
    g.add_argument("--threshold", type=float, default=defaults.THRESHOLD or 0.0,
                   help="also commit every position more confident than this (parallel decoding; 0: off; "
                   "default %(default)s)")
    g.add_argument("--cache-refresh", type=int, default=defaults.CACHE_REFRESH,
                   help="context cache: a full encoder pass every N steps, only the spans in between "
                   "(0: off; default %(default)s)")
    g.add_argument("--cache-neighbours", type=int, default=defaults.CACHE_NEIGHBOURS,
                   help="context cache: tokens on each side of a span recomputed with it (default %(default)s)")
    g.add_argument("--window", type=int, default=None,
                   help="at most this many tokens per sequence (default: the model's window)")
    g.add_argument("--remask", type=float, default=0.0, help="re-mask this share of low-confidence tokens")
    g.add_argument("--parallel-spans", action=argparse.BooleanOptionalAction, default=defaults.PARALLEL_SPANS,
                   help="several holes in one window each commit their share every step, so steps follow the "
                   "longest hole, not all of them together (default: on)")
    g.add_argument("--seed", type=int, default=0, help="random seed")
    g.add_argument("--length", type=int, default=None, help="token budget of every hole (default: by layout)")
    g.add_argument("--end-probability", type=float, default=defaults.END_PROBABILITY or 0.0,
                   help="a hole of unknown length ends where the first step's end-of-middle probability first "
                   "reaches this (0: off, end-of-middle tokens are committed last; default %(default)s)")
    g.add_argument("--line-length", type=int, default=defaults.LINE_LENGTH,
                   help="token budget of a hole on its own line (default %(default)s)")
    g.add_argument("--inline-length", type=int, default=defaults.INLINE_LENGTH,
                   help="token budget of a hole inside a line (default %(default)s)")
    g.add_argument("--single-line", action=argparse.BooleanOptionalAction, default=None,
                   help="keep only the first line of each completion (eval: on for the single-line benchmark)")
    g.add_argument("--syntax-check", action=argparse.BooleanOptionalAction, default=True,
                   help="cut each completion to its longest piece that parses (Python; SAFIM's syntax-aware "
                   "truncation)")


def fill_options(args: argparse.Namespace, single_line_default: bool = False) -> FillOptions:
    """FillOptions from the parsed flags."""
    from lsp_server.context_cache import CacheConfig
    from lsp_server.denoise import DenoiseConfig
    from lsp_server.infill import FillOptions
    from lsp_server.syntax import check_for

    try:
        config = DenoiseConfig(
            steps=args.steps, order=UnmaskOrder(args.order), temperature=args.temperature, top_k=args.top_k,
            top_p=args.top_p, threshold=args.threshold or None, remask=args.remask,
            parallel_spans=args.parallel_spans,
        )
        length = args.length
        return FillOptions(
            denoise=config, line_length=length or args.line_length, inline_length=length or args.inline_length,
            single_line=single_line_default if args.single_line is None else args.single_line,
            cache=CacheConfig(args.cache_refresh, args.cache_neighbours), window=args.window,
            syntax_check=check_for("python") if args.syntax_check else None,
            end_probability=args.end_probability or None,
        )
    except ValueError as exc:
        raise DiffillError(str(exc)) from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="diffill", description="Code infilling by masked diffusion.")
    parser.add_argument("--version", action="version", version=f"diffill {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    sub = parser.add_subparsers(dest="command", required=True)
    fill = sub.add_parser("fill", help="fill the holes of a file, a region of it, or a benchmark's tasks")
    fill.add_argument("path", nargs="?", type=Path, help="file with holes (- for stdin)")
    fill.add_argument("--in-place", action="store_true", help="write the result back to PATH")
    fill.add_argument("--marker", default=DEFAULT_MARKER, help="hole placeholder (default: %(default)s)")
    fill.add_argument("--region", help="rewrite LINE:COL-LINE:COL (1-based, end exclusive) instead of holes")
    fill.add_argument("--strength", type=float, default=1.0,
                      help="region rewrite: 1 regenerates it, below 1 re-masks that share of its tokens")
    fill.add_argument("--tasks", type=Path, help="HumanEval-infilling style .jsonl[.gz] to fill")
    fill.add_argument("--out", type=Path, help="with --tasks: samples .jsonl to write")
    fill.add_argument("--limit", type=int, default=None, help="with --tasks: only the first N tasks")
    fill.add_argument("--batch-size", type=int, default=8, help="with --tasks: tasks per denoising batch")
    add_model_arguments(fill)
    add_denoise_arguments(fill)
    fill.set_defaults(func=run_fill)
    serve = sub.add_parser("serve", help="run the language server (LSP over stdio, or TCP with --tcp)")
    serve.add_argument("--tcp", metavar="HOST:PORT", default=None, help="listen on TCP instead of stdio")
    serve.add_argument("--stdio", action="store_true", help="talk over stdin/stdout (the default; for clients "
                       "such as vscode-languageclient that pass it)")
    serve.add_argument("--log-file", type=Path, default=None, help="write logs here instead of stderr")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default="info",
                       help="log level (info: one line per request with its timings)")
    serve.add_argument("--threads", type=int, default=0,
                       help="torch CPU threads (default 0: torch's default, one per physical core)")
    serve.add_argument("--compile", choices=COMPILE_MODES, default="off",
                       help="torch.compile the encoder at start (GPU; reduce-overhead records CUDA graphs)")
    add_model_arguments(serve)
    serve.set_defaults(func=run_serve)
    bench = sub.add_parser("bench", help="measure latency, throughput and quality of the decoding settings")
    add_bench_arguments(bench)
    add_model_arguments(bench)
    bench.set_defaults(func=run_bench)
    return parser


def run_fill(args: argparse.Namespace) -> int:
    """``diffill fill``: a file's holes or region, or a benchmark's tasks."""
    from lsp_server.infill import Infiller
    from lsp_server.model import load_model
    from lsp_server.syntax import check_for

    options = fill_options(args)
    if args.tasks is not None:
        if args.out is None:
            raise DiffillError("--tasks needs --out SAMPLES.jsonl")
        infiller = Infiller(load_model(args.model, args.device, args.dtype))
        return fill_tasks(infiller, args.tasks, args.out, args.limit, args.batch_size, options, args.seed)
    if args.path is None:
        raise DiffillError("give a PATH to fill (or --tasks FILE --out SAMPLES.jsonl)")
    text = read_text(args.path)
    if str(args.path) != "-" and options.syntax_check is not None:
        options = replace(options, syntax_check=check_for(path=args.path))
    if args.in_place and str(args.path) == "-":
        raise DiffillError("--in-place needs a file, not stdin")
    if args.region:
        region = parse_region(args.region, text, args.strength)
    elif not (spans := find_holes(text, args.marker)):
        raise HoleError(f"{args.path}: no {args.marker!r} hole to fill (use --region to rewrite a range)")
    infiller = Infiller(load_model(args.model, args.device, args.dtype))
    if args.region:
        spans = [infiller.rewrite_span(text, region.start, region.end, region.strength)]
    started = time.perf_counter()
    result = infiller.fill(text, spans, options, seed=args.seed)
    log.info("filled %d span(s) in %.0f ms", len(spans), 1000 * (time.perf_counter() - started))
    if args.in_place:
        write_atomic(args.path, result.text)
    else:
        sys.stdout.write(result.text)
    return 0


def run_bench(args: argparse.Namespace) -> int:
    """``diffill bench``: see ``lsp_server.bench``."""
    from lsp_server.bench.run import run_bench as bench

    return bench(args)


def run_serve(args: argparse.Namespace) -> int:
    """``diffill serve``: the language server; client settings override these flags."""
    from lsp_server.server import serve
    from lsp_server.settings import Settings

    model = str(args.model) if args.model is not None else None
    base = Settings(model=model, device=args.device, dtype=args.dtype, threads=args.threads, compile=args.compile)
    return serve(base, tcp=args.tcp, log_file=args.log_file, log_level=args.log_level)


def read_text(path: Path) -> str:
    if str(path) == "-":
        return sys.stdin.read()
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise DiffillError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise DiffillError(f"{path}: is a directory") from exc
    except UnicodeDecodeError as exc:
        raise DiffillError(f"{path}: not UTF-8 text") from exc
    except OSError as exc:
        raise DiffillError(f"{path}: {exc.strerror}") from exc


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename, so a crash never leaves half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fill_tasks(
    infiller: Infiller, tasks_path: Path, out: Path, limit: int | None, batch_size: int, options: FillOptions,
    seed: int,
) -> int:
    """Fill benchmark tasks (``prompt`` + hole + ``suffix``) and write ``{"task_id", "completion"}`` lines."""
    from lsp_server.batch import fill_pairs
    from training.benchmarks import load_tasks  # the benchmark format lives with the evaluation

    try:
        tasks = load_tasks(tasks_path, limit)
    except (OSError, ValueError) as exc:
        raise DiffillError(str(exc)) from exc
    pairs = [(t.prompt, t.suffix) for t in tasks]
    completions = fill_pairs(infiller, pairs, options, seed=seed, batch_size=batch_size)
    lines = [json.dumps({"task_id": t.task_id, "completion": c}) for t, c in zip(tasks, completions)]
    write_atomic(out, "".join(line + "\n" for line in lines))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.func(args)
    except DiffillError as exc:
        print(f"diffill: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("diffill: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
