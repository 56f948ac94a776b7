"""The denoising loop's inputs and outputs: its settings, what the caller knows of the spans, its hooks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from diffill import defaults
from diffill.choices import UnmaskOrder

# (ids (B, T), attention_mask (B, T), positions (B, T) bool, t (B,)) -> logits at those positions (M, V),
# rows in row-major order of ``positions.nonzero()``. t is each row's share of fillable positions still
# masked (the diffusion time); time-agnostic models ignore it.
LogitsFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
# (probability of the end-of-middle token at every position (B, T), 0 where not masked) -> positions (B, T)
# bool to commit as end-of-middle before the first step commits anything: the caller's length estimate.
EndsFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class DenoiseConfig:
    """Settings of one denoising run.

    ``steps`` is the most steps taken; with ``threshold`` set, a step also commits every position whose
    confidence exceeds it, so the run may finish sooner. ``remask`` re-masks that fraction of each step's
    commit count among the least confident tokens committed in earlier steps (ReMDM-style correction).
    ``temperature`` 0 means greedy. ``parallel_spans``: when the caller names each position's span
    (``Spans.groups``), every span commits its own share each step, so a run takes as many steps as its
    longest span needs rather than as many as all spans together.
    """

    steps: int = defaults.STEPS
    order: UnmaskOrder = UnmaskOrder.CONFIDENCE
    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    threshold: float | None = defaults.THRESHOLD
    remask: float = 0.0
    parallel_spans: bool = defaults.PARALLEL_SPANS

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError("steps must be >= 1")
        if self.temperature < 0:
            raise ValueError("temperature must be >= 0")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        if self.top_k < 0:
            raise ValueError("top_k must be >= 0")
        if self.threshold is not None and not 0 < self.threshold <= 1:
            raise ValueError("threshold must be in (0, 1]")
        if not 0 <= self.remask < 1:
            raise ValueError("remask must be in [0, 1)")


@dataclass(frozen=True)
class Spans:
    """What the caller knows of the spans being filled.

    ``groups`` (B, T) names the span of each fillable position (any value elsewhere); with
    ``DenoiseConfig.parallel_spans`` each span commits its own share of its masks every step. ``late_id``
    (the end-of-middle token) is committed only where nothing else is left to commit: committing a
    confident end-of-middle tail first makes its neighbours end-of-middle too, and a hole collapses to
    nothing (the "end-of-sequence trap" of masked diffusion decoders). ``ends`` sets lengths instead: given
    the first step's probability of ``late_id`` at every masked position (all masked: a length
    distribution), it names the positions to commit as ``late_id`` at once; those are never re-masked.
    """

    groups: torch.Tensor | None = None
    late_id: int | None = None
    ends: EndsFn | None = None


@dataclass
class StepInfo:
    """What ``Hooks.on_step`` receives after each step."""

    step: int  # 1-based
    steps: int
    x_t: torch.Tensor  # (B, T) current ids, still-masked positions hold mask_id
    remaining: int  # masked positions left in the batch
    confidence: torch.Tensor | None = None  # (B, T) of each committed token; 1.0 where never masked


@dataclass(frozen=True)
class Hooks:
    """The caller's say during a run: stop now (``should_stop``, asked before every step: the result is
    ``stopped``), see each step (``on_step``), or end early because it needs no more (``finished(x_t)``,
    asked after each step: positions still masked then hold ``mask_id`` and the result is not ``stopped``)."""

    should_stop: Callable[[], bool] | None = None
    on_step: Callable[[StepInfo], None] | None = None
    finished: Callable[[torch.Tensor], bool] | None = None


@dataclass
class DenoiseResult:
    """Token ids with every fillable position committed, and the confidence of each committed token."""

    ids: torch.Tensor  # (B, T)
    confidence: torch.Tensor  # (B, T) float; 1.0 at positions that were never masked
    steps_run: int
    stopped: bool  # True when should_stop ended the run early (ids then still hold masks)
