"""The ``diffill`` command: ``fill`` a file's holes or a benchmark's tasks; ``serve`` the language server.

Expected failures (a missing file, no holes, a bad model or range) print one line and exit non-zero. torch and
transformers are imported only by the commands that need them, so ``--version`` and ``serve`` start at once.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from diffill import __version__
from diffill.choices import COMPILE_MODES
from diffill.errors import DiffillError, HoleError
from diffill.flags import add_denoise_arguments, add_model_arguments, fill_options
from diffill.holes import DEFAULT_MARKER, find_holes, parse_region
from diffill.model_dir import check_model_dir, default_model_dir

if TYPE_CHECKING:
    from diffill.infill import Infiller
    from diffill.retrieval.workspace import Workspace

log = logging.getLogger("diffill")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="diffill", description="Code infilling by masked diffusion.")
    parser.add_argument("--version", action="version", version=f"diffill {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    sub = parser.add_subparsers(dest="command", required=True)
    fill = sub.add_parser("fill", help="fill the holes of a file, a region of it, or a benchmark's tasks")
    fill.add_argument("path", nargs="?", type=Path, help="file with holes (- for stdin)")
    fill.add_argument("--in-place", action="store_true", help="write the result back to PATH")
    fill.add_argument("--marker", default=DEFAULT_MARKER, help="hole placeholder (default: %(default)s)")
    fill.add_argument(
        "--holes-in-strings",
        action="store_true",
        help="also fill markers inside string literals and comments (by default they are text)",
    )
    fill.add_argument("--region", help="rewrite LINE:COL-LINE:COL (1-based, end exclusive) instead of holes")
    fill.add_argument(
        "--strength",
        type=float,
        default=1.0,
        help="region rewrite: 1 regenerates it, below 1 re-masks that share of its tokens",
    )
    fill.add_argument("--tasks", type=Path, help="HumanEval-infilling style .jsonl[.gz] to fill")
    fill.add_argument("--out", type=Path, help="with --tasks: samples .jsonl to write")
    fill.add_argument("--limit", type=int, default=None, help="with --tasks: only the first N tasks")
    fill.add_argument("--batch-size", type=int, default=8, help="with --tasks: tasks per denoising batch")
    fill.add_argument(
        "--workspace",
        type=Path,
        default=None,
        help="a folder whose code (git-ignored and vendored files aside) is searched for the code "
        "most like each hole's surroundings, which goes into the window (see --context-tokens)",
    )
    add_model_arguments(fill)
    add_denoise_arguments(fill)
    fill.set_defaults(func=run_fill)
    sub.add_parser(
        "adapt", help="learn a folder's code: fine-tune the model on it (diffill adapt --help)", add_help=False
    )
    serve = sub.add_parser("serve", help="run the language server (LSP over stdio, or TCP with --tcp)")
    serve.add_argument("--tcp", metavar="HOST:PORT", default=None, help="listen on TCP instead of stdio")
    serve.add_argument(
        "--stdio",
        action="store_true",
        help="talk over stdin/stdout (the default; for clients such as vscode-languageclient that pass it)",
    )
    serve.add_argument("--log-file", type=Path, default=None, help="write logs here instead of stderr")
    serve.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        default="info",
        help="log level (info: one line per request with its timings)",
    )
    serve.add_argument(
        "--threads", type=int, default=0, help="torch CPU threads (default 0: torch's default, one per physical core)"
    )
    serve.add_argument(
        "--compile",
        choices=COMPILE_MODES,
        default="off",
        help="torch.compile the encoder at start (GPU; reduce-overhead records CUDA graphs)",
    )
    add_model_arguments(serve)
    serve.set_defaults(func=run_serve)
    return parser


def run_fill(args: argparse.Namespace) -> int:
    """``diffill fill``: a file's holes or region, or a benchmark's tasks.

    Everything that can be checked without the model (the input, its holes, the model directory) is checked
    before torch is imported, so a mistake costs a moment, not the seconds of loading.
    """
    if args.tasks is not None:
        return fill_tasks(args)
    if args.path is None:
        raise DiffillError("give a PATH to fill (or --tasks FILE --out SAMPLES.jsonl)")
    if args.in_place and str(args.path) == "-":
        raise DiffillError("--in-place needs a file, not stdin")
    text = read_text(args.path)
    if args.region:
        region = parse_region(args.region, text, args.strength)
    elif not (spans := find_holes(text, args.marker, in_strings=args.holes_in_strings)):
        raise HoleError(f"{args.path}: no {args.marker!r} hole to fill (use --region to rewrite a range)")
    check_model_dir(args.model or default_model_dir())
    from diffill.syntax import check_for, parse_problem

    if problem := parse_problem(text, args.path, [] if args.region else spans):
        print(f"diffill: warning: {args.path} does not parse ({problem}); filling it anyway", file=sys.stderr)
    options = fill_options(args)
    if str(args.path) != "-" and options.syntax_check is not None:
        options = replace(options, syntax_check=check_for(path=args.path))
    own = args.path.resolve() if str(args.path) != "-" else None
    workspace = _workspace(args, exclude=own)
    infiller = _infiller(args)
    if args.region:
        spans = infiller.rewrite_spans(text, region.start, region.end, region.strength)
    started = time.perf_counter()
    context = ""
    if workspace is not None:
        first = min(sp.start for sp in spans)
        context = workspace.context(text, first, infiller.lm.max_length, infiller.count_tokens, own)
    result = infiller.fill(text, spans, options, seed=args.seed, context=context)
    log.info("filled %d span(s) in %.0f ms", len(spans), 1000 * (time.perf_counter() - started))
    if args.in_place:
        write_atomic(args.path, result.text)
    else:
        sys.stdout.write(result.text)
    return 0


def _infiller(args: argparse.Namespace) -> Infiller:
    from diffill.infill import Infiller
    from diffill.model import load_model

    return Infiller(load_model(args.model, args.device, args.dtype))


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


def fill_tasks(args: argparse.Namespace) -> int:
    """Fill benchmark tasks (``prompt`` + hole + ``suffix``) and write ``{"task_id", "completion"}`` lines."""
    from diffill.tasks import load_fill_tasks, samples_jsonl

    if args.out is None:
        raise DiffillError("--tasks needs --out SAMPLES.jsonl")
    tasks = load_fill_tasks(args.tasks, args.limit)
    check_model_dir(args.model or default_model_dir())
    workspace = _workspace(args)
    from diffill.batch import fill_pairs

    options = fill_options(args)
    infiller = _infiller(args)
    pairs = [(t.prompt, t.suffix) for t in tasks]
    contexts = None
    if workspace is not None:
        window = infiller.lm.max_length
        contexts = [workspace.context(p, len(p), window, infiller.count_tokens) for p, _ in pairs]
    completions = fill_pairs(infiller, pairs, options, seed=args.seed, batch_size=args.batch_size, contexts=contexts)
    write_atomic(args.out, samples_jsonl([t.task_id for t in tasks], completions))
    return 0


def _workspace(args: argparse.Namespace, exclude: Path | None = None) -> Workspace | None:
    """The index of ``--workspace`` (None without it)."""
    if args.workspace is None:
        return None
    if not args.workspace.is_dir():
        raise DiffillError(f"--workspace {args.workspace}: not a directory")
    from diffill.retrieval.workspace import Workspace

    return Workspace.load(args.workspace, exclude=[exclude] if exclude is not None else (), progress=args.verbose)


def run_adapt(argv: list[str]) -> int:
    """``diffill adapt``: the training package's adapter, run as its own process (this package, the server's,
    never imports ``training``); its exit status is the command's."""
    code = "import sys; from training.adapt.cli import main; sys.exit(main(prog='diffill adapt'))"
    try:
        return subprocess.call([sys.executable, "-c", code, *argv])
    except KeyboardInterrupt:
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["adapt"]:
        return run_adapt(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
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
