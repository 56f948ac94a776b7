"""The ``diffill-train`` command: ``corpus``, ``tokenizer``, ``train``, ``eval``, ``export`` and ``card``.

Each subcommand is a thin layer over its module; expected failures print one line and exit non-zero. Every
numeric flag is checked as it is parsed (the types of ``diffill.argtypes``) and flags that constrain each
other are checked right after (a subcommand's ``check``), so a bad value costs a moment, not a traceback
mid-run.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from diffill import tokens
from diffill.argtypes import (
    OneLineParser,
    fraction,
    int_at_least,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
)
from diffill.errors import DiffillError

MIN_VOCAB = 256 + len(tokens.SPECIAL_TOKENS)  # the byte alphabet and the special tokens


def add_tokenizer_parser(sub) -> None:
    p = sub.add_parser("tokenizer", help="train the byte-level BPE tokenizer on a corpus")
    p.add_argument("corpus", type=Path, help="corpus directory written by `diffill-train corpus`")
    p.add_argument("--out", type=Path, required=True, help="tokenizer directory to write")
    p.add_argument(
        "--vocab-size",
        type=int_at_least(MIN_VOCAB),
        default=8192,
        help=f"vocabulary size (at least {MIN_VOCAB}: the 256 bytes and the special tokens)",
    )
    p.add_argument("--max-length", type=positive_int, default=512, help="model window the tokenizer records")
    p.set_defaults(func=run_tokenizer)


def run_tokenizer(args: argparse.Namespace) -> int:
    from training.data import read_shards
    from training.tokenizer import save_tokenizer, train_tokenizer

    texts = (e["text"] for e in read_shards(args.corpus, "train"))
    tok = train_tokenizer(texts, vocab_size=args.vocab_size, max_length=args.max_length)
    save_tokenizer(tok, args.out)
    print(f"tokenizer with {len(tok)} tokens written to {args.out}", file=sys.stderr)
    return 0


def add_train_parser(sub) -> None:
    from training.data import DataConfig
    from training.modeling import ModelConfig
    from training.schedules import SCHEDULES
    from training.train import LOSS_WEIGHTINGS

    p = sub.add_parser("train", help="train a masked-diffusion LM on a corpus")
    p.add_argument("corpus", type=Path, help="corpus directory written by `diffill-train corpus`")
    p.add_argument("--tokenizer", type=Path, required=True, help="tokenizer directory")
    p.add_argument("--out", type=Path, required=True, help="run directory (checkpoint/, logs, loss.png)")
    p.add_argument("--init", type=Path, default=None, help="start from this Hugging Face masked-LM directory")
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=False, help="continue a run")
    m, d = ModelConfig(), DataConfig()
    g = p.add_argument_group("model (new models only)")
    g.add_argument("--hidden", type=positive_int, default=m.hidden, help="width (a multiple of --heads)")
    g.add_argument("--layers", type=positive_int, default=m.layers)
    g.add_argument("--heads", type=positive_int, default=m.heads, help="attention heads (an even width each)")
    g.add_argument("--intermediate", type=positive_int, default=m.intermediate)
    g.add_argument("--max-length", type=int_at_least(2), default=m.max_length, help="window in tokens")
    g = p.add_argument_group("objective")
    g.add_argument("--schedule", choices=sorted(SCHEDULES), default="linear", help="noise schedule")
    g.add_argument(
        "--time-conditioning",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="feed the diffusion time to the model (default: time-agnostic, as DiffusionBERT)",
    )
    g.add_argument(
        "--loss-weighting",
        choices=LOSS_WEIGHTINGS,
        default="mean",
        help="mean: masked-token mean; elbo: MDLM weight -alpha'/(1-alpha)",
    )
    g.add_argument(
        "--max-middle",
        type=positive_int,
        default=d.max_middle,
        help="middle + end-of-middle budget (below --max-length)",
    )
    g.add_argument(
        "--context-noise", type=fraction, default=d.context_noise, help="share of sequences whose context is noised too"
    )
    g.add_argument(
        "--padding",
        choices=["budget", "grows"],
        default=d.padding,
        help="end-of-middle padding: budget (says little of the middle's length; default) or grows (the bundled "
        "model's: up to twice the middle)",
    )
    g = p.add_argument_group("optimisation")
    g.add_argument("--batch-size", type=positive_int, default=16)
    g.add_argument("--steps", type=positive_int, default=1000)
    g.add_argument("--max-minutes", type=positive_float, default=None, help="stop after this much training time")
    g.add_argument("--lr", type=positive_float, default=1e-3)
    g.add_argument("--warmup", type=non_negative_int, default=100)
    g.add_argument("--weight-decay", type=non_negative_float, default=0.01)
    g.add_argument("--grad-clip", type=positive_float, default=1.0)
    g.add_argument(
        "--bf16",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="bf16 autocast (default: on a GPU, and on CPUs that run bf16 natively; elsewhere it is slower)",
    )
    g.add_argument("--seed", type=non_negative_int, default=0)
    g.add_argument("--checkpoint-every", type=positive_int, default=200)
    g.add_argument("--log-every", type=positive_int, default=10)
    g.add_argument("--max-examples", type=positive_int, default=None, help="use only the first N examples")
    g.add_argument(
        "--data-workers",
        type=non_negative_int,
        default=None,
        help="processes that build batches ahead (default: 8 on a GPU, 0 on a CPU)",
    )
    p.set_defaults(func=run_train, check=check_train)


def check_train(args: argparse.Namespace) -> str | None:
    """What is wrong with flags that constrain each other, or None."""
    if args.hidden % args.heads:
        return f"--hidden {args.hidden} is not divisible by --heads {args.heads}"
    if (width := args.hidden // args.heads) % 2:
        return (
            f"--hidden {args.hidden} over --heads {args.heads} gives heads of {width} dimensions; rotary position "
            f"embeddings need an even number (e.g. --hidden {args.hidden + args.heads})"
        )
    if args.max_middle >= args.max_length:
        return f"--max-middle {args.max_middle} must be below --max-length {args.max_length} to leave room for context"
    return None


def train_config(args: argparse.Namespace):
    """The TrainConfig that ``diffill-train train`` builds from its flags."""
    from training.data import DataConfig
    from training.modeling import ModelConfig
    from training.train import TrainConfig

    return TrainConfig(
        corpus=args.corpus,
        tokenizer=args.tokenizer,
        out=args.out,
        init=args.init,
        resume=args.resume,
        model=ModelConfig(
            hidden=args.hidden,
            layers=args.layers,
            heads=args.heads,
            intermediate=args.intermediate,
            max_length=args.max_length,
        ),
        data=DataConfig(
            max_length=args.max_length,
            max_middle=args.max_middle,
            context_noise=args.context_noise,
            padding=args.padding,
        ),
        schedule=args.schedule,
        time_conditioning=args.time_conditioning,
        loss_weighting=args.loss_weighting,
        batch_size=args.batch_size,
        steps=args.steps,
        max_minutes=args.max_minutes,
        lr=args.lr,
        warmup=args.warmup,
        weight_decay=args.weight_decay,
        grad_clip=args.grad_clip,
        bf16=args.bf16,
        seed=args.seed,
        checkpoint_every=args.checkpoint_every,
        log_every=args.log_every,
        max_examples=args.max_examples,
        data_workers=args.data_workers,
    )


def run_train(args: argparse.Namespace) -> int:
    from training.train import Trainer

    state = Trainer(train_config(args)).run()
    if os.environ.get("RANK", "0") == "0":
        print(
            f"trained {state.step} steps ({state.tokens_processed:,} tokens) -> {args.out / 'checkpoint'}",
            file=sys.stderr,
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    from training.corpus import add_corpus_arguments, run_corpus
    from training.eval_cli import add_eval_parser
    from training.export import add_export_parser

    parser = OneLineParser(prog="diffill-train", description="Build corpora, train and evaluate.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    sub = parser.add_subparsers(dest="command", required=True)
    corpus = sub.add_parser("corpus", help="build masked-span examples from source trees")
    add_corpus_arguments(corpus)
    corpus.set_defaults(func=run_corpus)
    add_tokenizer_parser(sub)
    add_train_parser(sub)
    add_eval_parser(sub)
    add_export_parser(sub)
    card = sub.add_parser("card", help="render a checkpoint's model card (README.md) again from its files")
    card.add_argument("checkpoint", type=Path, help="checkpoint or exported model directory")
    card.set_defaults(func=run_card)
    return parser


def run_card(args: argparse.Namespace) -> int:
    from training.model_card import card_for

    (args.checkpoint / "README.md").write_text(card_for(args.checkpoint))
    print(f"wrote {args.checkpoint / 'README.md'}", file=sys.stderr)
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse and check the flags; a bad value exits with status 2 and one line on stderr."""
    parser = build_parser()
    args = parser.parse_args(argv)
    check = getattr(args, "check", None)
    if check is not None and (problem := check(args)):
        parser.exit(2, f"{parser.prog} {args.command}: error: {problem}\n")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.func(args)
    except (DiffillError, FileNotFoundError, ValueError) as exc:
        print(f"diffill-train: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("diffill-train: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
