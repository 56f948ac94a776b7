"""Counting what the build kept and dropped: `CorpusStats` (stats.json) and the license ledger."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from training.corpus.filters import Drop
from training.corpus.sources import SourceFile

BYTES_PER_TOKEN = 3.5  # byte-level BPE on Python code, see FACTS.md; an estimate, not a count


@dataclass
class ShardStats:
    """What one written shard holds."""

    name: str
    examples: int = 0
    text_bytes: int = 0
    spans: int = 0
    kinds: dict[str, int] = field(default_factory=dict)


@dataclass
class CorpusStats:
    """The result of a build (written to stats.json)."""

    files_seen: int = 0
    files_kept: int = 0
    files_ignored_extension: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    bytes_kept: int = 0
    files_by_split: dict[str, int] = field(default_factory=dict)
    examples_by_split: dict[str, int] = field(default_factory=dict)
    example_bytes_by_split: dict[str, int] = field(default_factory=dict)
    chunks: int = 0
    chunks_without_spans: int = 0
    spans: int = 0
    spans_by_kind: dict[str, int] = field(default_factory=dict)
    estimated_tokens_kept_files: int = 0
    estimated_tokens_examples: int = 0
    token_estimate_method: str = f"bytes / {BYTES_PER_TOKEN} (an estimate, not a tokenizer count)"
    sources: dict[str, dict[str, int]] = field(default_factory=dict)
    contaminated: list[str] = field(default_factory=list)
    shards: dict[str, list[str]] = field(default_factory=dict)
    elapsed_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Tally:
    """File-level accounting while results stream in (recomputed in full on a resumed run)."""

    def __init__(self) -> None:
        self.stats = CorpusStats()
        self.dropped: Counter[str] = Counter()
        self.by_source: dict[str, Counter[str]] = {}
        self.licenses: dict[str, dict[str, Any]] = {}
        self.excluded_licenses: Counter[str] = Counter()

    def _source(self, file: SourceFile) -> Counter[str]:
        return self.by_source.setdefault(file.source, Counter())

    def seen(self, file: SourceFile) -> None:
        self.stats.files_seen += 1
        self._source(file)["seen"] += 1

    def drop(self, file: SourceFile, reason: Drop) -> None:
        self.dropped[reason.value] += 1
        self._source(file)[reason.value] += 1
        if reason is Drop.CONTAMINATED:
            self.stats.contaminated.append(f"{file.source}:{file.rel}")
        if reason is Drop.LICENSE:
            self.excluded_licenses[file.license or "unknown"] += 1

    def keep(self, file: SourceFile, nbytes: int, split: str) -> None:
        stats = self.stats
        stats.files_kept += 1
        stats.bytes_kept += nbytes
        stats.files_by_split[split] = stats.files_by_split.get(split, 0) + 1
        self._source(file)["kept"] += 1
        entry = self.licenses.setdefault(file.license or "unknown", {"files": 0, "bytes": 0, "sources": {}})
        entry["files"] += 1
        entry["bytes"] += nbytes
        entry["sources"][file.source] = entry["sources"].get(file.source, 0) + 1

    def finish(
        self, shards: dict[str, list[ShardStats]], empty_chunks: int, ignored_extension: int, elapsed: float
    ) -> CorpusStats:
        stats = self.stats
        stats.chunks_without_spans = empty_chunks
        stats.files_ignored_extension = ignored_extension
        stats.dropped = dict(sorted(self.dropped.items()))
        stats.sources = {k: dict(sorted(v.items())) for k, v in sorted(self.by_source.items())}
        kinds: Counter[str] = Counter()
        for split, written in sorted(shards.items()):
            stats.shards[split] = [s.name for s in written]
            stats.examples_by_split[split] = sum(s.examples for s in written)
            stats.example_bytes_by_split[split] = sum(s.text_bytes for s in written)
            stats.spans += sum(s.spans for s in written)
            for s in written:
                kinds.update(s.kinds)
        stats.chunks = sum(stats.examples_by_split.values()) + stats.chunks_without_spans
        stats.spans_by_kind = dict(sorted(kinds.items()))
        stats.estimated_tokens_kept_files = round(stats.bytes_kept / BYTES_PER_TOKEN)
        stats.estimated_tokens_examples = round(sum(stats.example_bytes_by_split.values()) / BYTES_PER_TOKEN)
        stats.elapsed_s = round(elapsed, 2)
        return stats

    def license_ledger(self) -> dict[str, Any]:
        """licenses.json: license -> {files, bytes, sources} for kept files, plus what was excluded."""
        kept = {k: {**v, "sources": dict(sorted(v["sources"].items()))} for k, v in sorted(self.licenses.items())}
        return {"kept": kept, "excluded_files": dict(sorted(self.excluded_licenses.items()))}
