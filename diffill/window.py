"""Lay out a text and its spans as one token sequence that fits the model's window.

Spans that fit together go into one sequence (so they are denoised jointly and stay consistent); the room
left is shared by the prefix (two thirds) and the suffix, both cut at line boundaries. Repository context
(code from other files, ``diffill.retrieval``), when given, goes between the start token and the prefix: it
takes the room the file itself leaves free, and at most its budget of the file's own room. Spans that do not fit
are left for further sequences; the engine (``diffill/infill.py``) denoises one alongside when its text
(``Layout.start:end``) holds none of the earlier spans, and otherwise after them, with them filled.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import torch

from diffill.errors import HoleError
from diffill.holes import Span

PREFIX_SHARE = 2 / 3
SPAN_SHARE = 0.75  # spans and the text between them may take at most this part of the window
CHARS_PER_TOKEN_MAX = 16  # generous upper bound, used to avoid tokenizing a whole large file
CHARS_PER_TOKEN_NARROW = 6  # tried first (code averages ~3.5 characters per token)


@dataclass
class Layout:
    """One model input: ids with the masks in place and where each span's tokens sit."""

    ids: list[int]
    slices: list[tuple[int, int]]  # token range of each span in ``ids``
    spans: list[Span]  # the spans laid out here, in text order
    start: int = 0  # the characters of the text the sequence covers: text[start:end], its spans masked
    end: int = 0
    context: int = 0  # repository-context tokens before the prefix

    def covers(self, span: Span) -> bool:
        """Whether any character of ``span`` (or its insertion point) lies in this sequence's text."""
        return self.start <= span.end and span.start <= self.end


@dataclass(frozen=True)
class Vocab:
    """The ids a layout needs."""

    mask_id: int
    cls_id: int | None
    sep_id: int | None


def _encode(tokenizer, texts: list[str]) -> list[tuple[list[int], list[tuple[int, int]]]]:
    if not texts:
        return []
    enc = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    return list(zip(enc["input_ids"], enc["offset_mapping"]))


def cut_prefix(text: str, ids: list[int], offsets: list[tuple[int, int]], budget: int) -> list[int]:
    """The last ``budget`` tokens of ``text``, starting at a line start when one is in reach."""
    if len(ids) <= budget:
        return ids
    if budget <= 0:
        return []
    first = len(ids) - budget
    for k in range(first, len(ids)):
        start = offsets[k][0]
        if start == 0 or text[start - 1] == "\n":
            return ids[k:]
    return ids[first:]


def cut_suffix(text: str, ids: list[int], offsets: list[tuple[int, int]], budget: int) -> list[int]:
    """The first ``budget`` tokens of ``text``, ending at a line end when one is in reach."""
    if len(ids) <= budget:
        return ids
    if budget <= 0:
        return []
    for k in range(budget, 0, -1):
        if text[offsets[k - 1][1] - 1] == "\n":
            return ids[:k]
    return ids[:budget]


def _span_tokens(span: Span, region: list[int], length: int, mask_id: int, g: torch.Generator) -> list[int]:
    """A full-strength span becomes ``length`` masks; a partial one re-masks part of its own tokens."""
    if span.strength >= 1.0 or not region:
        return [mask_id] * length
    k = max(1, round(span.strength * len(region)))
    chosen = set(torch.randperm(len(region), generator=g)[:k].tolist())
    return [mask_id if i in chosen else t for i, t in enumerate(region)]


def _before(tokenizer, text: str, end: int, need: int, widest: int) -> tuple[str, list[int], list[tuple[int, int]]]:
    """A piece of ``text`` ending at ``end`` and its tokens, wide enough for the last ``need`` of them.

    A narrow piece is tried first; it is kept when the tokens a cut can keep start after its first line break,
    where they are the tokens a wider piece gives (line boundaries are token boundaries). Otherwise the piece
    is ``widest`` characters, as before.
    """
    for chars in (min(need * CHARS_PER_TOKEN_NARROW, widest), widest):
        lo = max(0, end - chars)
        piece = text[lo:end]
        ids, offsets = _encode(tokenizer, [piece])[0]
        first = len(ids) - need
        if lo == 0 or chars >= widest or need <= 0:
            return piece, ids, offsets
        if first > 0 and 0 <= piece.find("\n") < offsets[first][0]:
            return piece, ids, offsets
    raise AssertionError("unreachable")


