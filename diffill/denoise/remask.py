"""Re-masking (ReMDM-style correction): send the least confident earlier commits back to the mask."""

from __future__ import annotations

import torch

from diffill.denoise.commit import top_in_groups


def remask(
    x_t: torch.Tensor,
    confidence: torch.Tensor,
    committed_at: torch.Tensor,
    fillable: torch.Tensor,
    count: torch.Tensor,
    step: int,
    mask_id: int,
    fraction: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Re-mask, per row, ``fraction`` of this step's commit ``count`` (B,) among the least confident tokens
    committed before ``step`` (never the caller's kept tokens, nor the length estimate's, committed at 0).

    Returns (x_t, confidence, committed_at), all (B, T).
    """
    n = torch.floor(count.float() * fraction).long()  # (B,)
    eligible = fillable & (committed_at > 0) & (committed_at < step) & (x_t != mask_id)
    score = torch.where(eligible, -confidence, torch.full_like(confidence, float("-inf")))
    again = top_in_groups(score, eligible.long(), torch.stack([torch.zeros_like(n), n], dim=1))  # (B, T)
    x_t = torch.where(again, torch.full_like(x_t, mask_id), x_t)
    confidence = torch.where(again, torch.ones_like(confidence), confidence)
    committed_at = torch.where(again, torch.full_like(committed_at, -1), committed_at)
    return x_t, confidence, committed_at
