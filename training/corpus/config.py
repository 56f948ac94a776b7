"""The corpus builder's configuration: one frozen dataclass and the span-mode switch."""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass
from typing import Any


class SpanMode(str, enum.Enum):
    """Which spans to cut: syntax-aligned only, random only, or a mix of both."""

    AST = "ast"
    RANDOM = "random"
    MIXED = "mixed"


# Fields that change how or where a run is executed but not what it produces.
EXECUTION_FIELDS = frozenset({"out_dir", "workers", "resume", "overwrite", "progress"})


@dataclass(frozen=True)
class CorpusConfig:
    """Everything `build_corpus` needs. Same config (minus execution fields) + same inputs -> same shards."""

    sources: tuple[str, ...]
    out_dir: str
    # languages by registry name; each needs its grammar package installed
    languages: tuple[str, ...] = ("python",)
    # file filters
    max_file_bytes: int = 1_000_000
    min_file_chars: int = 32
    max_line_chars: int = 1000
    max_avg_line_chars: float = 100.0
    # licenses
    allow_unknown_license: bool = False
    allow_weak_copyleft: bool = False
    # dedup
    near_dup_threshold: float = 0.85
    minhash_perms: int = 128
    shingle_tokens: int = 5
    # decontamination
    decontaminate: tuple[str, ...] = ()
    decontam_ngram: int = 13
    # examples
    chunk_chars: int = 1600
    max_spans: int = 3
    max_span_chars: int = 320
    random_span_prob: float = 0.25
    span_mode: SpanMode = SpanMode.MIXED
    # output
    val_fraction: float = 0.01
    shard_size: int = 5000
    seed: int = 0
    # execution (do not change the output)
    workers: int | None = None
    resume: bool = False
    overwrite: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        problems = []
        if not self.sources:
            problems.append("at least one source is needed")
        if self.chunk_chars < 64:
            problems.append("chunk_chars must be >= 64")
        if self.max_spans < 1:
            problems.append("max_spans must be >= 1")
        if self.max_span_chars < 1:
            problems.append("max_span_chars must be >= 1")
        if not 0.0 <= self.random_span_prob <= 1.0:
            problems.append("random_span_prob must be in [0, 1]")
        if not 0.0 <= self.val_fraction < 1.0:
            problems.append("val_fraction must be in [0, 1)")
        if not 0.0 < self.near_dup_threshold <= 1.0:
            problems.append("near_dup_threshold must be in (0, 1]")
        if self.minhash_perms % 8:
            problems.append("minhash_perms must be a multiple of 8")
        if self.shard_size < 1:
            problems.append("shard_size must be >= 1")
        if self.decontam_ngram < 1:
            problems.append("decontam_ngram must be >= 1")
        if self.workers is not None and self.workers < 1:
            problems.append("workers must be >= 1")
        if problems:
            raise ValueError("invalid corpus config: " + "; ".join(problems))
        object.__setattr__(self, "span_mode", SpanMode(self.span_mode))

    def to_json(self) -> dict[str, Any]:
        """The config as plain JSON values (what goes into config.json)."""
        data = asdict(self)
        data["span_mode"] = self.span_mode.value
        return data

    def identity(self) -> dict[str, Any]:
        """The fields that decide the output; a resumed run must match these."""
        data = {k: v for k, v in self.to_json().items() if k not in EXECUTION_FIELDS}
        return json.loads(json.dumps(data))  # as it reads back from progress.json (tuples -> lists)
