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


SCHEDULES: dict[str, type[NoiseSchedule]] = {s.name: s for s in (LinearSchedule, CosineSchedule)}


def get_schedule(name: str) -> NoiseSchedule:
    """The schedule registered under ``name``."""
    try:
        return SCHEDULES[name]()
    except KeyError:
        raise ValueError(f"unknown noise schedule {name!r}; choose one of {', '.join(SCHEDULES)}") from None
