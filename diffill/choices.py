"""Choices shared by the CLI, the settings and the engine, importable without torch (fast start-up)."""

from __future__ import annotations

import enum

DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("auto", "float32", "bfloat16", "float16", "int8")  # int8: dynamic int8 linear layers (CPU)
COMPILE_MODES = ("off", "default", "reduce-overhead", "max-autotune")  # torch.compile of the encoder (GPU)


class UnmaskOrder(str, enum.Enum):
    """Which masked positions the denoising loop commits first."""

    CONFIDENCE = "confidence"  # highest probability of the sampled token
    MARGIN = "margin"  # largest gap between the two most likely tokens
    ENTROPY = "entropy"  # lowest predictive entropy
    RANDOM = "random"  # uniformly random order (the plain absorbing-state reverse process)
    LEFT_TO_RIGHT = "left-to-right"  # leftmost masked positions first (semi-autoregressive)
