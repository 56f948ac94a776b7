"""Context states kept from one request for the next: ghost text while typing re-encodes only what changed.

Consecutive ghost-text requests differ by a keystroke or two near the cursor; the rest of the window is the
same tokens, most of them at the same positions. After a request's first step (every span still masked)
the context cache (``context_cache.ContextCache``) leaves a ``Snapshot`` here: the window's ids and each
layer's keys and values. The next request aligns its ids with the snapshot's (``aligned_runs``: the longest
common prefix and suffix, and between them runs of equal ids, as when the window's cut moved by a line):
each run keeps its keys and values, rotated to its new positions when it moved (rotary embeddings compose:
rotating by the shift is exact), and only the changed tokens, the spans and their neighbours run through the
layers, as on the cache's partial steps. So a warm request costs no full pass at all.

It is an approximation of the same kind as the context cache: the kept states saw the old text near the
cursor. ``max_reuses`` bounds how many requests in a row build on one full pass, and an edit of more than
``max_changed`` tokens (or a different document) gets a full pass. ``diffill bench`` measures the quality
cost (variant ``warm``: each request follows requests for the same text a few characters earlier).
Fills of one sequence take part, or of several copies of one (the samples a syntax check draws when the
greedy fill does not parse, ghost-text candidates): they start from the greedy fill's states. Padding
after the text (length buckets on a GPU) is left out of the alignment.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

import torch

from diffill import defaults

# (keys (1, heads, N, d) with rotary applied, shift, layer index) -> the keys at their positions + shift
Rotate = Callable[[torch.Tensor, int, int], torch.Tensor]


@dataclass
class Snapshot:
    """The first step's state of one request: ids (T,) with the spans masked, per-layer keys and values."""

    ids: torch.Tensor
    keys: list[torch.Tensor]  # per layer (1, heads, T, d), rotary applied
    values: list[torch.Tensor]
    reuses: int  # requests built on it since its full pass


@dataclass
class Warm:
    """What a warm request starts from: keys and values of its own width, and the positions to recompute."""

    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    changed: torch.Tensor  # (B, T) bool: tokens in no aligned run, and their neighbours (states to recompute)
    reuses: int


def common_ends(old: torch.Tensor, new: torch.Tensor) -> tuple[int, int]:
    """Lengths of the longest common prefix and suffix of two 1-D id tensors (together at most the shorter)."""
    n = min(len(old), len(new))
    differ = (old[:n] != new[:n]).nonzero()
    prefix = int(differ[0]) if len(differ) else n
    rest = n - prefix
    differ = (old.flip(0)[:rest] != new.flip(0)[:rest]).nonzero()
    suffix = int(differ[0]) if len(differ) else rest
    return prefix, suffix


MIN_RUN = 8  # shortest run of equal ids, between the common prefix and suffix, whose states are reused


def aligned_runs(old: torch.Tensor, new: torch.Tensor, min_run: int = MIN_RUN) -> list[tuple[int, int, int]]:
    """Runs (old start, new start, length) of equal ids in two 1-D id tensors, in order: the common prefix
    and suffix and the matching blocks of at least ``min_run`` ids between them, so a window whose cut
    moved by a line still lines up (the search is cheap next to a denoising step)."""
    prefix, suffix = common_ends(old, new)
    runs = [(0, 0, prefix)] if prefix else []
    rest_old, rest_new = old[prefix : len(old) - suffix].tolist(), new[prefix : len(new) - suffix].tolist()
    if rest_old and rest_new:
        matcher = difflib.SequenceMatcher(None, rest_old, rest_new, autojunk=False)
        runs += [(prefix + a, prefix + b, n) for a, b, n in matcher.get_matching_blocks() if n >= min_run]
    if suffix:
        runs.append((len(old) - suffix, len(new) - suffix, suffix))
    return runs


def _changed(runs: list[tuple[int, int, int]], width: int) -> torch.Tensor:
    """(width,) bool: positions of ``new`` in no run, and the token on each side of every seam (a gap, or
    two runs that moved by different shifts), whose neighbours changed."""
    changed = torch.ones(width, dtype=torch.bool)
    for _, b, n in runs:
        changed[b : b + n] = False
    seams = [b + n for _, b, n in runs if b + n < width] + [b for _, b, n in runs if b > 0]
    for at in seams:
        changed[max(0, at - 1) : at + 1] = True
    return changed


class ReuseSlot:
    """One snapshot, owned by an ``Infiller`` (used from one thread: the server's model thread)."""

    def __init__(self, max_reuses: int = defaults.REUSE_MAX, max_changed: int = defaults.REUSE_MAX_CHANGED) -> None:
        if max_reuses < 0 or max_changed < 0:
            raise ValueError("max_reuses and max_changed must be >= 0")
        self.max_reuses = max_reuses
        self.max_changed = max_changed
        self.snapshot: Snapshot | None = None
        self.hits = 0  # runs kept after starting warm
        self.misses = 0  # runs kept after a full pass

    def clear(self) -> None:
        self.snapshot = None

    def warm(self, ids: torch.Tensor, rotate: Rotate, length: int | None = None) -> Warm | None:
        """The reused states for ``ids`` (B, T), rows all alike (samples of one fill), whose first ``length``
        tokens are text (the rest padding), or None when a full pass is due."""
        snap = self.snapshot
        if snap is None or snap.reuses >= self.max_reuses or snap.ids.device != ids.device:
            return None
        padded = ids.shape[1]
        new = ids[0, : length or padded]
        runs = aligned_runs(snap.ids.cpu(), new.cpu())
        width = len(new)
        if not runs or width - sum(n for _, _, n in runs) > self.max_changed:
            return None
        keys, values = [], []
        for layer, (k_old, v_old) in enumerate(zip(snap.keys, snap.values)):
            k = k_old.new_zeros(*k_old.shape[:2], padded, k_old.shape[-1])
            v = torch.zeros_like(k)
            for a, b, n in runs:
                run = k_old[:, :, a : a + n]
                k[:, :, b : b + n] = rotate(run, b - a, layer) if b != a else run
                v[:, :, b : b + n] = v_old[:, :, a : a + n]
            keys.append(k.expand(ids.shape[0], -1, -1, -1).contiguous())  # each row gets its own copy
            values.append(v.expand(ids.shape[0], -1, -1, -1).contiguous())
        changed = torch.zeros(1, padded, dtype=torch.bool)
        changed[0, :width] = _changed(runs, width)
        return Warm(keys, values, changed.to(ids.device).expand(ids.shape[0], -1), snap.reuses)

    def keep(
        self,
        ids: torch.Tensor,
        keys: list[torch.Tensor],
        values: list[torch.Tensor],
        reuses: int,
        length: int | None = None,
    ) -> None:
        """Remember a request's first-step state: the first row (rows are alike), its first ``length`` tokens
        (copies: the cache goes on writing into its own tensors); ``reuses`` 0 after a full pass."""
        if reuses:
            self.hits += 1
        else:
            self.misses += 1
        n = length or ids.shape[1]
        self.snapshot = Snapshot(
            ids[0, :n].clone(), [k[:1, :, :n].clone() for k in keys], [v[:1, :, :n].clone() for v in values], reuses
        )
