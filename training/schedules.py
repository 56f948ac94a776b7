"""Noise schedules of the absorbing-state (masking) diffusion, after MDLM's ``noise_schedule.py``.

A schedule gives, for a time ``t`` in [0, 1], the probability ``mask_rate(t) = 1 - alpha_t`` that a token
is masked, and the ELBO weight ``-alpha'_t / (1 - alpha_t)`` of the masked-token cross-entropy (MDLM eq. 10,
DiffusionBERT eq. 9): with the linear schedule the weight is ``1/t``.
"""

from __future__ import annotations

import abc
import math

import torch


class NoiseSchedule(abc.ABC):
    """Masking probability and ELBO weight as functions of t (tensors of any shape)."""

    name: str

    @abc.abstractmethod
    def mask_rate(self, t: torch.Tensor) -> torch.Tensor:
        """1 - alpha_t: the probability that a token is masked at time t."""

    @abc.abstractmethod
    def elbo_weight(self, t: torch.Tensor) -> torch.Tensor:
        """-alpha'_t / (1 - alpha_t), the weight of each masked token's cross-entropy in the bound."""

    def token_rates(self, t: float, x0: torch.Tensor, noisable: torch.Tensor) -> torch.Tensor:
        """Masking probability of each position (T,) of ``x0`` at time ``t``; the same for every token here."""
        return self.mask_rate(torch.full(x0.shape, t, dtype=torch.float32))


class LinearSchedule(NoiseSchedule):
    """alpha_t = 1 - t (LLaDA, MDLM's default)."""

    name = "linear"

    def mask_rate(self, t: torch.Tensor) -> torch.Tensor:
        return t

    def elbo_weight(self, t: torch.Tensor) -> torch.Tensor:
        return 1.0 / t


class CosineSchedule(NoiseSchedule):
    """alpha_t = cos(pi t / 2): fewer masks early, more late."""

    name = "cosine"

    def mask_rate(self, t: torch.Tensor) -> torch.Tensor:
        return 1.0 - torch.cos(0.5 * math.pi * t)

    def elbo_weight(self, t: torch.Tensor) -> torch.Tensor:
        half = 0.5 * math.pi
        return half * torch.sin(half * t) / (1.0 - torch.cos(half * t)).clamp_min(1e-6)


class SpindleSchedule(LinearSchedule):
    """DiffusionBERT's spindle schedule: per-token masking time shifted by the token's information.

    A token's rate is ``t + lam * sin(pi t) * h``, where ``h`` is its information ``-log p(token)`` (corpus
    frequencies) standardised within the sequence and clipped to [-1, 1]: informative (rare) tokens are
    masked earlier in the forward process and so recovered later, easy tokens first. The sequence's mean
    rate stays close to ``t``, so the ELBO weight is the linear schedule's ``1/t``.
    """

    name = "spindle"

    def __init__(self, lam: float = 0.5, information: torch.Tensor | None = None) -> None:
        self.lam = lam
        self.information = information  # (V,) -log p(token), set from corpus counts

    def fit(self, counts: torch.Tensor) -> SpindleSchedule:
        """Set token information from corpus token counts (V,)."""
        p = (counts.double() + 1) / (counts.double() + 1).sum()
        self.information = (-torch.log(p)).float()
        return self

    def token_rates(self, t: float, x0: torch.Tensor, noisable: torch.Tensor) -> torch.Tensor:
        if self.information is None:
            raise ValueError("the spindle schedule needs token counts: call fit() first")
        info = self.information[x0]  # (T,)
        sel = info[noisable]
        if sel.numel() < 2:
            return super().token_rates(t, x0, noisable)
        h = ((info - sel.mean()) / sel.std().clamp_min(1e-6)).clamp(-1.0, 1.0)
        return (t + self.lam * math.sin(math.pi * t) * h).clamp(0.0, 1.0)


SCHEDULES: dict[str, type[NoiseSchedule]] = {s.name: s for s in (LinearSchedule, CosineSchedule, SpindleSchedule)}


def get_schedule(name: str) -> NoiseSchedule:
    """The schedule registered under ``name`` (a spindle schedule still needs ``fit`` on token counts)."""
    try:
        return SCHEDULES[name]()
    except KeyError:
        raise ValueError(f"unknown noise schedule {name!r}; choose one of {', '.join(SCHEDULES)}") from None
