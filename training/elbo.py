"""The ELBO bound on held-out data: an upper bound on the negative log-likelihood of the middles.

For absorbing-state diffusion (MDLM eq. 10, DiffusionBERT eq. 9) the NLL of a middle given its context is
bounded by the integral over t of ``w(t) * E[sum of cross-entropies at masked positions]``, with
``w(t) = -alpha'(t) / (1 - alpha(t))``. It is estimated here with a stratified grid of t per sequence and
reported per middle token (nats) and as a perplexity bound ``exp(nats)``. Lower is better; unlike pass@1 it
moves smoothly with training, which makes it the measure for ablations at small scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from diffill.model import LoadedModel
from diffill.progress import progress_bar
from training.data import IGNORE, DataConfig, Encoded, SpecialIds, make_sequence
from training.schedules import NoiseSchedule


@dataclass(frozen=True)
class ElboResult:
    nats_per_token: float
    perplexity_bound: float
    tokens: int
    sequences: int
    t_points: int

    def to_dict(self) -> dict[str, float | int]:
        return {
            "elbo_nats_per_token": round(self.nats_per_token, 4),
            "elbo_perplexity_bound": round(self.perplexity_bound, 3),
            "tokens": self.tokens,
            "sequences": self.sequences,
            "t_points": self.t_points,
        }


def _noised(
    x0: np.ndarray, middle: np.ndarray, t: float, special: SpecialIds, schedule: NoiseSchedule, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Mask middle positions only (the context stays clean: the bound is conditional on it)."""
    rates = schedule.token_rates(t, torch.from_numpy(x0.astype(np.int64)), torch.from_numpy(middle)).numpy()
    masked = middle & (rng.random(len(x0)) < rates)
    return np.where(masked, special.mask, x0), np.where(masked, x0, IGNORE)


@torch.inference_mode()
def elbo_bound(
    lm: LoadedModel,
    examples: list[Encoded],
    special: SpecialIds,
    schedule: NoiseSchedule,
    cfg: DataConfig,
    t_points: int = 8,
    seed: int = 0,
    progress: bool = True,
) -> ElboResult:
    """Estimate the bound over ``examples`` (one sequence each, ``t_points`` stratified times per sequence)."""
    total, tokens = 0.0, 0
    with progress_bar(total=len(examples), desc="elbo", unit="seq", enabled=progress) as bar:
        for i, ex in enumerate(examples):
            rng = np.random.default_rng([seed, i])
            x0, middle = make_sequence(ex, special, cfg, rng)
            n = int(middle.sum())
            if n == 0:
                bar.update(1)
                continue
            ts = (np.arange(t_points) + rng.random(t_points)) / t_points  # stratified in (0, 1)
            rows = [_noised(x0, middle, float(t), special, schedule, rng) for t in ts]
            ids = torch.tensor(np.stack([r[0] for r in rows]), dtype=torch.long, device=lm.device)  # (P, T)
            labels = torch.tensor(np.stack([r[1] for r in rows]), dtype=torch.long, device=lm.device)
            where = labels != IGNORE  # (P, T)
            t = torch.tensor(ts, dtype=torch.float32, device=lm.device)
            logits = lm.logits_at(ids, torch.ones_like(ids), where, t)  # (M, V)
            ce = F.cross_entropy(logits, labels[where], reduction="none")  # (M,)
            per_row = torch.zeros(len(ts), device=lm.device).index_add_(0, where.nonzero()[:, 0], ce)  # (P,)
            weights = schedule.elbo_weight(t.clamp_min(cfg.t_min))  # (P,)
            total += float((weights * per_row).mean())
            tokens += n
            bar.update(1)
    nats = total / max(tokens, 1)
    return ElboResult(nats, math.exp(min(nats, 50.0)), tokens, len(examples), t_points)