def _after(tokenizer, text: str, start: int, need: int, widest: int) -> tuple[str, list[int], list[tuple[int, int]]]:
    """A piece of ``text`` starting at ``start`` and its tokens, wide enough for the first ``need`` of them."""
    for chars in (min(need * CHARS_PER_TOKEN_NARROW, widest), widest):
        hi = min(len(text), start + chars)
        piece = text[start:hi]
        ids, offsets = _encode(tokenizer, [piece])[0]
        if hi == len(text) or chars >= widest or need <= 0:
            return piece, ids, offsets
        if len(ids) > need and offsets[need - 1][1] <= piece.rfind("\n") + 1:
            return piece, ids, offsets
    raise AssertionError("unreachable")


def context_ids(tokenizer, context: str, room: int, budget: int, own: int | None) -> list[int]:
    """The last tokens of ``context`` that fit (cut at a line start): the room the file's own tokens (``own``;
    None when the file does not fit the window) leave free, or ``budget`` of it, whichever is more."""
    if not context or room <= 0:
        return []
    free = room - own if own is not None else 0
    allowed = min(room, max(free, budget))
    if allowed <= 0:
        return []
    ids, offsets = _encode(tokenizer, [context])[0]
    return cut_prefix(context, ids, offsets, allowed)


def build_layout(
    tokenizer,
    text: str,
    spans: list[Span],
    lengths: list[int],
    vocab: Vocab,
    max_length: int,
    generator: torch.Generator,
    context: str = "",
    context_budget: int = 0,
) -> Layout:
    """Lay out as many leading ``spans`` as fit; ``lengths`` are their token budgets; ``context`` goes before
    the prefix (see ``context_ids``)."""
    capacity = max_length - (vocab.cls_id is not None) - (vocab.sep_id is not None)
    inner_texts = [text[a.end : b.start] for a, b in pairwise(spans)]
    regions = [text[s.start : s.end] if s.strength < 1 else "" for s in spans]
    encoded = _encode(tokenizer, [*inner_texts, *regions])
    inner_enc = encoded[: len(inner_texts)]
    region_ids = [ids for ids, _ in encoded[len(inner_texts) :]]
    bodies = [_span_tokens(s, r, n, vocab.mask_id, generator) for s, r, n in zip(spans, region_ids, lengths)]
    if len(bodies[0]) > capacity:
        raise HoleError(f"a span needs {len(bodies[0])} tokens but the model window holds {capacity}")
    used, count = len(bodies[0]), 1
    while count < len(spans):
        extra = len(inner_enc[count - 1][0]) + len(bodies[count])
        if used + extra > capacity * SPAN_SHARE:
            break
        used, count = used + extra, count + 1
    room = capacity - used
    widest = capacity * CHARS_PER_TOKEN_MAX
    prefix_text, *prefix_enc = _before(tokenizer, text, spans[0].start, room, widest)
    suffix_text, suffix_ids, suffix_offsets = _after(tokenizer, text, spans[count - 1].end, room, widest)
    whole = len(prefix_text) == spans[0].start and len(suffix_text) == len(text) - spans[count - 1].end
    own = len(prefix_enc[0]) + len(suffix_ids) if whole else None
    extra = context_ids(tokenizer, context, room, context_budget, own)
    room -= len(extra)
    prefix_budget = max(int(room * PREFIX_SHARE), room - len(suffix_ids))
    prefix = cut_prefix(prefix_text, *prefix_enc, prefix_budget)
    suffix = cut_suffix(suffix_text, suffix_ids, suffix_offsets, room - len(prefix))
    prefix_offsets = prefix_enc[1]
    start = spans[0].start - len(prefix_text) + (prefix_offsets[-len(prefix)][0] if prefix else len(prefix_text))
    end = spans[count - 1].end + (suffix_offsets[len(suffix) - 1][1] if suffix else 0)
    ids: list[int] = [vocab.cls_id] if vocab.cls_id is not None else []
    ids += extra
    ids += prefix
    slices: list[tuple[int, int]] = []
    for i in range(count):
        if i > 0:
            ids += inner_enc[i - 1][0]
        slices.append((len(ids), len(ids) + len(bodies[i])))
        ids += bodies[i]
    ids += suffix
    if vocab.sep_id is not None:
        ids.append(vocab.sep_id)
    return Layout(ids=ids, slices=slices, spans=list(spans[:count]), start=start, end=end, context=len(extra))
