"""Training data: pieces, sequences with end-of-middle padding, middle budgets, noising, batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training.data import (
    IGNORE,
    LAYOUT_BUDGETS,
    DataConfig,
    DiffusionBatches,
    Encoded,
    SpecialIds,
    StepBatches,
    collate,
    encode_examples,
    make_sequence,
    middle_budget,
    noise_sequence,
    prefetching,
    split_pieces,
)
from training.schedules import LinearSchedule, NoiseSchedule

SPECIAL = SpecialIds(mask=1, eom=2, pad=0, cls=3, sep=4)
MIDDLE_TOKENS = (50, 51, 52)


class FixedRate(NoiseSchedule):
    """Masks every noisable position with the same probability, whatever t is."""

    name = "fixed"

    def __init__(self, rate: float) -> None:
        self.rate = rate

    def mask_rate(self, t: torch.Tensor) -> torch.Tensor:
        return torch.full_like(t, self.rate)

    def elbo_weight(self, t: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(t)


def arr(*ids: int) -> np.ndarray:
    return np.asarray(ids, dtype=np.int32)


def runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of each run of True."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flags.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def test_split_pieces_alternates_context_and_middles_in_text_order() -> None:
    assert split_pieces("abc", [[1, 3], [0, 1]]) == (["", "a", "", "bc", ""], [False, True, False, True, False])
    assert split_pieces("x = 1\n", []) == (["x = 1\n"], [False])


def test_encode_examples_tokenizes_each_piece_apart(tiny_tokenizer) -> None:
    examples = [{"text": "a = 1\nb = 2\n", "spans": [[6, 11]]}, {"text": "x\n"}]
    out = encode_examples(examples, tiny_tokenizer)
    assert [e.is_middle for e in out] == [[False, True, False], [False]]
    assert [tiny_tokenizer.decode(p.tolist()) for p in out[0].pieces] == ["a = 1\n", "b = 2", "\n"]
    assert all(p.dtype == np.int32 for e in out for p in e.pieces)
    small = encode_examples(examples, tiny_tokenizer, batch=1)  # the batch size changes nothing
    assert [[p.tolist() for p in e.pieces] for e in small] == [[p.tolist() for p in e.pieces] for e in out]


def test_a_sequence_is_framed_and_each_middle_is_followed_by_end_of_middle_padding() -> None:
    ex = Encoded([arr(10, 11, 12), arr(50, 51), arr(13, 14), arr(52, 50, 51), arr()], [False, True, False, True, False])
    cfg = DataConfig(max_length=1000, max_middle=8)
    x0, middle = make_sequence(ex, SPECIAL, cfg, np.random.default_rng(0))
    assert x0[0] == SPECIAL.cls and x0[-1] == SPECIAL.sep and x0.dtype == np.int32
    assert not middle[0] and not middle[-1]
    (a, b), (c, d) = runs(middle)
    assert x0[a : a + 2].tolist() == [50, 51] and set(x0[a + 2 : b].tolist()) <= {SPECIAL.eom}
    assert x0[c : c + 3].tolist() == [52, 50, 51] and set(x0[c + 3 : d].tolist()) <= {SPECIAL.eom}
    assert 2 <= b - a <= 8 and 3 <= d - c <= 8
    assert x0[~middle].tolist() == [SPECIAL.cls, 10, 11, 12, 13, 14, SPECIAL.sep]  # context untouched
    again = make_sequence(ex, SPECIAL, cfg, np.random.default_rng(0))
    assert np.array_equal(again[0], x0) and np.array_equal(again[1], middle)
    lengths = set()
    for seed in range(20):
        x0, middle = make_sequence(ex, SPECIAL, cfg, np.random.default_rng(seed))
        lengths.add(tuple(hi - lo for lo, hi in runs(middle)))
    assert {a for a, _ in lengths} > {2} and {b for _, b in lengths} > {3}  # padded, by random budgets


def test_a_middle_longer_than_max_middle_is_cut_without_padding() -> None:
    ex = Encoded([arr(10), arr(*range(20, 40)), arr(11)], [False, True, False])
    x0, middle = make_sequence(ex, SPECIAL, DataConfig(max_length=100, max_middle=8), np.random.default_rng(1))
    assert x0.tolist() == [SPECIAL.cls, 10, *range(20, 28), 11, SPECIAL.sep]
    assert runs(middle) == [(2, 10)]


def _long_example() -> Encoded:
    """300 context tokens, a middle of 100 distinct tokens (1000, 1001, ...), 300 context tokens."""
    return Encoded([arr(*[10] * 300), arr(*range(1000, 1100)), arr(*[11] * 300)], [False, True, False])


def test_cropping_keeps_the_window_and_part_of_a_middle() -> None:
    cfg = DataConfig(max_length=128, max_middle=100)
    for seed in range(50):
        x0, middle = make_sequence(_long_example(), SPECIAL, cfg, np.random.default_rng(seed))
        assert len(x0) == len(middle) == 128 and middle.any()
        assert np.array_equal(middle, (x0 >= 1000) | (x0 == SPECIAL.eom))  # the flags stay aligned with the ids


def test_cropping_keeps_a_middle_start() -> None:
    cfg = DataConfig(max_length=128, max_middle=100)
    for seed in range(50):
        x0, _ = make_sequence(_long_example(), SPECIAL, cfg, np.random.default_rng(seed))
        assert 1000 in x0, f"seed {seed}: the window starts inside the middle, after its first token"


def test_middle_budget_never_goes_below_the_middle_nor_above_max_middle() -> None:
    rng = np.random.default_rng(0)
    for n in (0, 1, 5, 40, 127):
        budgets = [middle_budget(n, 128, rng) for _ in range(300)]
        assert min(budgets) >= n and max(budgets) <= 128
    assert all(middle_budget(n, 128, rng) == n for n in (128, 200))  # nothing to pad (make_sequence cuts first)
    assert {middle_budget(5, 20, rng) for _ in range(300)} <= set(range(5, 21))  # budgets over 20 never fit


def test_middle_budget_shares_exact_engine_and_uniform_lengths() -> None:
    rng = np.random.default_rng(0)
    draws = np.asarray([middle_budget(5, 128, rng) for _ in range(5000)])
    exact = np.mean(draws == 5)  # 10% exact, plus a 1-in-124 chance from the uniform share
    assert 0.085 < exact < 0.125
    engine = np.mean(np.isin(draws, LAYOUT_BUDGETS))  # 50%, plus the uniform share's hits
    assert 0.47 < engine < 0.56
    assert len(set(draws.tolist()) - {5, *LAYOUT_BUDGETS}) > 50  # the rest spreads over the range
    near_max = [middle_budget(100, 128, rng) for _ in range(2000)]
    assert 0.45 < np.mean(np.asarray(near_max) == 128) < 0.6  # 128 is the one engine budget that fits


def _x0_and_middle() -> tuple[np.ndarray, np.ndarray]:
    x0 = arr(SPECIAL.cls, 10, 11, 50, 51, SPECIAL.eom, 12, SPECIAL.sep)
    return x0, np.asarray([False, False, False, True, True, True, False, False])


def test_noise_labels_exactly_the_masked_positions() -> None:
    x0, middle = _x0_and_middle()
    cfg = DataConfig(context_noise=0.5, t_min=0.2)
    for seed in range(30):
        x_t, labels, t = noise_sequence(x0, middle, SPECIAL, LinearSchedule(), cfg, np.random.default_rng(seed))
        masked = x_t == SPECIAL.mask
        assert masked.any() and 0.2 <= t < 1
        assert np.array_equal(labels != IGNORE, masked)
        assert np.array_equal(labels[masked], x0[masked]) and np.array_equal(x_t[~masked], x0[~masked])
        assert not masked[0] and not masked[-1]  # CLS and SEP are never noised


def test_noise_masks_at_least_one_middle_token() -> None:
    x0, middle = _x0_and_middle()
    for seed in range(20):
        x_t, labels, _ = noise_sequence(
            x0, middle, SPECIAL, FixedRate(0.0), DataConfig(context_noise=0.0), np.random.default_rng(seed)
        )
        masked = x_t == SPECIAL.mask
        assert masked.sum() == 1 and middle[masked].all()
        assert (labels != IGNORE).sum() == 1


def test_context_is_noised_only_with_context_noise() -> None:
    x0, middle = _x0_and_middle()
    context = ~middle & (x0 != SPECIAL.cls) & (x0 != SPECIAL.sep)
    rng = np.random.default_rng(0)
    x_t, _, _ = noise_sequence(x0, middle, SPECIAL, FixedRate(1.0), DataConfig(context_noise=0.0), rng)
    assert np.array_equal(x_t == SPECIAL.mask, middle)
    x_t, _, _ = noise_sequence(x0, middle, SPECIAL, FixedRate(1.0), DataConfig(context_noise=1.0), rng)
    assert np.array_equal(x_t == SPECIAL.mask, middle | context)
    no_middle = np.zeros_like(middle)  # nothing to fill: the context is noised instead
    x_t, _, _ = noise_sequence(x0, no_middle, SPECIAL, FixedRate(1.0), DataConfig(context_noise=0.0), rng)
    assert np.array_equal(x_t == SPECIAL.mask, (x0 != SPECIAL.cls) & (x0 != SPECIAL.sep))


def test_collate_pads_to_the_longest_sequence() -> None:
    samples = [
        (arr(3, 10, 4), arr(IGNORE, 10, IGNORE), 0.25),
        (arr(3, 1, 1, 11, 4), arr(IGNORE, 7, 8, IGNORE, IGNORE), 0.5),
    ]
    batch = collate(samples, pad_id=0)
    assert batch["input_ids"].tolist() == [[3, 10, 4, 0, 0], [3, 1, 1, 11, 4]]
    assert batch["labels"].tolist() == [[IGNORE, 10, IGNORE, IGNORE, IGNORE], [IGNORE, 7, 8, IGNORE, IGNORE]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert batch["t"].tolist() == [0.25, 0.5]
    assert batch["input_ids"].dtype == batch["labels"].dtype == torch.long


def _examples(count: int = 10) -> list[Encoded]:
    """Each example's context tokens are 100 + its index, so a batch tells which examples it holds."""
    return [
        Encoded([arr(*[100 + k] * 6), arr(*MIDDLE_TOKENS), arr(*[100 + k] * 4)], [False, True, False])
        for k in range(count)
    ]


