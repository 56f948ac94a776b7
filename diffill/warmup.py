"""Warm-up: one short fill per bucket width, so the first request pays no kernel selection, allocator growth
or compilation."""

from __future__ import annotations

from diffill.context_cache import CacheConfig
from diffill.denoise import DenoiseConfig
from diffill.holes import Span
from diffill.infill import FillOptions, Infiller


def warm_up(infiller: Infiller) -> int:
    """Run a two-step fill at every bucket width (or once, small, without buckets); returns the fills run.

    Uses the engine's own path, with the context cache on, so both of its passes are exercised.
    """
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
