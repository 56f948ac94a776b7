"""On a CUDA device (skipped without one): the bundled model fills on the GPU as on the CPU, also compiled."""

from __future__ import annotations

import pytest
import torch

from diffill.holes import find_holes
from diffill.infill import Infiller
from diffill.model import load_model

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device (these tests need a GPU)"),
]
TEXT = "def mean(values):\n    total = ???\n    for v in values:\n        total += v\n    return ???\n"


def test_a_fill_on_the_gpu_matches_the_cpus_text_shape() -> None:
    spans = find_holes(TEXT, "???")
    gpu = Infiller(load_model(device="cuda")).fill(TEXT, spans)
    cpu = Infiller(load_model(device="cpu", dtype="float32")).fill(TEXT, spans)
    assert len(gpu.completions) == len(cpu.completions) == 2
    assert gpu.text.startswith("def mean(values):\n    total = ")
    assert all(0.0 < c <= 1.0 for c in gpu.confidence)


def test_a_compiled_encoder_with_cuda_graphs_fills() -> None:
    lm = load_model(device="cuda", compile_mode="reduce-overhead")
    assert lm.compiled and lm.buckets
    result = Infiller(lm).fill(TEXT, find_holes(TEXT, "???"))
    assert len(result.completions) == 2
