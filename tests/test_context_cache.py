"""The context cache on a tiny random ModernBERT: exact right after a refresh, an approximation between."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import save_tiny_model

from diffill.context_cache import CacheConfig, ContextCache, active_positions, supports_cache
from diffill.denoise import DenoiseConfig
from diffill.holes import find_holes
from diffill.infill import FillOptions, Infiller
from diffill.model import LoadedModel, load_model

TEXT = "def f(a, b):\n    ???\n    return a\n\n\nvalue = f(1, ???)\nprint(value)\n"


@pytest.fixture(scope="module")
def layered_model_dir(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer_dir: Path) -> Path:
    """Three layers (global, sliding, sliding) with a 16-token local window, so both attention kinds run."""
    from training.modeling import ModelConfig

    config = ModelConfig(
        hidden=32, layers=3, heads=2, intermediate=64, max_length=256, local_attention=16, global_every=3
    )
    return save_tiny_model(tiny_tokenizer_dir, tmp_path_factory.mktemp("layered"), config=config)


@pytest.fixture(scope="module")
def lm(layered_model_dir: Path) -> LoadedModel:
    return load_model(layered_model_dir, device="cpu", dtype="float32")


def _batch(lm: LoadedModel) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two rows of different lengths (the second padded), with masks in two runs and one single mask."""
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(10, 500, (2, 120), generator=g)  # (B, T)
    attention = torch.ones_like(ids)
    attention[1, 100:] = 0
    ids[1, 100:] = lm.pad_id
    masked = torch.zeros_like(ids, dtype=torch.bool)
    masked[0, 30:40] = True
    masked[0, 90:94] = True
    masked[1, 5] = True
    ids[masked] = lm.mask_id
    return ids, attention, masked


def test_the_model_layout_is_supported(lm: LoadedModel) -> None:
    assert supports_cache(lm.model)
    assert not supports_cache(None)


@pytest.mark.parametrize(("neighbours", "rows"), [(0, 2), (4, 2), (4, 1)])
def test_a_cached_step_right_after_a_refresh_matches_the_full_pass(lm: LoadedModel, neighbours: int, rows: int) -> None:
    ids, attention, masked = (part[:rows] for part in _batch(lm))  # one row: the single-sequence write path
    cache = ContextCache(lm, refresh_every=100, neighbours=neighbours)
    first = cache(ids, attention, masked)  # full pass
    cached = cache(ids, attention, masked)  # only the active positions, against the cached keys/values
    reference = lm.logits_at(ids, attention, masked)
    assert cache.full_passes == 1
    assert torch.allclose(first, reference)
    assert torch.allclose(cached, reference, atol=1e-4)


def test_later_steps_ask_only_for_what_is_still_masked(lm: LoadedModel) -> None:
    ids, attention, masked = _batch(lm)
    cache = ContextCache(lm, refresh_every=100)
    cache(ids, attention, masked)
    ids = ids.clone()
    ids[0, 30:35] = 42  # some positions committed
    still = ids == lm.mask_id
    assert cache(ids, attention, still).shape == (int(still.sum()), lm.model.config.vocab_size)


def test_an_estimated_end_of_middle_tail_leaves_the_active_positions(lm: LoadedModel) -> None:
    ids, attention, masked = _batch(lm)
    cache = ContextCache(lm, refresh_every=100, neighbours=2)
    cache(ids, attention, masked)  # step 1: every span masked
    ids = ids.clone()
    ids[0, 33:40] = lm.eom_id  # the length estimate ended the first span after 3 tokens
    still = ids == lm.mask_id
    logits = cache(ids, attention, still)
    active = set(cache._active[0][cache._valid[0]].tolist())
    assert set(range(28, 35)) <= active  # the 3 tokens left, 2 neighbours on each side
    assert not active & set(range(35, 40))  # the rest of the tail is not recomputed
    assert logits.shape == (int(still.sum()), lm.model.config.vocab_size)


def test_active_positions_cover_spans_and_neighbours_only_inside_the_text() -> None:
    fillable = torch.zeros(2, 12, dtype=torch.bool)
    fillable[0, 4:6] = True
    fillable[1, 0] = True
    attention = torch.ones(2, 12, dtype=torch.long)
    attention[1, 3:] = 0
    active, valid = active_positions(fillable, attention, neighbours=1)
    assert active[0][valid[0]].tolist() == [3, 4, 5, 6]
    assert active[1][valid[1]].tolist() == [0, 1]
    assert set(active[1][~valid[1]].tolist()) <= {0}  # padding slots repeat a real one


def test_refreshing_every_step_is_the_plain_engine(lm: LoadedModel) -> None:
    infiller = Infiller(lm)
    plain = infiller.fill(TEXT, find_holes(TEXT), FillOptions(DenoiseConfig(steps=6), cache=CacheConfig(0)))
    every = infiller.fill(TEXT, find_holes(TEXT), FillOptions(DenoiseConfig(steps=6), cache=CacheConfig(1)))
    assert every.text == plain.text


def test_a_cached_fill_fills_every_hole_and_refreshes_on_schedule(lm: LoadedModel, made_caches: list) -> None:
    made = made_caches
    options = FillOptions(DenoiseConfig(steps=8), line_length=8, inline_length=8, cache=CacheConfig(3, 2))
    result = Infiller(lm).fill(TEXT, find_holes(TEXT), options, seed=1)
    assert "???" not in result.text and len(result.completions) == 2
    (cache,) = made
    assert cache.calls == 8 and cache.full_passes == 3  # steps 1, 4, 7


def test_models_without_the_layout_fall_back_to_full_passes(lm: LoadedModel) -> None:
    calls = []

    class Other(LoadedModel):
        def logits_at(self, ids, attention, positions, t=None):
            calls.append(1)
            return torch.zeros(int(positions.sum()), 8)

    other = Other(
        model=None,
        tokenizer=lm.tokenizer,
        path=lm.path,
        device=lm.device,
        dtype=lm.dtype,
        mask_id=lm.mask_id,
        pad_id=lm.pad_id,
        eom_id=lm.eom_id,
        cls_id=lm.cls_id,
        sep_id=lm.sep_id,
        max_length=lm.max_length,
    )
    ids, attention, masked = _batch(lm)
    cache = ContextCache(other, refresh_every=4)
    for _ in range(3):
        cache(ids, attention, masked)
    assert len(calls) == 3 and not cache.enabled


def test_cache_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        CacheConfig(refresh_every=-1)
    with pytest.raises(ValueError):
        CacheConfig(refresh_every=2, neighbours=-1)


def test_spans_filling_most_of_the_window_get_full_passes(lm: LoadedModel) -> None:
    ids, attention, _ = _batch(lm)
    masked = torch.zeros_like(ids, dtype=torch.bool)
    masked[:, 10:90] = True  # two thirds of the window
    ids = ids.masked_fill(masked, lm.mask_id)
    cache = ContextCache(lm, refresh_every=100)
    cache(ids, attention, masked)
    again = cache(ids, attention, masked)
    assert not cache.enabled and cache.full_passes == 1
    assert torch.allclose(again, lm.logits_at(ids, attention, masked))
