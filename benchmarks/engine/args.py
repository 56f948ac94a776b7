"""The flags of ``python -m benchmarks.engine`` (torch-free, so the CLI starts at once)."""

from __future__ import annotations

import argparse
from pathlib import Path

from diffill.choices import COMPILE_MODES

CASES = ("ghost", "hole128", "three-holes", "rewrite20")
CONTEXTS = (256, 512, 1024)
QUICK_CONTEXTS = (256,)
QUICK_VARIANTS = ("plain", "default")
QUALITY_TASKS = 100
QUICK_QUALITY_TASKS = 4


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from exc
    if not values or min(values) < 8:
        raise argparse.ArgumentTypeError("context lengths must be >= 8 tokens")
    return values


def _names(choices: tuple[str, ...]):
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(v.strip() for v in text.split(",") if v.strip())
        unknown = [n for n in names if n not in choices]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(choices)}; got {text!r}")
        return names

    return parse


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """Everything ``python -m benchmarks.engine`` takes except the model flags (``--model/--device/--dtype``)."""
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("runs/bench"),
        help="directory for bench.json, summary.md and the plots (default: %(default)s)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: one context, plain vs default, 2 reps, a few quality tasks"
    )
    parser.add_argument(
        "--contexts",
        type=_ints,
        default=None,
        help="sequence lengths in tokens, capped at the model's window (default: 256,512,1024)",
    )
    parser.add_argument(
        "--cases", type=_names(CASES), default=None, help=f"workloads (default: all of {','.join(CASES)})"
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        default=None,
        metavar="SPEC",
        help="decoding settings: plain, baseline, default, or key=value lists such as "
        "steps=8,threshold=0.9,cache=4,neighbours=8 (default: a sweep; see benchmarks/README.md)",
    )
    parser.add_argument("--reps", type=int, default=20, help="timed runs per setting (after one warm-up)")
    parser.add_argument(
        "--max-seconds", type=float, default=8.0, help="stop timing a setting after this long once 3 runs are in"
    )
    parser.add_argument(
        "--quality-tasks",
        type=int,
        default=None,
        help=f"HumanEval single-line tasks per variant, spread evenly (default {QUALITY_TASKS}; 0 skips quality)",
    )
    parser.add_argument("--batch-size", type=int, default=8, help="tasks per denoising batch for quality")
    parser.add_argument(
        "--threads", type=int, default=0, help="torch CPU threads (default 0: torch's default, one per physical core)"
    )
    parser.add_argument(
        "--buckets",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="pad widths to bucket sizes (default: on for CUDA only)",
    )
    parser.add_argument(
        "--compile",
        choices=COMPILE_MODES,
        default="off",
        help="torch.compile the encoder (GPU; reduce-overhead records CUDA graphs)",
    )
    parser.add_argument(
        "--syntax-check",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="syntax check in every variant's post-processing (default: off, so that timings "
        "compare decoding; the variant `default,syntax=1` measures it)",
    )
    parser.add_argument(
        "--large-file-lines",
        type=int,
        default=5000,
        help="lines of the large file whose layout (tokenisation) time is measured",
    )
