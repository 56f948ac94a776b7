"""The `diffill-train corpus` command: flags -> CorpusConfig -> build_corpus -> a summary on stderr.

Every numeric flag is checked as it is parsed (the types of ``diffill.argtypes``), so a bad value is one
argparse error before any file is read.
"""

from __future__ import annotations

import argparse
import sys

from diffill.argtypes import (
    OneLineParser,
    float_in,
    fraction,
    int_at_least,
    multiple_of,
    non_negative_int,
    positive_float,
    positive_int,
)
from training.corpus.build import build_corpus
from training.corpus.config import CorpusConfig, SpanMode
from training.corpus.errors import CorpusError
from training.corpus.languages import REGISTRY
from training.corpus.stats import CorpusStats

_DEFAULTS = CorpusConfig(sources=("-",), out_dir="-")


def add_corpus_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the corpus command's arguments to `parser`."""
    d = _DEFAULTS
    parser.add_argument(
        "sources",
        nargs="+",
        metavar="SRC",
        help="a directory, 'stdlib' (this Python's standard library) or 'site-packages'",
    )
    parser.add_argument("--out", required=True, help="output directory for shards, stats.json, licenses.json")
    parser.add_argument(
        "--lang",
        dest="languages",
        action="append",
        choices=sorted(REGISTRY),
        help="language to include (repeatable; default python); its grammar must be installed",
    )
    files = parser.add_argument_group("file filters")
    files.add_argument("--max-file-bytes", type=positive_int, default=d.max_file_bytes, help="skip larger files")
    files.add_argument(
        "--min-file-chars",
        type=non_negative_int,
        default=d.min_file_chars,
        help="skip files with fewer non-blank characters",
    )
    files.add_argument(
        "--max-line-chars", type=positive_int, default=d.max_line_chars, help="a longer line marks a file as minified"
    )
    files.add_argument(
        "--max-avg-line-chars",
        type=positive_float,
        default=d.max_avg_line_chars,
        help="a longer average line marks a file as minified",
    )
    files.add_argument(
        "--allow-unknown-license",
        action=argparse.BooleanOptionalAction,
        default=d.allow_unknown_license,
        help="keep files whose license could not be determined",
    )
    files.add_argument(
        "--allow-weak-copyleft",
        action=argparse.BooleanOptionalAction,
        default=d.allow_weak_copyleft,
        help="keep MPL/EPL-licensed files",
    )
    dedup = parser.add_argument_group("dedup and decontamination")
    dedup.add_argument(
        "--near-dup-threshold",
        type=float_in(0, 1, low_open=True),
        default=d.near_dup_threshold,
        help="estimated Jaccard similarity above which a file is a near duplicate",
    )
    dedup.add_argument("--minhash-perms", type=multiple_of(8), default=d.minhash_perms, help="MinHash signature length")
    dedup.add_argument(
        "--shingle-tokens", type=positive_int, default=d.shingle_tokens, help="tokens per MinHash shingle"
    )
    dedup.add_argument(
        "--decontaminate",
        action="append",
        default=[],
        metavar="PATH",
        help="dir or .jsonl[.gz] of HumanEval-infilling style tasks to decontaminate against (repeatable)",
    )
    dedup.add_argument(
        "--decontam-ngram",
        type=positive_int,
        default=d.decontam_ngram,
        help="length of the shared whitespace-token n-gram that marks a file contaminated",
    )
    ex = parser.add_argument_group("examples")
    ex.add_argument(
        "--chunk-chars", type=int_at_least(64), default=d.chunk_chars, help="most characters in one example"
    )
    ex.add_argument("--max-spans", type=positive_int, default=d.max_spans, help="most spans (holes) per example")
    ex.add_argument("--max-span-chars", type=positive_int, default=d.max_span_chars, help="most characters in one span")
    ex.add_argument(
        "--random-span-prob",
        type=fraction,
        default=d.random_span_prob,
        help="chance that a span is random rather than syntax-aligned (mixed mode)",
    )
    ex.add_argument(
        "--span-mode",
        choices=[m.value for m in SpanMode],
        default=d.span_mode.value,
        help="syntax-aligned spans only (ast), random only, or mixed",
    )
    out = parser.add_argument_group("output and execution")
    out.add_argument(
        "--val-fraction", type=float_in(0, 1, high_open=True), default=d.val_fraction, help="share of files held out"
    )
    out.add_argument("--shard-size", type=positive_int, default=d.shard_size, help="examples per shard")
    out.add_argument("--seed", type=non_negative_int, default=d.seed, help="seed for span choice")
    out.add_argument("--workers", type=positive_int, default=None, help="worker processes (default: CPU count)")
    out.add_argument(
        "--resume", action=argparse.BooleanOptionalAction, default=False, help="continue an interrupted build in --out"
    )
    out.add_argument(
        "--overwrite", action=argparse.BooleanOptionalAction, default=False, help="replace an existing corpus in --out"
    )
    out.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=True, help="show a progress bar on stderr"
    )


def config_from_args(args: argparse.Namespace) -> CorpusConfig:
    return CorpusConfig(
        sources=tuple(args.sources),
        out_dir=args.out,
        languages=tuple(args.languages or ("python",)),
        max_file_bytes=args.max_file_bytes,
        min_file_chars=args.min_file_chars,
        max_line_chars=args.max_line_chars,
        max_avg_line_chars=args.max_avg_line_chars,
        allow_unknown_license=args.allow_unknown_license,
        allow_weak_copyleft=args.allow_weak_copyleft,
        near_dup_threshold=args.near_dup_threshold,
        minhash_perms=args.minhash_perms,
        shingle_tokens=args.shingle_tokens,
        decontaminate=tuple(args.decontaminate),
        decontam_ngram=args.decontam_ngram,
        chunk_chars=args.chunk_chars,
        max_spans=args.max_spans,
        max_span_chars=args.max_span_chars,
        random_span_prob=args.random_span_prob,
        span_mode=SpanMode(args.span_mode),
        val_fraction=args.val_fraction,
        shard_size=args.shard_size,
        seed=args.seed,
        workers=args.workers,
        resume=args.resume,
        overwrite=args.overwrite,
        progress=args.progress,
    )


def summary(stats: CorpusStats, out_dir: str) -> str:
    dropped = ", ".join(f"{k} {v}" for k, v in stats.dropped.items()) or "none"
    return (
        f"corpus in {out_dir}: {stats.files_kept}/{stats.files_seen} files kept "
        f"({stats.bytes_kept / 1e6:.1f} MB, ~{stats.estimated_tokens_kept_files / 1e6:.2f}M tokens est.), "
        f"{sum(stats.examples_by_split.values())} examples {stats.examples_by_split}, {stats.spans} spans, "
        f"{stats.elapsed_s:.1f} s; dropped: {dropped}"
    )


def run_corpus(args: argparse.Namespace) -> int:
    """Run the corpus command; 0 on success, 2 on a user-fixable error (printed to stderr)."""
    try:
        config = config_from_args(args)
        stats = build_corpus(config)
    except (CorpusError, ValueError) as err:
        print(f"diffill-train corpus: error: {err}", file=sys.stderr)
        return 2
    print(summary(stats, config.out_dir), file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (`python -m training.corpus`)."""
    parser = OneLineParser(prog="diffill-train corpus", description="Build an infilling corpus.")
    add_corpus_arguments(parser)
    return run_corpus(parser.parse_args(argv))
