"""Length buckets, warm-up and compile settings (the GPU-only paths, checked on a CPU where they can be)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from diffill.accel import CompileMode, bucket_width, buckets_for
from diffill.choices import COMPILE_MODES
from diffill.denoise import DenoiseConfig
from diffill.errors import ModelLoadError
from diffill.holes import find_holes
from diffill.infill import FillOptions, Infiller
from diffill.model import load_model
from diffill.warmup import warm_up

TEXT = "import os\n\n\ndef main():\n    ???\n    return 0\n\n\nvalue = ???\n"


def test_bucket_width_rounds_up_to_the_next_bucket() -> None:
    assert bucket_width(1, (64, 128)) == 64
    assert bucket_width(64, (64, 128)) == 64
    assert bucket_width(65, (64, 128)) == 128
    assert bucket_width(300, (64, 128)) == 300  # beyond the buckets
    assert bucket_width(70, ()) == 70  # off


def test_buckets_are_on_for_cuda_only_unless_asked() -> None:
    assert buckets_for(512, torch.device("cpu")) == ()
    assert buckets_for(512, torch.device("cuda")) == (64, 128, 256, 512)
    assert buckets_for(300, torch.device("cpu"), enabled=True) == (64, 128, 256, 300)
    assert buckets_for(512, torch.device("cuda"), enabled=False) == ()


def test_compile_modes_match_the_cli_choices() -> None:
    assert tuple(m.value for m in CompileMode) == COMPILE_MODES


def test_padding_to_a_bucket_does_not_change_the_fill(tiny_model_dir: Path) -> None:
    lm = load_model(tiny_model_dir, device="cpu", dtype="float32")
    options = FillOptions(DenoiseConfig(steps=4), line_length=6, inline_length=6)
    plain = Infiller(lm).fill(TEXT, find_holes(TEXT), options, seed=2)
    lm.buckets = (64, 128, 256)
    widths: list[int] = []
    padded = Infiller(lm).fill(TEXT, find_holes(TEXT), options, seed=2, on_step=lambda s: widths.append(s.x_t.shape[1]))
    assert set(widths) == {64}
    assert padded.text == plain.text


def test_warm_up_runs_each_bucket_once(tiny_model_dir: Path) -> None:
    lm = load_model(tiny_model_dir, device="cpu", buckets=True)
    assert lm.buckets == (64, 128, 256)
    assert warm_up(Infiller(lm)) == 3
    lm.buckets = ()
    assert warm_up(Infiller(lm)) == 1


def test_an_unknown_compile_mode_is_a_load_error(tiny_model_dir: Path) -> None:
    with pytest.raises(ModelLoadError, match="compile mode"):
        load_model(tiny_model_dir, device="cpu", compile_mode="fastest")


def test_a_compiled_encoder_gets_length_buckets_on_any_device(tiny_model_dir: Path) -> None:
    lm = load_model(tiny_model_dir, device="cpu", dtype="float32", compile_mode="default")  # compiles at first call
    assert lm.compiled and lm.buckets  # static shapes, or every new width would compile again
    assert load_model(tiny_model_dir, device="cpu", dtype="float32").buckets == ()
