"""Static shapes, compilation and warm-up: paths for accelerators (GPU-only ones are marked as such).

- **Length buckets**: a batch is padded (pad id, attention 0, never fillable) to the next bucket width, so a
  GPU sees a handful of shapes, which torch.compile and CUDA graphs need. Padding is exact: padded columns
  are masked out of attention. Default: on for CUDA or a compiled encoder, off otherwise (on a CPU they
  only add work).
- **torch.compile** of the encoder, behind a flag (``CompileMode``); ``reduce-overhead`` records CUDA
  graphs. GPU-only in practice: on this project's CPUs compilation pays nothing (see benchmarks/README.md).
- **Warm-up**: one short fill per bucket width, so the first request does not pay for kernel selection,
  allocator growth or compilation.

The attention itself is transformers' scaled-dot-product attention (``sdpa``, ModernBERT's default).
"""

from __future__ import annotations

import enum
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from lsp_server.infill import Infiller
    from lsp_server.model import LoadedModel

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


def warm_up(infiller: Infiller) -> int:
    """Run a two-step fill at every bucket width (or once, small, without buckets); returns the fills run.

    Uses the engine's own path, with the context cache on, so both of its passes are exercised.
    """
    from lsp_server.context_cache import CacheConfig
    from lsp_server.denoise import DenoiseConfig
    from lsp_server.holes import Span
    from lsp_server.infill import FillOptions

    lm = infiller.lm
    widths = lm.buckets or (64,)
    text = "".join(f"value_{i} = compute({i}, {i + 1})\n" for i in range(max(widths) // 4 + 8))
    middle = text.index("\n", len(text) // 2) + 1
    for width in widths:
        options = FillOptions(
            DenoiseConfig(steps=2), line_length=min(16, width // 4), cache=CacheConfig(refresh_every=2), window=width
        )
        infiller.fill(text, [Span(middle, middle)], options)
    return len(widths)
