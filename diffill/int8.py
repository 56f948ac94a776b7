"""Dynamic int8 quantization for CPUs: the encoder's linear layers run as int8 matrix products (fbgemm).

``dtype="int8"`` loads the checkpoint in float32 and swaps every ``nn.Linear`` except the output
embeddings (the head's vocabulary projection, kept exact) for PyTorch's dynamically quantized linear layer:
int8 weights with a scale per output row, activations quantized per call. It is for CPUs without fast
bf16 (most laptops), where a ghost-text fill is much faster than with float32 weights. Single fills score
as float32 and bf16 do, but fills while typing, which start from the previous request's states, score
lower, so ``auto`` never picks it: users who want the speed ask for it. Where the CPU has bf16 the two are
close in speed. One scale per tensor scored lower even on single fills. It is CPU-only, and uses
``torch.ao.quantization``, which PyTorch has deprecated in favour of torchao; torchao's eager int8 layers
were slower than bf16, so this stays while PyTorch has it (``available`` says so). The measurements are in
``benchmarks/README.md``.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from diffill.errors import ModelLoadError


def _quantization():  # torch.ao.quantization, or None where this PyTorch no longer has it
    quantize = getattr(getattr(torch, "ao", None), "quantization", None)
    return quantize if quantize is not None and hasattr(quantize, "quantize_dynamic") else None


def available() -> bool:
    """Whether this PyTorch can run dynamic int8 linear layers on this CPU (fbgemm: x86)."""
    return _quantization() is not None and "fbgemm" in torch.backends.quantized.supported_engines


def quantize_linear_layers(model: nn.Module) -> int:
    """Quantize ``model``'s linear layers in place, but its output embeddings; returns how many."""
    quantize = _quantization()
    if quantize is None or not available():
        raise ModelLoadError(
            "int8 needs torch.ao.quantization with fbgemm kernels (x86 CPUs); this PyTorch "
            "has not got them: use bfloat16 or float32"
        )
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    names = {name for name, m in model.named_modules() if isinstance(m, nn.Linear) and m is not head}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*deprecated.*", category=UserWarning)
        spec = dict.fromkeys(names, quantize.per_channel_dynamic_qconfig)  # a scale per output row
        quantize.quantize_dynamic(model, qconfig_spec=spec, dtype=torch.qint8, inplace=True)
    return len(names)


def parameter_count(model: nn.Module) -> int:
    """The model's parameters, with the weights and biases that int8 layers hold outside ``parameters()``."""
    count = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    for m in model.modules():
        if ".quantized." in type(m).__module__ and callable(getattr(m, "weight", None)):
            bias = m.bias()
            count += m.weight().numel() + (bias.numel() if bias is not None else 0)
    return count
