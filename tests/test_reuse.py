"""Reusing the context cache across requests (``lsp_server/reuse.py``) on a tiny random ModernBERT."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from conftest import save_tiny_model

from diffill.context_cache import CacheConfig, ContextCache
from diffill.denoise import DenoiseConfig
from diffill.holes import Span
from diffill.infill import FillOptions, FillRequest, Infiller
from diffill.model import LoadedModel, load_model
from diffill.reuse import ReuseSlot, aligned_runs, common_ends

TEXT = "def f(a, b):\n    total = a + b\n    return total\n\n\nvalue = f(1, 2)\nprint(value)\n"
CURSOR = TEXT.index("    return")


@pytest.fixture(scope="module")
def lm(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer_dir: Path) -> LoadedModel:
    from training.modeling import ModelConfig

    config = ModelConfig(
        hidden=32, layers=3, heads=2, intermediate=64, max_length=256, local_attention=16, global_every=3
    )
    return load_model(
        save_tiny_model(tiny_tokenizer_dir, tmp_path_factory.mktemp("reuse"), config=config),
        device="cpu",
        dtype="float32",
    )


def _sequence(lm: LoadedModel, width: int = 80, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    ids = torch.randint(10, 500, (1, width), generator=torch.Generator().manual_seed(seed))  # (1, T)
    masked = torch.zeros_like(ids, dtype=torch.bool)
    masked[0, 40:48] = True
    ids[masked] = lm.mask_id
    return ids, torch.ones_like(ids), masked


def _options(reuse: bool = True) -> FillOptions:
    return FillOptions(
        DenoiseConfig(steps=4), line_length=6, inline_length=6, single_line=True, cache=CacheConfig(16, 2, reuse=reuse)
    )


@pytest.mark.parametrize(
    ("old", "new", "ends"),
    [
        ([1, 2, 3, 4], [1, 2, 3, 4], (4, 0)),
        ([1, 2, 3, 4], [1, 2, 9, 3, 4], (2, 2)),  # an insertion
        ([1, 2, 9, 3, 4], [1, 2, 3, 4], (2, 2)),  # a deletion
        ([1, 2, 3], [7, 8, 9], (0, 0)),
        ([1, 1, 1], [1, 1], (2, 0)),  # prefix and suffix never overlap
    ],
)
def test_common_ends(old: list[int], new: list[int], ends: tuple[int, int]) -> None:
    assert common_ends(torch.tensor(old), torch.tensor(new)) == ends


def test_aligned_runs_find_a_block_that_moved() -> None:
    old = torch.arange(100, 160)  # 60 distinct ids
    new = torch.cat([old[:20], torch.tensor([7, 7]), old[20:30], old[36:]])  # 2 typed, a 6-token line gone
    runs = aligned_runs(old, new, min_run=8)
    assert runs == [(0, 0, 20), (20, 22, 10), (36, 32, 24)]
    assert all(torch.equal(old[a : a + n], new[b : b + n]) for a, b, n in runs)
    assert aligned_runs(old, torch.arange(300, 360)) == []  # unrelated windows: nothing lines up
    shifted = torch.cat([torch.tensor([old[0]]), old[12:], torch.arange(300, 311)])  # the window moved on
    assert aligned_runs(old, shifted) == [(0, 0, 1), (12, 1, 48)]


def test_a_warm_start_after_the_windows_cut_moved_recomputes_only_the_seams(lm: LoadedModel) -> None:
    ids, attention, masked = _sequence(lm)
    slot = ReuseSlot()
    ContextCache(lm, refresh_every=16, neighbours=2, slot=slot)(ids, attention, masked)
    moved = torch.cat([ids[:, :60], ids[:, 66:]], dim=1)  # six tokens after the span are gone
    rotate = ContextCache(lm, 16)._rotate
    warm = slot.warm(moved, rotate)
    assert warm is not None
    assert warm.changed[0].nonzero().flatten().tolist() == [59, 60]  # the seam, a token each side
    torch.testing.assert_close(warm.keys[0][:, :, 60:], rotate(slot.snapshot.keys[0][:, :, 66:], -6, 0))
    torch.testing.assert_close(warm.values[1][:, :, :60], slot.snapshot.values[1][:, :, :60])


def test_a_warm_start_on_the_same_ids_matches_the_full_pass(lm: LoadedModel) -> None:
    ids, attention, masked = _sequence(lm)
    slot = ReuseSlot()
    cold = ContextCache(lm, refresh_every=16, neighbours=2, slot=slot)
    expected = cold(ids, attention, masked)
    assert cold.full_passes == 1 and slot.snapshot is not None
    warm = ContextCache(lm, refresh_every=16, neighbours=2, slot=slot)
    got = warm(ids, attention, masked)
    assert warm.warm and warm.full_passes == 0 and slot.hits == 1
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_padding_after_the_text_is_left_out_of_the_alignment(lm: LoadedModel) -> None:
    ids, attention, masked = _sequence(lm)
    slot = ReuseSlot()
    ContextCache(lm, refresh_every=16, neighbours=2, slot=slot)(ids, attention, masked)
    padded = torch.cat([ids, torch.full((1, 16), lm.pad_id)], dim=1)  # a wider length bucket
    pad_attention = torch.cat([attention, torch.zeros(1, 16, dtype=attention.dtype)], dim=1)
    pad_masked = torch.cat([masked, torch.zeros(1, 16, dtype=torch.bool)], dim=1)
    expected = lm.logits_at(padded, pad_attention, pad_masked)
    warm = ContextCache(lm, refresh_every=16, neighbours=2, slot=slot)
    got = warm(padded, pad_attention, pad_masked)
    assert warm.warm and warm.full_passes == 0
    assert len(slot.snapshot.ids) == ids.shape[1]  # the text only
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    edited = torch.cat([padded[:, :10], torch.tensor([[7, 8]]), padded[:, 10:-2]], dim=1)  # 2 tokens typed
    again = ContextCache(lm, refresh_every=16, neighbours=2, slot=slot)
    logits = again(
        edited,
        torch.cat([attention, torch.ones(1, 2), torch.zeros(1, 14)], dim=1).long(),
        torch.cat([torch.zeros(1, 2, dtype=torch.bool), pad_masked[:, :-2]], dim=1),
    )
    assert again.warm and logits.shape == expected.shape and len(slot.snapshot.ids) == ids.shape[1] + 2


def test_kept_keys_move_with_their_tokens(lm: LoadedModel) -> None:
    """Layer 0 sees only token embeddings, so its keys after a shift are exactly the kept keys rotated."""
    ids, attention, masked = _sequence(lm)
    cache = ContextCache(lm, refresh_every=16, slot=ReuseSlot())
    cache(ids, attention, masked)
    shift = 5
    longer = torch.cat([torch.full((1, shift), 11), ids], dim=1)
    moved = ContextCache(lm, refresh_every=16, slot=ReuseSlot())
    moved(longer, torch.ones_like(longer), torch.cat([torch.zeros(1, shift, dtype=torch.bool), masked], dim=1))
    torch.testing.assert_close(
        cache._rotate(cache._keys[0], shift, 0), moved._keys[0][:, :, shift:], atol=1e-5, rtol=1e-5
    )


def test_a_request_after_a_keystroke_starts_warm(lm: LoadedModel, made_caches: list) -> None:
    made = made_caches
    infiller = Infiller(lm)
    before = TEXT[: CURSOR - 1] + TEXT[CURSOR:]  # one character was still to be typed
    infiller.fill(before, [Span(CURSOR - 1, CURSOR - 1)], _options())
    result = infiller.fill(TEXT, [Span(CURSOR, CURSOR)], _options())
    assert [c.warm for c in made] == [False, True]
    assert made[1].full_passes == 0 and infiller.reuse.hits == 1
    assert result.text.startswith(TEXT[:CURSOR]) and result.text.endswith(TEXT[CURSOR:])


def test_without_reuse_the_slot_is_left_alone(lm: LoadedModel) -> None:
    infiller = Infiller(lm)
    infiller.fill(TEXT, [Span(CURSOR, CURSOR)], _options(reuse=False))
    assert infiller.reuse.snapshot is None
    other = TEXT.replace("value", "result")
    requests = [FillRequest(TEXT, [Span(CURSOR, CURSOR)]), FillRequest(other, [Span(CURSOR, CURSOR)])]
    infiller.fill_batch(requests, _options())  # two different rows: no reuse
    assert infiller.reuse.snapshot is None and infiller.reuse.hits == 0


def test_samples_of_a_fill_start_from_the_greedy_fills_states(lm: LoadedModel) -> None:
    infiller = Infiller(lm)
    infiller.fill(TEXT, [Span(CURSOR, CURSOR)], _options())
    assert infiller.reuse.misses == 1
    sampled = replace(_options(), denoise=DenoiseConfig(steps=4, temperature=1.0))
    results = infiller.candidates(TEXT, [Span(CURSOR, CURSOR)], 3, sampled, seed=5)
    assert infiller.reuse.hits == 1 and len(results) == 3
    assert all(r.text.startswith(TEXT[:CURSOR]) and r.text.endswith(TEXT[CURSOR:]) for r in results)


def test_large_edits_and_long_chains_get_a_full_pass(lm: LoadedModel) -> None:
    ids, attention, masked = _sequence(lm)
    slot = ReuseSlot(max_reuses=2, max_changed=4)
    runs = []
    for seed in range(4):  # cold, warm, warm, then the chain is at its limit: cold again
        cache = ContextCache(lm, refresh_every=16, slot=slot)
        edited = ids.clone()
        edited[0, 10 + seed] = 7  # a one-token edit each time
        cache(edited, attention, masked)
        runs.append(cache.warm)
    assert runs == [False, True, True, False]
    far = ids.clone()
    far[0, 2:20] = 9  # 18 tokens changed
    cache = ContextCache(lm, refresh_every=16, slot=slot)
    cache(far, attention, masked)
    assert not cache.warm and cache.full_passes == 1


def test_reuse_limits_are_checked() -> None:
    with pytest.raises(ValueError):
        ReuseSlot(max_reuses=-1)
