"""The loop's parts as pure functions: the commit rule, the length estimate, re-masking, the proposal order."""

from __future__ import annotations

import torch

from diffill.choices import UnmaskOrder
from diffill.denoise.commit import LATE_PENALTY, commit_counts, commit_mask, top_in_groups
from diffill.denoise.lengths import commit_ends, end_positions
from diffill.denoise.remask import remask
from diffill.denoise.sampling import position_order

MASK = 0


def test_commit_counts_finish_every_span_by_the_last_step() -> None:
    remaining = torch.tensor([[0, 7, 1, 3]])
    assert commit_counts(remaining, 4).tolist() == [[0, 2, 1, 1]]
    assert commit_counts(remaining, 1).tolist() == remaining.tolist()


def test_top_in_groups_takes_each_groups_best() -> None:
    score = torch.tensor([[0.1, 0.9, 0.5, 0.7, float("-inf")]])
    index = torch.tensor([[1, 1, 2, 2, 2]])
    chosen = top_in_groups(score, index, torch.tensor([[0, 1, 5]]))
    assert chosen.tolist() == [[False, True, True, True, False]]  # -inf never, however many are asked for


def test_commit_mask_shares_each_span_and_leaves_end_of_middle_last() -> None:
    masked = torch.tensor([[True, True, True, True, False, True, True]])
    groups = torch.tensor([[0, 0, 0, 0, 0, 1, 1]])
    score = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.2, 0.1])  # one per masked position
    late = torch.tensor([True, False, False, False, False, False])
    chosen, count = commit_mask(score, score, late, masked, groups, width=3, steps_left=2, threshold=None)
    # span 0 commits 2 of 4 (its late token last), span 1 commits 1 of 2
    assert chosen.tolist() == [[False, True, True, False, False, True, False]]
    assert count.tolist() == [3]
    assert LATE_PENALTY > 1


def test_threshold_commits_every_confident_position_and_a_tail_of_end_of_middle_only_alone() -> None:
    masked = torch.tensor([[True, True, True], [True, True, False]])
    groups = torch.zeros_like(masked, dtype=torch.long)
    conf = torch.tensor([0.99, 0.98, 0.2, 0.99, 0.99])
    late = torch.tensor([False, True, False, True, True])
    chosen, _ = commit_mask(conf, conf, late, masked, groups, width=2, steps_left=3, threshold=0.9)
    assert chosen[0].tolist() == [True, False, False]  # the late token waits while another is left
    assert chosen[1].tolist() == [True, True, False]  # a row of late tokens only goes at once


def test_end_positions_cut_each_hole_at_the_first_likely_end_after_its_first_token() -> None:
    p = torch.tensor([[0.9, 0.1, 0.5, 0.2, 0.0, 0.6]])
    ends = end_positions(p, [(0, 0, 4), (0, 4, 6)], level=0.4)
    assert ends.tolist() == [[False, False, True, True, False, True]]
    assert not end_positions(p, [(0, 0, 2)], level=0.95).any()


def test_commit_ends_fixes_the_tail_and_drops_its_rows() -> None:
    late = 5
    x = torch.tensor([[7, MASK, MASK, MASK]])
    logits = torch.zeros(3, 8)
    logits[:, late] = torch.tensor([0.0, 9.0, 9.0])
    out, conf, masked, rest = commit_ends(x, torch.ones(1, 4), x == MASK, logits, lambda p: p > 0.5, late)
    assert out.tolist() == [[7, MASK, late, late]]
    assert masked.tolist() == [[False, True, False, False]]
    assert rest.shape == (1, 8) and conf[0, 2] > 0.5


def test_remask_sends_back_the_least_confident_earlier_commits_only() -> None:
    x = torch.tensor([[3, 4, 5, 6, 9]])
    conf = torch.tensor([[0.9, 0.2, 0.3, 0.1, 1.0]])
    committed_at = torch.tensor([[1, 1, 2, 3, -1]])  # the last one was given, the 4th is this step's
    fillable = torch.tensor([[True, True, True, True, False]])
    out, new_conf, at = remask(x, conf, committed_at, fillable, torch.tensor([4]), step=3, mask_id=MASK, fraction=0.5)
    assert out.tolist() == [[3, MASK, MASK, 6, 9]]
    assert at.tolist() == [[1, -1, -1, 3, -1]] and new_conf[0, 1] == 1.0


def test_left_to_right_puts_the_leftmost_first() -> None:
    masked = torch.tensor([[False, True, True, True]])
    score = position_order(torch.zeros(3), masked, UnmaskOrder.LEFT_TO_RIGHT)
    assert score.argmax() == 0
    same = torch.tensor([0.1, 0.5, 0.2])
    assert torch.equal(position_order(same, masked, UnmaskOrder.CONFIDENCE), same)
