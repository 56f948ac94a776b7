"""Token confidence mapped onto text: which characters of a finished fill each committed token became.

The engine commits tokens with a probability each; post-processing then cuts and trims the decoded middle.
``token_spans`` carries each token's confidence through that to character ranges of the final text, and
``uncertain_ranges`` merges the ones below a level into the parts of a fill worth a second look.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from difflib import SequenceMatcher

TokenSpan = tuple[int, int, float]  # (start, end, confidence) in a fill's final text


def piece_offsets(token_ids: Sequence[int], decode: Callable[[list[int]], str]) -> list[int]:
    """The end offset, in ``decode(token_ids)``, of each token's text (cumulative decoding, so a multi-byte
    character split over tokens lands on the token that completes it)."""
    return [len(decode(list(token_ids[: i + 1]))) for i in range(len(token_ids))]


def token_spans(ends: Sequence[int], confidence: Sequence[float], raw: str, final: str) -> list[TokenSpan]:
    """Each token's range in ``final`` (a post-processed form of ``raw``), with its confidence.

    ``ends[i]`` is where token i ends in ``raw``. Characters are matched between ``raw`` and ``final`` (a
    cut, a trimmed tail or a moved indentation keep the rest aligned); a token none of whose characters
    survive has no range.
    """
    if not final or not ends:
        return []
    to_final: dict[int, int] = {}
    for block in SequenceMatcher(None, raw, final, autojunk=False).get_matching_blocks():
        for k in range(block.size):
            to_final[block.a + k] = block.b + k
    out: list[TokenSpan] = []
    start = 0
    for end, conf in zip(ends, confidence):
        kept = [to_final[i] for i in range(start, end) if i in to_final]
        if kept:
            out.append((min(kept), max(kept) + 1, conf))
        start = end
    return out


def uncertain_ranges(spans: Sequence[TokenSpan], below: float, text: str = "") -> list[TokenSpan]:
    """Merge the token ranges with confidence under ``below`` into (start, end, lowest confidence) runs,
    adjacent ones together; with ``text``, runs are trimmed of surrounding whitespace (and dropped if blank)."""
    runs: list[list[float]] = []
    for start, end, conf in spans:
        if conf >= below:
            continue
        if runs and start <= runs[-1][1]:
            runs[-1][1] = max(runs[-1][1], end)
            runs[-1][2] = min(runs[-1][2], conf)
        else:
            runs.append([start, end, conf])
    out: list[TokenSpan] = []
    for start, end, conf in runs:
        a, b = int(start), int(end)
        if text:
            while a < b and text[a].isspace():
                a += 1
            while b > a and text[b - 1].isspace():
                b -= 1
        if b > a:
            out.append((a, b, conf))
    return out
