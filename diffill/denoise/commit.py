"""The commit rule: which masked positions take their proposed token this step.

Each span (group) commits its share of its remaining masks so that all are committed by the last step, the
highest-scoring first; with a threshold, also every position more confident than it. End-of-middle
proposals score below everything else, so they are committed only when nothing else is left.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LATE_PENALTY = 1e4  # lowers a late token's order score below every other position's


def group_index(masked: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """(B, T): 1 + the group of each masked position, 0 at the others."""
    return torch.where(masked, groups + 1, torch.zeros_like(groups))


def per_group(index: torch.Tensor, selected: torch.Tensor, width: int) -> torch.Tensor:
    """(B, width): how many ``selected`` positions each group holds (column 0, the unmasked, stays 0)."""
    counts = torch.zeros(index.shape[0], width, dtype=torch.long, device=index.device)
    counts.scatter_add_(1, index, selected.long())
    counts[:, 0] = 0
    return counts


def commit_counts(remaining: torch.Tensor, steps_left: int) -> torch.Tensor:
    """How many of ``remaining`` masked positions (any shape) to commit now so all are done in ``steps_left``."""
    return torch.div(remaining + steps_left - 1, steps_left, rounding_mode="floor")  # ceil


def top_in_groups(score: torch.Tensor, index: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Boolean (B, T) selecting, in each group g >= 1 of ``index`` (B, T), its ``counts[b, g]`` highest scores
    (-inf never selected)."""
    ranked = torch.argsort(score, dim=-1, descending=True)  # (B, T)
    group = index.gather(1, ranked)  # (B, T) the group of each ranked position
    seen = F.one_hot(group, counts.shape[1]).cumsum(dim=1)  # (B, T, G) running count per group
    within = seen.gather(2, group[..., None]).squeeze(-1) - 1  # (B, T) rank inside its group
    take = (within < counts.gather(1, group)) & (group > 0)  # (B, T) in ranked order
    chosen = torch.zeros_like(take).scatter(1, ranked, take)
    return chosen & torch.isfinite(score)


def above_threshold(
    confidence: torch.Tensor,
    late: torch.Tensor,
    masked: torch.Tensor,
    index: torch.Tensor,
    width: int,
    threshold: float,
) -> torch.Tensor:
    """(B, width): per group, the masked positions more confident than ``threshold``. An end-of-middle
    proposal counts only in a row where every position left proposes it (then they may all go at once)."""
    rows = masked.nonzero()[:, 0]  # (M,) the row of each masked position
    others = torch.zeros(masked.shape[0], dtype=torch.long, device=masked.device).index_add_(0, rows, (~late).long())
    only_late = others == 0  # (B,)
    full = torch.zeros(masked.shape, device=masked.device)  # (B, T)
    full[masked] = torch.where(late & ~only_late[rows], torch.zeros_like(confidence), confidence)
    return per_group(index, (full > threshold) & masked, width)


def commit_mask(
    score: torch.Tensor,
    confidence: torch.Tensor,
    late: torch.Tensor,
    masked: torch.Tensor,
    groups: torch.Tensor,
    width: int,
    steps_left: int,
    threshold: float | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The positions (B, T) to commit now, and how many each row commits (B,).

    ``score``, ``confidence`` and ``late`` (end-of-middle proposed) are (M,), one per masked position of
    ``masked`` (B, T) in row-major order; ``groups`` (B, T) names each position's span, ``width`` is one
    more than the number of spans.
    """
    score = torch.where(late, score - LATE_PENALTY, score)
    full_score = torch.full(masked.shape, float("-inf"), device=masked.device)  # (B, T)
    full_score[masked] = score
    index = group_index(masked, groups)  # (B, T)
    count = commit_counts(per_group(index, masked, width), steps_left)  # (B, G)
    if threshold is not None:
        count = torch.maximum(count, above_threshold(confidence, late, masked, index, width, threshold))
    return top_in_groups(full_score, index, count), count.sum(dim=-1)
