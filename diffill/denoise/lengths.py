"""The length estimate: where a fully masked hole ends, read off the first step's end-of-middle probabilities.

The model was trained to end every middle with end-of-middle tokens, so with a hole still all masks its
end-of-middle probability along the hole is a length distribution. ``end_positions`` cuts each hole where
that probability first reaches a level; ``commit_ends`` commits the positions after the cut at once, so
the steps fill only the estimated length.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from diffill.denoise.config import EndsFn


def end_positions(p_late: torch.Tensor, holes: Sequence[tuple[int, int, int]], level: float) -> torch.Tensor:
    """(B, T) bool: for each hole (row, start, end), the positions from the first one after its first whose
    end-of-middle probability (``p_late`` (B, T)) reaches ``level`` to its end; a hole never ends before
    its first token."""
    out = torch.zeros(p_late.shape, dtype=torch.bool)  # (B, T)
    p = p_late.cpu()
    for b, lo, hi in holes:
        above = (p[b, lo + 1 : hi] >= level).nonzero()
        if len(above):
            out[b, lo + 1 + int(above[0]) : hi] = True
    return out.to(p_late.device)


def commit_ends(
    x_t: torch.Tensor,
    confidence: torch.Tensor,
    masked: torch.Tensor,
    logits: torch.Tensor,
    ends: EndsFn,
    late_id: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Commit ``late_id`` where ``ends`` says; returns (x_t, confidence, masked, logits) with those
    positions committed and their rows dropped from ``logits`` (M, V)."""
    p_late = torch.zeros(x_t.shape, device=x_t.device)  # (B, T)
    p_late[masked] = torch.softmax(logits.float(), dim=-1)[:, late_id]
    chosen = ends(p_late) & masked  # (B, T)
    if not chosen.any():
        return x_t, confidence, masked, logits
    x_t = torch.where(chosen, torch.full_like(x_t, late_id), x_t)
    confidence = torch.where(chosen, p_late, confidence)
    keep = ~chosen[masked]  # (M,)
    return x_t, confidence, masked & ~chosen, logits[keep]