def _batches(seed: int = 7, rank: int = 0, world: int = 1) -> DiffusionBatches:
    cfg = DataConfig(max_length=64, max_middle=8)
    return DiffusionBatches(_examples(), SPECIAL, LinearSchedule(), cfg, 2, seed, rank, world)


def _which(batch: dict[str, torch.Tensor]) -> list[int]:
    """The example index of each row (from its clean tokens)."""
    x0 = torch.where(batch["labels"] != IGNORE, batch["labels"], batch["input_ids"])
    return [int(row[row >= 100].unique().item()) - 100 for row in x0]


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return all(a[k].shape == b[k].shape and torch.equal(a[k], b[k]) for k in a)


def test_a_steps_batch_is_reproducible() -> None:
    batches = _batches()
    first = batches.batch(3)
    batches.batch(8)  # another epoch in between
    assert _same(batches.batch(3), first)
    assert _same(_batches().batch(3), first)  # a resumed run builds the same batch
    assert not _same(batches.batch(4), first)
    assert not _same(_batches(seed=8).batch(3), first)


def test_each_epoch_visits_every_example_once_in_a_new_order() -> None:
    batches = _batches()
    assert batches.per_epoch == 5
    epochs = [[k for step in range(e * 5, e * 5 + 5) for k in _which(batches.batch(step))] for e in range(2)]
    assert sorted(epochs[0]) == sorted(epochs[1]) == list(range(10))
    assert epochs[0] != epochs[1]


def test_ranks_share_the_order_but_not_the_examples() -> None:
    ranks = [_batches(rank=r, world=2) for r in range(2)]
    assert ranks[0].per_epoch == 2
    seen = [[k for step in range(2) for k in _which(b.batch(step))] for b in ranks]
    assert not set(seen[0]) & set(seen[1]) and len(seen[0]) == len(seen[1]) == 4


def test_step_batches_and_prefetching_give_the_steps_batches() -> None:
    batches = _batches()
    steps = StepBatches(batches, 2, 5)
    assert len(steps) == 3 and _same(steps[1], batches.batch(3))
    assert len(StepBatches(batches, 5, 2)) == 0
    assert all(_same(a, batches.batch(s)) for s, a in zip(range(2, 5), prefetching(batches, 2, 5, workers=0)))


def test_no_examples_is_an_error() -> None:
    with pytest.raises(ValueError, match="no examples"):
        DiffusionBatches([], SPECIAL, LinearSchedule(), DataConfig(), 2, 0)
