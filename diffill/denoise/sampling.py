"""One step's proposal: a token for every masked position, its confidence, and the order to commit them in."""

from __future__ import annotations

import torch

from diffill.choices import UnmaskOrder
from diffill.denoise.config import DenoiseConfig


def filter_logits(logits: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """Set logits outside the top-k / nucleus to -inf.  logits: (M, V)."""
    if top_k > 0 and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (M, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)  # (M, V)
        cum = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
        drop = cum - torch.softmax(sorted_logits, dim=-1) > top_p  # keep the token that crosses top_p
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
    return logits


def sample_tokens(
    logits: torch.Tensor, config: DenoiseConfig, generator: torch.Generator, mask_id: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Draw one token per row, never the mask itself.

    Returns (tokens (M,), confidence (M,), order score (M,), higher commits first).
    """
    never = torch.tensor([mask_id], device=logits.device)
    logits = logits.float().index_fill(-1, never, float("-inf"))
    if config.temperature > 0:
        scaled = filter_logits(logits / config.temperature, config.top_k, config.top_p)
        probs = torch.softmax(scaled, dim=-1)  # (M, V)
        tokens = torch.multinomial(probs, 1, generator=generator).squeeze(-1)  # (M,)
    else:
        probs = torch.softmax(logits, dim=-1)
        tokens = probs.argmax(dim=-1)
    confidence = probs.gather(-1, tokens[:, None]).squeeze(-1)  # (M,)
    score = order_score(probs, confidence, config.order, generator)
    return tokens, confidence, score


def order_score(
    probs: torch.Tensor, confidence: torch.Tensor, order: UnmaskOrder, generator: torch.Generator
) -> torch.Tensor:
    """Score each row so that higher means commit earlier.  probs: (M, V).

    Left to right scores every row 0: ``position_order`` adds the term that decides.
    """
    if order is UnmaskOrder.CONFIDENCE:
        return confidence
    if order is UnmaskOrder.MARGIN:
        top2 = torch.topk(probs, 2, dim=-1).values  # (M, 2)
        return top2[:, 0] - top2[:, 1]
    if order is UnmaskOrder.ENTROPY:
        return (probs * torch.log(probs.clamp_min(1e-12))).sum(dim=-1)  # -H
    if order is UnmaskOrder.LEFT_TO_RIGHT:
        return torch.zeros_like(confidence)
    return torch.rand(confidence.shape, generator=generator, device=confidence.device)


def position_order(score: torch.Tensor, masked: torch.Tensor, order: UnmaskOrder) -> torch.Tensor:
    """Left to right: the leftmost masked position of a row first (``score`` (M,), rows of ``masked`` (B, T))."""
    if order is not UnmaskOrder.LEFT_TO_RIGHT:
        return score
    return score - masked.nonzero()[:, 1].float()
