"""Per-file work, run in worker processes: filter, hash, sign for dedup, check contamination, make examples.

Every result depends only on the file and the config, never on the worker, so the parent process can
consume results in file order and get the same corpus for any number of workers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from training.corpus.config import CorpusConfig
from training.corpus.decontam import NgramIndex
from training.corpus.dedup import content_hash, minhash
from training.corpus.examples import Example, FileInfo, file_rng, make_examples
from training.corpus.filters import Drop, TextLimits, python_parses, read_text
from training.corpus.languages import REGISTRY
from training.corpus.sources import SourceFile
from training.corpus.spans import SpanSettings


@dataclass
class FileResult:
    index: int
    drop: Drop | None = None
    sha: str | None = None
    split: str = "train"
    signature: np.ndarray | None = None
    nbytes: int = 0
    examples: list[Example] = field(default_factory=list)
    empty_chunks: int = 0


class FileProcessor:
    """Holds what every file needs (config, decontamination index) and processes one file at a time."""

    def __init__(self, config: CorpusConfig, ngrams: NgramIndex, skip_before: Mapping[str, int]) -> None:
        self.config = config
        self.ngrams = ngrams
        self.skip_before = dict(skip_before)  # split -> files before this index are already written
        self.limits = TextLimits(
            config.max_file_bytes, config.min_file_chars, config.max_line_chars, config.max_avg_line_chars
        )
        self.settings = SpanSettings(config.span_mode, config.max_spans, config.max_span_chars, config.random_span_prob)

    def __call__(self, file: SourceFile) -> FileResult:
        """Process one file; examples are skipped (the costly part) when its split already has them written."""
        result = FileResult(file.index)
        text, result.drop = read_text(file.path, file.rel, self.limits)
        if text is None:
            return result
        result.nbytes = len(text.encode("utf-8"))
        if file.lang == "python" and not python_parses(text):
            result.drop = Drop.PARSE_ERROR
            return result
        if self.ngrams.contaminated(text):
            result.drop = Drop.CONTAMINATED
            return result
        result.sha = content_hash(text)
        result.signature = minhash(text, self.config.minhash_perms, self.config.shingle_tokens)
        result.split = split_of(result.sha, self.config.val_fraction)
        if file.index >= self.skip_before.get(result.split, 0):
            info = FileInfo(file.rel, file.source, file.license or "unknown", file.lang)
            spec = REGISTRY[file.lang]
            rng = file_rng(self.config.seed, result.sha)
            result.examples, result.empty_chunks = make_examples(
                text, spec, info, self.config.chunk_chars, self.settings, rng
            )
        return result


def split_of(content_hash: str, val_fraction: float) -> str:
    """Held-out split by content hash: stable across seeds, runs and file order."""
    return "val" if int(content_hash[:16], 16) / 2**64 < val_fraction else "train"


_processor: FileProcessor | None = None


def init_worker(config: CorpusConfig, ngrams: NgramIndex, skip_before: Mapping[str, int]) -> None:
    """Pool initializer: build this process's FileProcessor once."""
    global _processor
    _processor = FileProcessor(config, ngrams, skip_before)


def process_in_worker(file: SourceFile) -> FileResult:
    assert _processor is not None, "init_worker was not called"
    return _processor(file)
