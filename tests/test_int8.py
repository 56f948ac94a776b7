"""``dtype="int8"``: dynamic int8 linear layers on a CPU, close to float32 and usable by every engine path."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from diffill import model as model_module
from diffill.context_cache import ContextCache
from diffill.denoise import DenoiseConfig
from diffill.errors import ModelLoadError
from diffill.holes import find_holes
from diffill.infill import FillOptions, Infiller
from diffill.int8 import parameter_count
from diffill.model import LoadedModel, load_model, resolve_dtype

pytestmark = pytest.mark.skipif(
    "fbgemm" not in torch.backends.quantized.supported_engines, reason="no fbgemm int8 kernels on this CPU"
)
TEXT = "def f(a, b):\n    ???\n    return a\n\n\nvalue = f(1, ???)\nprint(value)\n"


@pytest.fixture(scope="module")
def pair(tiny_model_dir: Path) -> tuple[LoadedModel, LoadedModel]:
    return load_model(tiny_model_dir, "cpu", "float32"), load_model(tiny_model_dir, "cpu", "int8")


def _inputs(lm: LoadedModel) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    ids = torch.randint(10, 500, (1, 80), generator=torch.Generator().manual_seed(0))
    masked = torch.zeros_like(ids, dtype=torch.bool)
    masked[0, 20:30] = True
    ids[masked] = lm.mask_id
    return ids, torch.ones_like(ids), masked


def test_linear_layers_but_the_output_embeddings_are_int8(pair) -> None:
    exact, int8 = pair
    assert int8.quantized and not exact.quantized and int8.dtype == torch.float32
    quantized = [m for m in int8.model.modules() if ".quantized.dynamic." in type(m).__module__]
    plain = [m for m in int8.model.modules() if isinstance(m, torch.nn.Linear)]
    assert quantized and plain == [int8.model.get_output_embeddings()]


def test_the_parameter_count_includes_int8_weights(pair) -> None:
    exact, int8 = pair
    assert (
        parameter_count(int8.model) == parameter_count(exact.model) == sum(p.numel() for p in exact.model.parameters())
    )


def test_int8_logits_follow_float32(pair) -> None:
    exact, int8 = pair
    ids, attention, masked = _inputs(exact)
    a, b = exact.logits_at(ids, attention, masked), int8.logits_at(ids, attention, masked)
    assert a.shape == b.shape
    assert torch.nn.functional.cosine_similarity(a, b, dim=-1).min() > 0.98


def test_the_context_cache_runs_on_int8_layers(pair) -> None:
    _, int8 = pair
    ids, attention, masked = _inputs(int8)
    cache = ContextCache(int8, refresh_every=100)
    first, cached = cache(ids, attention, masked), cache(ids, attention, masked)
    reference = int8.logits_at(ids, attention, masked)
    assert torch.allclose(first, reference, atol=1e-4) and torch.allclose(cached, reference, atol=1e-3)


def test_an_int8_fill_fills_every_hole(pair) -> None:
    _, int8 = pair
    result = Infiller(int8).fill(TEXT, find_holes(TEXT), FillOptions(denoise=DenoiseConfig(steps=4)))
    assert len(result.completions) == 2 and "???" not in result.text


def test_auto_never_picks_int8(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_module, "cpu_has_bf16", lambda: False)
    lm = load_model(tiny_model_dir, "cpu", "auto")
    assert not lm.quantized and lm.dtype == torch.float32


def test_int8_is_a_cpu_option() -> None:
    assert resolve_dtype("int8", torch.device("cpu")) == torch.float32
    with pytest.raises(ModelLoadError, match="CPU"):
        resolve_dtype("int8", torch.device("cuda"))
