"""``diffill adapt DIR --out MODEL_DIR``: learn a workspace's code (``python -m training.adapt`` runs it too).

Progress goes to a bar on stderr and, with ``--status-file``, to a JSON file rewritten after every step (the
language server reads it). Expected failures print one line and exit 2; Ctrl-C leaves the resumable state.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from diffill.errors import DiffillError

STATUS_EVERY_S = 1.0


def positive(kind: type):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from exc
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    return parse


def share(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from exc
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def build_parser(prog: str = "diffill adapt") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Fine-tune the model on the code of a folder, on this machine.")
    p.add_argument("workspace", type=Path, help="the folder whose Python code to learn (git-ignored files skipped)")
    p.add_argument("--out", type=Path, required=True, help="model directory to write (diffill fill --model loads it)")
    p.add_argument("--minutes", type=positive(float), default=12.0, help="training time at most (default %(default)s)")
    p.add_argument("--model", type=Path, default=None, help="base model directory (default: bundled)")
    p.add_argument(
        "--method",
        choices=["full", "lora"],
        default="full",
        help="train every weight of a copy, or LoRA adapters merged at the end (default %(default)s)",
    )
    p.add_argument("--lr", type=positive(float), default=1e-4, help="peak learning rate (default %(default)s)")
    p.add_argument("--batch-size", type=positive(int), default=8, help="sequences per step (default %(default)s)")
    p.add_argument("--steps", type=positive(int), default=None, help="also stop after this many steps")
    p.add_argument("--holdout", type=share, default=0.1, help="share of files held out to stop on (default 0.1)")
    p.add_argument(
        "--replay",
        type=share,
        default=0.0,
        help="share of each batch from the standard library, to keep what the base knew (default 0)",
    )
    p.add_argument(
        "--context-noise",
        type=float,
        default=0.3,
        help="share of sequences whose context is masked too, not only their spans (default %(default)s)",
    )
    p.add_argument(
        "--train-layers",
        type=positive(int),
        default=None,
        help="with --method full: train only the top N encoder layers and the head (faster steps)",
    )
    p.add_argument(
        "--padding",
        choices=["budget", "grows"],
        default=None,
        help="end-of-middle padding of the objective (default: the base model's own)",
    )
    p.add_argument("--lora-rank", type=positive(int), default=16, help="with --method lora: the adapters' rank")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default 0: torch's default)")
    p.add_argument(
        "--nice",
        type=int,
        default=0,
        choices=range(20),
        metavar="0-19",
        help="run at lower priority (the language server uses 19)",
    )
    p.add_argument("--resume", action="store_true", help="continue an interrupted run writing the same --out")
    p.add_argument(
        "--checkpoint-minutes",
        type=float,
        default=2.0,
        help="save the resumable state this often (default %(default)s; 0: after every step)",
    )
    p.add_argument("--status-file", type=Path, default=None, help="keep a JSON status of the run in this file")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    return p


class Status:
    """The ``--status-file``: rewritten atomically, at most every second while running."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._last = 0.0

    def write(self, force: bool = False, **fields: Any) -> None:
        import time

        if self.path is None or (not force and time.monotonic() - self._last < STATUS_EVERY_S):
            return
        self._last = time.monotonic()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        with os.fdopen(fd, "w") as f:
            json.dump({"pid": os.getpid(), **fields}, f)
        os.replace(tmp, self.path)


def run(args: argparse.Namespace) -> int:
    from diffill.model_dir import check_model_dir, default_model_dir
    from diffill.progress import progress_bar
    from training.adapt.config import AdaptConfig

    if not args.workspace.is_dir():
        raise DiffillError(f"{args.workspace}: not a directory")
    check_model_dir(args.model or default_model_dir())
    from training.adapt.loop import Progress, adapt

    try:
        cfg = AdaptConfig(
            workspace=args.workspace,
            out=args.out,
            base=args.model,
            minutes=args.minutes,
            method=args.method,
            lr=args.lr,
            batch_size=args.batch_size,
            max_steps=args.steps,
            holdout=args.holdout,
            replay=args.replay,
            threads=args.threads,
            nice=args.nice,
            resume=args.resume,
            seed=args.seed,
            checkpoint_minutes=args.checkpoint_minutes,
            context_noise=args.context_noise,
            lora_rank=args.lora_rank,
            train_layers=args.train_layers,
            padding=args.padding,
        )
    except ValueError as exc:
        raise DiffillError(str(exc)) from exc
    status = Status(args.status_file)
    status.write(force=True, state="running", progress=0.0, workspace=str(args.workspace), message="reading files")
    limit = int(args.minutes * 60)
    with progress_bar(total=limit, desc="adapt", unit="s") as bar:

        def report(p: Progress) -> None:
            bar.n = min(limit, int(p.seconds))
            bar.set_postfix(step=p.step, loss=f"{p.loss:.3f}", best=f"{p.best:.3f}" if p.best else "-", refresh=False)
            bar.refresh()
            status.write(
                state="running",
                progress=round(p.share, 4),
                step=p.step,
                loss=p.loss,
                best=p.best,
                workspace=str(args.workspace),
                message=f"step {p.step}",
            )

        try:
            out = adapt(cfg, report)
        except BaseException as exc:
            status.write(force=True, state="failed", workspace=str(args.workspace), message=str(exc) or "interrupted")
            raise
    status.write(force=True, state="ready", progress=1.0, model=str(out), workspace=str(args.workspace))
    print(f"adapted model written to {out}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None, prog: str = "diffill adapt") -> int:
    args = build_parser(prog).parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return run(args)
    except DiffillError as exc:
        print(f"diffill adapt: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("diffill adapt: interrupted; --resume continues the run", file=sys.stderr)
        return 130
