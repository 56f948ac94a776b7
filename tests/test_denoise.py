"""Invariants of the denoising loop, on a deterministic mock model."""

from __future__ import annotations

import pytest
import torch

from diffill.denoise import DenoiseConfig, Hooks, Spans, UnmaskOrder, denoise, filter_logits

V, MASK = 50, 1


class MockModel:
    """Prefers token (position * 7 + 3) % V, more confidently at later positions; counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(
        self, ids: torch.Tensor, attention: torch.Tensor, positions: torch.Tensor, t: torch.Tensor
    ) -> torch.Tensor:
        assert ((t >= 0) & (t <= 1)).all() and (t[positions.any(dim=-1)] > 0).all()  # 0: a finished row
        self.calls += 1
        _, t = positions.nonzero(as_tuple=True)
        logits = torch.zeros(len(t), V)
        logits[torch.arange(len(t)), (t * 7 + 3) % V] = 2.0 + t.float() / 4
        return logits


def make_input() -> torch.Tensor:
    x = torch.arange(10, 10 + 24).reshape(2, 12) % V  # (B, T)
    x[0, 3:9] = MASK
    x[1, 1:4] = MASK
    x[1, 8:11] = MASK
    return x


@pytest.mark.parametrize("order", list(UnmaskOrder))
@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_fills_every_mask_and_keeps_the_rest(order: UnmaskOrder, temperature: float) -> None:
    x = make_input()
    cfg = DenoiseConfig(steps=4, order=order, temperature=temperature, top_k=5)
    out = denoise(MockModel(), x, MASK, cfg, torch.Generator().manual_seed(0))
    kept = x != MASK
    assert torch.equal(out.ids[kept], x[kept])
    assert not (out.ids == MASK).any()
    assert not out.stopped
    assert (out.confidence[~kept] > 0).all() and (out.confidence[kept] == 1).all()


def test_greedy_picks_the_models_argmax() -> None:
    x = make_input()
    out = denoise(MockModel(), x, MASK, DenoiseConfig(steps=3), torch.Generator().manual_seed(0))
    b, t = (x == MASK).nonzero(as_tuple=True)
    assert torch.equal(out.ids[b, t], (t * 7 + 3) % V)


def test_same_seed_same_output_other_seed_differs() -> None:
    cfg = DenoiseConfig(steps=4, order=UnmaskOrder.RANDOM, temperature=2.0)
    x = make_input()
    runs = [denoise(MockModel(), x, MASK, cfg, torch.Generator().manual_seed(s)).ids for s in (7, 7, 8)]
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


def test_commits_spread_over_steps() -> None:
    model = MockModel()
    denoise(model, make_input(), MASK, DenoiseConfig(steps=6), torch.Generator())
    assert model.calls == 6


def test_should_stop_is_honoured() -> None:
    model, calls = MockModel(), []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 2

    out = denoise(model, make_input(), MASK, DenoiseConfig(steps=6), torch.Generator(), hooks=Hooks(should_stop=stop))
    assert out.stopped and out.steps_run == 2 and model.calls == 2
    assert (out.ids == MASK).any()


def test_on_step_reports_progress() -> None:
    seen = []
    denoise(
        MockModel(), make_input(), MASK, DenoiseConfig(steps=3), torch.Generator(), hooks=Hooks(on_step=seen.append)
    )
    assert [s.step for s in seen] == [1, 2, 3]
    assert seen[-1].remaining == 0 and seen[0].remaining > seen[1].remaining


def test_threshold_finishes_early_with_the_same_result() -> None:
    model = MockModel()
    x = make_input()
    cfg = DenoiseConfig(steps=12, threshold=0.01)
    out = denoise(model, x, MASK, cfg, torch.Generator())
    assert model.calls == 1 and not (out.ids == MASK).any()
    plain = denoise(MockModel(), x, MASK, DenoiseConfig(steps=12), torch.Generator())
    assert torch.equal(out.ids, plain.ids)


def test_remask_keeps_given_tokens_and_finishes() -> None:
    x = make_input()
    cfg = DenoiseConfig(steps=5, remask=0.5, temperature=1.0)
    out = denoise(MockModel(), x, MASK, cfg, torch.Generator().manual_seed(1))
    kept = x != MASK
    assert torch.equal(out.ids[kept], x[kept]) and not (out.ids == MASK).any()


def test_top_p_keeps_the_nucleus() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    kept = torch.isfinite(filter_logits(logits, top_k=0, top_p=0.7))
    assert kept.tolist() == [[True, True, False, False]]
    kept = torch.isfinite(filter_logits(logits, top_k=1, top_p=1.0))
    assert kept.tolist() == [[True, False, False, False]]


@pytest.mark.parametrize("kwargs", [{"steps": 0}, {"temperature": -1}, {"top_p": 0}, {"remask": 1.0}])
def test_invalid_config_is_rejected(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        DenoiseConfig(**kwargs)


def test_late_token_is_committed_after_everything_else() -> None:
    late = 7

    def model(ids: torch.Tensor, attention: torch.Tensor, positions: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        _, pos = positions.nonzero(as_tuple=True)
        logits = torch.zeros(len(pos), V)
        logits[:, late] = torch.where(pos >= 3, 9.0, 0.0)  # a confident end-of-middle tail
        logits[:, 20] = 3.0  # less confident content everywhere
        return logits

    x = torch.full((1, 6), MASK)
    seen: list[torch.Tensor] = []
    out = denoise(
        model,
        x,
        MASK,
        DenoiseConfig(steps=6),
        torch.Generator(),
        spans=Spans(late_id=late),
        hooks=Hooks(on_step=lambda s: seen.append(s.x_t)),
    )
    assert out.ids[0].tolist() == [20, 20, 20, late, late, late]
    assert seen[2][0, :3].tolist() == [20, 20, 20] and (seen[2][0, 3:] == MASK).all()  # content first
    plain = []
    denoise(
        model, x, MASK, DenoiseConfig(steps=6), torch.Generator(), hooks=Hooks(on_step=lambda s: plain.append(s.x_t))
    )
    assert (plain[0][0] == late).sum() == 1  # without it the confident tail goes first


def test_ends_commit_the_estimated_tail_first_and_keep_it() -> None:
    late = 7

    def model(ids: torch.Tensor, attention: torch.Tensor, positions: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        _, pos = positions.nonzero(as_tuple=True)
        logits = torch.zeros(len(pos), V)
        logits[:, 20] = 6.0  # content is the argmax everywhere
        logits[:, late] = torch.where(pos >= 3, 5.5, 0.0)  # but the end is likely from position 3 on
        return logits

    x = torch.full((1, 6), MASK)
    seen: list[torch.Tensor] = []
    out = denoise(
        model,
        x,
        MASK,
        DenoiseConfig(steps=3, remask=0.5),
        torch.Generator(),
        spans=Spans(late_id=late, ends=lambda p: p > 0.3),
        hooks=Hooks(on_step=lambda s: seen.append(s.x_t)),
    )
    assert (seen[0][0, 3:] == late).all()  # committed before anything else, in the first step
    assert out.ids[0].tolist() == [20, 20, 20, late, late, late]  # and never re-masked
    plain = denoise(model, x, MASK, DenoiseConfig(steps=3), torch.Generator(), spans=Spans(late_id=late))
    assert plain.ids[0].tolist() == [20] * 6  # without an estimate the content fills the budget


def _spans_of(x: torch.Tensor) -> torch.Tensor:
    """Row 1 of ``make_input`` has two holes: label them 0 and 1 (row 0's single hole is 0)."""
    groups = torch.zeros_like(x)
    groups[1, 8:11] = 1
    return groups


def test_parallel_spans_take_the_steps_of_the_longest_span() -> None:
    x = make_input()  # row 0: one 6-token hole; row 1: two 3-token holes
    seen: list = []
    parallel = denoise(
        MockModel(),
        x,
        MASK,
        DenoiseConfig(steps=16),
        torch.Generator(),
        spans=Spans(groups=_spans_of(x)),
        hooks=Hooks(on_step=seen.append),
    )
    assert parallel.steps_run == 6  # the 6-token hole, one token a step; row 1 is done after 3
    row1 = [int((s.x_t[1] == MASK).sum()) for s in seen[:3]]
    assert row1 == [4, 2, 0]  # one token of each hole per step
    for s in seen[:3]:  # never two tokens of one hole while the other waits
        assert int((s.x_t[1, 1:4] == MASK).sum()) == int((s.x_t[1, 8:11] == MASK).sum())
    joint = denoise(
        MockModel(),
        x,
        MASK,
        DenoiseConfig(steps=16, parallel_spans=False),
        torch.Generator(),
        spans=Spans(groups=_spans_of(x)),
    )
    assert joint.steps_run == 6
    one_group = denoise(MockModel(), x, MASK, DenoiseConfig(steps=16), torch.Generator())
    assert torch.equal(joint.ids, one_group.ids) and torch.equal(parallel.ids, joint.ids)  # greedy, same argmax


def test_parallel_spans_share_a_small_step_budget_per_span() -> None:
    x = make_input()
    seen: list = []
    denoise(
        MockModel(),
        x,
        MASK,
        DenoiseConfig(steps=2),
        torch.Generator(),
        spans=Spans(groups=_spans_of(x)),
        hooks=Hooks(on_step=seen.append),
    )
    first = seen[0].x_t
    assert int((first[1, 1:4] == MASK).sum()) == 1 and int((first[1, 8:11] == MASK).sum()) == 1  # ceil(3/2) each
    assert int((first[0, 3:9] == MASK).sum()) == 3
    assert not (seen[-1].x_t == MASK).any()


def test_parallel_spans_commit_the_most_confident_of_each_span() -> None:
    x = make_input()  # the mock is more confident at later positions
    seen: list = []
    denoise(
        MockModel(),
        x,
        MASK,
        DenoiseConfig(steps=3),
        torch.Generator(),
        spans=Spans(groups=_spans_of(x)),
        hooks=Hooks(on_step=seen.append),
    )
    first = seen[0].x_t[1]
    assert first[3] != MASK and first[10] != MASK  # the last position of each hole
    assert (first[[1, 2, 8, 9]] == MASK).all()
