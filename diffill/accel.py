"""Static shapes and compilation: paths for accelerators (GPU-only ones are marked as such).

- **Length buckets**: a batch is padded (pad id, attention 0, never fillable) to the next bucket width, so a
  GPU sees a handful of shapes, which torch.compile and CUDA graphs need. Padding is exact: padded columns
  are masked out of attention. Default: on for CUDA or a compiled encoder, off otherwise (on a CPU they
  only add work).
- **torch.compile** of the encoder, behind a flag (``CompileMode``); ``reduce-overhead`` records CUDA
  graphs. GPU-only in practice: on this project's CPUs compilation pays nothing (see benchmarks/README.md).

The attention itself is transformers' scaled-dot-product attention (``sdpa``, ModernBERT's default).
"""

from __future__ import annotations

import enum
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from diffill.model import LoadedModel

log = logging.getLogger(__name__)

BUCKETS = (64, 128, 256, 512, 1024, 2048, 4096, 8192)
RECOMPILE_LIMIT = 64  # compiled shapes kept per encoder


class CompileMode(str, enum.Enum):
    """How the encoder is compiled (GPU-only in practice); the values are ``choices.COMPILE_MODES``."""

    OFF = "off"
    DEFAULT = "default"
    REDUCE_OVERHEAD = "reduce-overhead"  # CUDA graphs
    MAX_AUTOTUNE = "max-autotune"


def buckets_for(max_length: int, device: torch.device, enabled: bool | None = None) -> tuple[int, ...]:
    """Bucket widths up to the model's window; ``enabled`` None: on for CUDA only."""
    if enabled is None:
        enabled = device.type == "cuda"
    if not enabled:
        return ()
    return (*(b for b in BUCKETS if b < max_length), max_length)


def bucket_width(width: int, buckets: tuple[int, ...]) -> int:
    """The smallest bucket that holds ``width`` tokens (``width`` itself without buckets or beyond them)."""
    for size in buckets:
        if width <= size:
            return size
    return width


def compile_encoder(lm: LoadedModel, mode: CompileMode) -> None:
    """Compile the encoder's forward in place (GPU-only path; static shapes come from the buckets).

    The context cache drives the layers itself, so with compilation on it falls back to full passes.
    """
    if mode is CompileMode.OFF:
        return
    import torch
    import torch._dynamo.config

    # One graph per (batch, width) shape: widths come from the buckets, batches from the request (1, the
    # candidates, the syntax check's samples, windows side by side). Past torch's default limit of 8 the
    # encoder would silently run eager again.
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, RECOMPILE_LIMIT)
    base = getattr(lm.model, "model", lm.model)
    base.forward = torch.compile(base.forward, mode=mode.value, dynamic=False)
    lm.compiled = True
    log.info("encoder compiled (mode %s)", mode.value)
