"""Corpus builder: source trees -> licensed, deduplicated, decontaminated code -> examples with spans.

Library API: `build_corpus(CorpusConfig(...)) -> CorpusStats`. CLI: `add_corpus_arguments` and
`run_corpus`, wired into `diffill-train corpus` by `training/cli.py`.
"""

from training.corpus.build import build_corpus
from training.corpus.cli import add_corpus_arguments, run_corpus
from training.corpus.config import CorpusConfig, SpanMode
from training.corpus.errors import CorpusError
from training.corpus.stats import CorpusStats

__all__ = [
    "CorpusConfig",
    "CorpusError",
    "CorpusStats",
    "SpanMode",
    "add_corpus_arguments",
    "build_corpus",
    "run_corpus",
]
