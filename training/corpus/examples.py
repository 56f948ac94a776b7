"""From one kept file to training examples: parse, cut into chunks, choose spans, serialize JSON lines."""

from __future__ import annotations

import bisect
import hashlib
import json
import random
from dataclasses import dataclass

from training.corpus.chunking import chunk_ranges
from training.corpus.languages import LanguageSpec
from training.corpus.spans import Span, SpanSettings, choose_spans
from training.corpus.syntax import FileSyntax


@dataclass(frozen=True, slots=True)
class Example:
    """One serialized example plus what the stats need from it."""

    line: str  # the JSON line, without the newline
    kinds: tuple[str, ...]
    text_bytes: int


@dataclass(frozen=True)
class FileInfo:
    path: str  # relative path, written to the example
    source: str
    license: str
    lang: str


def file_rng(seed: int, content_hash: str) -> random.Random:
    """The RNG of one file: depends on the seed and the file's content only (not on worker or order)."""
    digest = hashlib.blake2b(f"{seed}:{content_hash}".encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


def serialize(text: str, spans: list[Span], info: FileInfo) -> str:
    record = {
        "text": text,
        "spans": [[s.start, s.end] for s in spans],
        "kinds": [s.kind for s in spans],
        "path": info.path,
        "source": info.source,
        "license": info.license,
        "lang": info.lang,
    }
    return json.dumps(record, ensure_ascii=False)


def make_examples(
    text: str, spec: LanguageSpec, info: FileInfo, chunk_chars: int, settings: SpanSettings, rng: random.Random
) -> tuple[list[Example], int]:
    """(examples, number of chunks that got no span) for a file."""
    syntax = FileSyntax(text, spec, settings.max_chars)
    candidates = sorted(syntax.candidates, key=lambda c: (c.start, c.end, c.kind))
    starts = [c.start for c in candidates]
    examples: list[Example] = []
    empty = 0
    for lo, hi in chunk_ranges(text, chunk_chars, syntax.cuts):
        chunk = text[lo:hi]
        if not chunk.strip():
            continue
        inside = [
            Span(c.start - lo, c.end - lo, c.kind)
            for c in candidates[bisect.bisect_left(starts, lo) : bisect.bisect_left(starts, hi)]
            if c.end <= hi
        ]
        spans = choose_spans(chunk, inside, rng, settings)
        if not spans:
            empty += 1
            continue
        line = serialize(chunk, spans, info)
        examples.append(Example(line, tuple(s.kind for s in spans), len(chunk.encode("utf-8"))))
    return examples, empty
