"""Choosing the spans (holes) of one chunk: syntax-aligned candidates mixed with random spans.

All offsets here are relative to the chunk text. Chosen spans are non-empty, at most `max_chars` long,
never the whole chunk, and separated by at least one character (two touching holes would be one hole).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from training.corpus.config import SpanMode

# How often each syntax kind is drawn when present in the chunk (line spans are what single-line
# infilling asks for, so they get the most weight).
KIND_WEIGHTS: dict[str, int] = {
    "line": 3,
    "statements": 2,
    "expression": 2,
    "block": 1,
    "function_body": 1,
    "definition": 1,
    "arguments": 1,
}
RANDOM_KINDS = ("random_chars", "random_lines")
MAX_RANDOM_LINES = 4
ATTEMPTS_PER_SPAN = 8


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    kind: str


@dataclass(frozen=True)
class SpanSettings:
    mode: SpanMode
    max_spans: int
    max_chars: int
    random_prob: float


def _char_class(ch: str) -> int:
    if ch.isalnum() or ch == "_":
        return 0
    return 1 if ch.isspace() else 2


def _is_boundary(text: str, pos: int) -> bool:
    """A token-ish boundary: text ends, or the character class changes, or between two punctuation marks."""
    if pos <= 0 or pos >= len(text):
        return True
    left, right = _char_class(text[pos - 1]), _char_class(text[pos])
    return left != right or left == 2


def random_chars(text: str, rng: random.Random, max_chars: int) -> Span | None:
    """A random character range, log-uniform in length, snapped outwards to token boundaries."""
    length = int(math.exp(rng.uniform(0.0, math.log(max_chars + 1))))
    start = rng.randrange(len(text))
    while not _is_boundary(text, start):
        start -= 1
    end = min(len(text), start + max(1, length))
    while not _is_boundary(text, end):
        end += 1
    if end - start > max_chars or not text[start:end].strip():
        return None
    return Span(start, end, "random_chars")


def random_lines(text: str, rng: random.Random, max_chars: int) -> Span | None:
    """1-4 random whole lines, from line start through the last newline."""
    starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n" and i + 1 < len(text)]
    first = rng.randrange(len(starts))
    count = rng.randint(1, MAX_RANDOM_LINES)
    ends = [*starts[1:], len(text)]
    last = min(first + count, len(starts)) - 1
    while last >= first and ends[last] - starts[first] > max_chars:
        last -= 1
    if last < first or not text[starts[first] : ends[last]].strip():
        return None
    return Span(starts[first], ends[last], "random_lines")


def random_span(text: str, rng: random.Random, max_chars: int) -> Span | None:
    make = random_chars if rng.random() < 0.5 else random_lines
    return make(text, rng, max_chars)


def _fits(span: Span, chosen: Sequence[Span], chunk_len: int) -> bool:
    if span.end - span.start >= chunk_len or span.end <= span.start:
        return False
    return all(span.end < other.start or other.end < span.start for other in chosen)


def choose_spans(text: str, candidates: Sequence[Span], rng: random.Random, settings: SpanSettings) -> list[Span]:
    """1..max_spans spans for a chunk, sorted by start; empty when nothing suitable was found.

    `candidates` are the syntax-aligned spans lying inside the chunk (chunk-relative offsets).
    """
    by_kind: dict[str, list[Span]] = {}
    if settings.mode is not SpanMode.RANDOM:
        for cand in candidates:
            if 0 < cand.end - cand.start <= settings.max_chars and cand.end - cand.start < len(text):
                by_kind.setdefault(cand.kind, []).append(cand)
    kinds = sorted(by_kind, key=lambda k: (-KIND_WEIGHTS.get(k, 1), k))
    weights = [KIND_WEIGHTS.get(k, 1) for k in kinds]
    wanted = rng.randint(1, settings.max_spans)
    chosen: list[Span] = []
    for _ in range(wanted * ATTEMPTS_PER_SPAN):
        if len(chosen) == wanted:
            break
        use_random = settings.mode is SpanMode.RANDOM or (
            settings.mode is SpanMode.MIXED and (not kinds or rng.random() < settings.random_prob)
        )
        if use_random:
            span = random_span(text, rng, settings.max_chars)
        elif kinds:
            kind = rng.choices(kinds, weights)[0]
            span = rng.choice(by_kind[kind])
        else:
            break
        if span is not None and _fits(span, chosen, len(text)):
            chosen.append(span)
    return sorted(chosen, key=lambda s: s.start)
