"""The engine's command-line flags (model, denoising, lengths) and the ``FillOptions`` they make.

Shared by ``diffill fill``, ``diffill adapt`` and ``diffill-train eval``; importing it does not import torch.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from diffill import defaults
from diffill.choices import DEVICES, DTYPES, UnmaskOrder
from diffill.errors import DiffillError

if TYPE_CHECKING:
    from diffill.infill import FillOptions


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--model/--device/--dtype, shared by every command that loads a model."""
    parser.add_argument("--model", type=Path, default=None, help="checkpoint directory (default: bundled)")
    parser.add_argument("--device", choices=DEVICES, default="auto", help="where to run the model")
    parser.add_argument("--dtype", choices=DTYPES, default="auto", help="weights dtype (auto: bf16 if fast)")


def add_denoise_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of the denoising loop and of hole lengths, shared by fill, eval and bench."""
    g = parser.add_argument_group("denoising")
    g.add_argument("--steps", type=int, default=defaults.STEPS, help="denoising steps (at most)")
    g.add_argument(
        "--order",
        choices=[o.value for o in UnmaskOrder],
        default="confidence",
        help="which masked positions to commit first",
    )
    g.add_argument("--temperature", type=float, default=0.0, help="sampling temperature (0: greedy)")
    g.add_argument("--top-k", type=int, default=0, help="sample among the k most likely tokens (0: all)")
    g.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass")
    g.add_argument(
        "--threshold",
        type=float,
        default=defaults.THRESHOLD or 0.0,
        help="also commit every position more confident than this (parallel decoding; 0: off; default %(default)s)",
    )
    g.add_argument(
        "--cache-refresh",
        type=int,
        default=defaults.CACHE_REFRESH,
        help="context cache: a full encoder pass every N steps, only the spans in between "
        "(0: off; default %(default)s)",
    )
    g.add_argument(
        "--cache-neighbours",
        type=int,
        default=defaults.CACHE_NEIGHBOURS,
        help="context cache: tokens on each side of a span recomputed with it (default %(default)s)",
    )
    g.add_argument(
        "--window", type=int, default=None, help="at most this many tokens per sequence (default: the model's window)"
    )
    g.add_argument("--remask", type=float, default=0.0, help="re-mask this share of low-confidence tokens")
    g.add_argument(
        "--parallel-spans",
        action=argparse.BooleanOptionalAction,
        default=defaults.PARALLEL_SPANS,
        help="several holes in one window each commit their share every step, so steps follow the "
        "longest hole, not all of them together (default: on)",
    )
    g.add_argument("--seed", type=int, default=0, help="random seed")
    g.add_argument("--length", type=int, default=None, help="token budget of every hole (default: by layout)")
    g.add_argument(
        "--context-tokens",
        type=int,
        default=defaults.CONTEXT_TOKENS,
        help="with --workspace: tokens of the window's own room that code retrieved from the workspace "
        "may take; it also fills whatever room a short file leaves (default %(default)s)",
    )
    g.add_argument(
        "--end-probability",
        type=float,
        default=defaults.END_PROBABILITY or 0.0,
        help="a hole of unknown length ends where the first step's end-of-middle probability first "
        "reaches this (0: off, end-of-middle tokens are committed last; default %(default)s)",
    )
    g.add_argument(
        "--line-length",
        type=int,
        default=defaults.LINE_LENGTH,
        help="token budget of a hole on its own line (default %(default)s)",
    )
    g.add_argument(
        "--inline-length",
        type=int,
        default=defaults.INLINE_LENGTH,
        help="token budget of a hole inside a line (default %(default)s)",
    )
    g.add_argument(
        "--single-line",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep only the first line of each completion (eval: on for the single-line benchmark)",
    )
    g.add_argument(
        "--syntax-check",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="cut each completion to its longest piece that parses (Python; SAFIM's syntax-aware truncation)",
    )


def fill_options(args: argparse.Namespace, single_line_default: bool = False) -> FillOptions:
    """FillOptions from the parsed flags."""
    from diffill.context_cache import CacheConfig
    from diffill.denoise import DenoiseConfig
    from diffill.infill import FillOptions
    from diffill.syntax import check_for

    try:
        config = DenoiseConfig(
            steps=args.steps,
            order=UnmaskOrder(args.order),
            temperature=args.temperature,
            top_k=args.top_k,
            top_p=args.top_p,
            threshold=args.threshold or None,
            remask=args.remask,
            parallel_spans=args.parallel_spans,
        )
        length = args.length
        return FillOptions(
            denoise=config,
            line_length=length or args.line_length,
            inline_length=length or args.inline_length,
            single_line=single_line_default if args.single_line is None else args.single_line,
            cache=CacheConfig(args.cache_refresh, args.cache_neighbours),
            window=args.window,
            syntax_check=check_for("python") if args.syntax_check else None,
            end_probability=args.end_probability or None,
            context_tokens=args.context_tokens,
        )
    except ValueError as exc:
        raise DiffillError(str(exc)) from exc
