"""The ``diffill-train`` command: ``corpus``, ``tokenizer``, ``train`` and ``eval``.

Each subcommand is a thin layer over its module; expected failures print one line and exit non-zero.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from diffill.errors import DiffillError


def add_tokenizer_parser(sub) -> None:
    p = sub.add_parser("tokenizer", help="train the byte-level BPE tokenizer on a corpus")
    p.add_argument("corpus", type=Path, help="corpus directory written by `diffill-train corpus`")
    p.add_argument("--out", type=Path, required=True, help="tokenizer directory to write")
    p.add_argument("--vocab-size", type=int, default=8192, help="vocabulary size")
    p.add_argument("--max-length", type=int, default=512, help="model window the tokenizer records")
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
    g.add_argument("--hidden", type=int, default=m.hidden)
    g.add_argument("--layers", type=int, default=m.layers)
    g.add_argument("--heads", type=int, default=m.heads)
    g.add_argument("--intermediate", type=int, default=m.intermediate)
    g.add_argument("--max-length", type=int, default=m.max_length, help="window in tokens")
    g = p.add_argument_group("objective")
    g.add_argument("--schedule", choices=sorted(SCHEDULES), default="linear", help="noise schedule")
    g.add_argument("--time-conditioning", action=argparse.BooleanOptionalAction, default=False,
                   help="feed the diffusion time to the model (default: time-agnostic, as DiffusionBERT)")
    g.add_argument("--loss-weighting", choices=LOSS_WEIGHTINGS, default="mean",
                   help="mean: masked-token mean; elbo: MDLM weight -alpha'/(1-alpha)")
    g.add_argument("--max-middle", type=int, default=d.max_middle, help="middle + end-of-middle budget")
    g.add_argument("--context-noise", type=float, default=d.context_noise,
                   help="share of sequences whose context is noised too")
    g = p.add_argument_group("optimisation")
    g.add_argument("--batch-size", type=int, default=16)
    g.add_argument("--steps", type=int, default=1000)
    g.add_argument("--max-minutes", type=float, default=None, help="stop after this much training time")
    g.add_argument("--lr", type=float, default=1e-3)
    g.add_argument("--warmup", type=int, default=100)
    g.add_argument("--weight-decay", type=float, default=0.01)
    g.add_argument("--grad-clip", type=float, default=1.0)
    g.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=True, help="bf16 autocast")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--checkpoint-every", type=int, default=200)
    g.add_argument("--log-every", type=int, default=10)
    g.add_argument("--max-examples", type=int, default=None, help="use only the first N examples")
    g.add_argument("--data-workers", type=int, default=None,
                   help="processes that build batches ahead (default: 8 on a GPU, 0 on a CPU)")
    p.set_defaults(func=run_train)


def train_config(args: argparse.Namespace):
    """The TrainConfig that ``diffill-train train`` builds from its flags."""
    from training.data import DataConfig
    from training.modeling import ModelConfig
    from training.train import TrainConfig

    return TrainConfig(
        corpus=args.corpus, tokenizer=args.tokenizer, out=args.out, init=args.init, resume=args.resume,
        model=ModelConfig(hidden=args.hidden, layers=args.layers, heads=args.heads,
                          intermediate=args.intermediate, max_length=args.max_length),
        data=DataConfig(max_length=args.max_length, max_middle=args.max_middle, context_noise=args.context_noise),
        schedule=args.schedule, time_conditioning=args.time_conditioning, loss_weighting=args.loss_weighting,
        batch_size=args.batch_size, steps=args.steps,
        max_minutes=args.max_minutes, lr=args.lr, warmup=args.warmup, weight_decay=args.weight_decay,
        grad_clip=args.grad_clip, bf16=args.bf16, seed=args.seed, checkpoint_every=args.checkpoint_every,
        log_every=args.log_every, max_examples=args.max_examples,
        data_workers=args.data_workers,
    )


def run_train(args: argparse.Namespace) -> int:
    from training.train import Trainer

    state = Trainer(train_config(args)).run()
    if os.environ.get("RANK", "0") == "0":
        print(f"trained {state.step} steps ({state.tokens_processed:,} tokens) -> {args.out / 'checkpoint'}",
              file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from training.corpus import add_corpus_arguments, run_corpus
    from training.eval_cli import add_eval_parser
    from training.export import add_export_parser

    parser = argparse.ArgumentParser(prog="diffill-train", description="Build corpora, train and evaluate.")
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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
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
