"""The one denoising loop (``loop.denoise``) and its parts: settings (``config``), the step's proposal
(``sampling``), the commit rule (``commit``), the length estimate (``lengths``) and re-masking (``remask``),
each a pure function of tensors."""

from diffill.choices import UnmaskOrder
from diffill.denoise.config import DenoiseConfig, DenoiseResult, EndsFn, Hooks, LogitsFn, Spans, StepInfo
from diffill.denoise.loop import denoise
from diffill.denoise.sampling import filter_logits

__all__ = [
    "DenoiseConfig",
    "DenoiseResult",
    "EndsFn",
    "Hooks",
    "LogitsFn",
    "Spans",
    "StepInfo",
    "UnmaskOrder",
    "denoise",
    "filter_logits",
]
