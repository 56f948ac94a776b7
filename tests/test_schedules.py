"""Noise schedules: rates, ELBO weights, the spindle schedule's per-token shift, and the factory."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from training.data import DataConfig, Encoded, SpecialIds, make_sequence, middle_budget, noise_sequence, token_counts
from training.schedules import SCHEDULES, CosineSchedule, LinearSchedule, SpindleSchedule, get_schedule


def test_rates_go_from_clean_to_all_masked() -> None:
    t = torch.tensor([0.0, 0.5, 1.0])
    assert torch.allclose(LinearSchedule().mask_rate(t), t)
    assert torch.allclose(CosineSchedule().mask_rate(t), torch.tensor([0.0, 1 - math.cos(math.pi / 4), 1.0]))


def test_elbo_weights() -> None:
    assert torch.allclose(LinearSchedule().elbo_weight(torch.tensor([0.25])), torch.tensor([4.0]))
    t = torch.tensor([0.3])
    # cosine: -alpha'/(1-alpha) with alpha = cos(pi t / 2)
    expected = (math.pi / 2) * math.sin(math.pi * 0.15) / (1 - math.cos(math.pi * 0.15))
    assert torch.allclose(CosineSchedule().elbo_weight(t), torch.tensor([expected]))


def test_spindle_masks_informative_tokens_earlier() -> None:
    counts = torch.tensor([1000, 1000, 1, 1, 500, 500])
    schedule = SpindleSchedule(lam=0.5).fit(counts)
    x0 = torch.tensor([0, 1, 2, 3, 4, 5])
    rates = schedule.token_rates(0.5, x0, torch.ones(6, dtype=torch.bool))
    assert rates[2] > rates[4] > rates[0]  # rare > middling > frequent
    assert abs(float(rates.mean()) - 0.5) < 0.1
    assert torch.allclose(schedule.token_rates(1.0, x0, torch.ones(6, dtype=torch.bool)), torch.ones(6))


def test_spindle_needs_counts() -> None:
    with pytest.raises(ValueError):
        SpindleSchedule().token_rates(0.5, torch.tensor([0, 1]), torch.ones(2, dtype=torch.bool))


def test_factory() -> None:
    assert set(SCHEDULES) == {"linear", "cosine", "spindle"}
    assert isinstance(get_schedule("cosine"), CosineSchedule)
    with pytest.raises(ValueError):
        get_schedule("nope")


def test_noising_masks_only_noisable_positions_and_labels_them() -> None:
    special = SpecialIds(mask=1, eom=2, pad=0, cls=3, sep=4)
    ex = Encoded([np.arange(10, 30), np.arange(40, 45), np.arange(50, 70)], [False, True, False])
    cfg = DataConfig(context_noise=0.0)
    rng = np.random.default_rng(0)
    x0, middle = make_sequence(ex, special, cfg, rng)
    assert x0[0] == 3 and x0[-1] == 4
    assert list(x0[middle][:5]) == list(range(40, 45)) and set(x0[middle][5:]) <= {2}
    counts = token_counts([ex], 80)
    for schedule in (LinearSchedule(), SpindleSchedule().fit(counts)):
        x_t, labels, _ = noise_sequence(x0, middle, special, schedule, cfg, rng)
        masked = x_t == 1
        assert masked.any() and not masked[~middle].any()
        assert (labels[masked] == x0[masked]).all() and (labels[~masked] == -100).all()


def test_middle_budgets_do_not_give_away_the_length() -> None:
    """A short middle is padded to every layout budget and exactly to itself, so a budget says little."""
    rng = np.random.default_rng(0)
    short = [middle_budget(5, 128, rng) for _ in range(2000)]
    assert min(short) == 5 and max(short) <= 128
    assert {8, 16, 32, 64, 128} <= set(short)
    long = [middle_budget(40, 128, rng) for _ in range(2000)]
    assert min(long) == 40 and not {8, 16, 32} & set(long)
    assert middle_budget(128, 128, rng) == 128
