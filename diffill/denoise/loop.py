"""The absorbing-state denoising loop: a pure function of tensors.

Positions to fill start as the mask token. Each step predicts every still-masked position (``sampling``),
then commits some of them by the commit rule (``commit``) so that all are committed by the last step; the
first step may first fix the holes' lengths (``lengths``), and later steps may re-mask weak commits
(``remask``). The loop knows no text and reads no global state: the caller gives a ``LogitsFn``, token ids,
a seeded ``torch.Generator`` and a frozen ``DenoiseConfig``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from diffill.denoise.commit import commit_mask
from diffill.denoise.config import DenoiseConfig, DenoiseResult, EndsFn, Hooks, LogitsFn, Spans, StepInfo
from diffill.denoise.lengths import commit_ends
from diffill.denoise.remask import remask
from diffill.denoise.sampling import position_order, sample_tokens


def denoise(
    logits_fn: LogitsFn,
    x: torch.Tensor,
    mask_id: int,
    config: DenoiseConfig,
    generator: torch.Generator,
    attention_mask: torch.Tensor | None = None,
    spans: Spans | None = None,
    hooks: Hooks | None = None,
) -> DenoiseResult:
    """Fill every position of ``x`` (B, T) that holds ``mask_id``; other positions never change."""
    spans, hooks = spans or Spans(), hooks or Hooks()
    run = _Run.start(x, mask_id, config, spans, attention_mask)
    step = 0
    for step in range(1, config.steps + 1):
        if hooks.should_stop is not None and hooks.should_stop():
            return run.result(step - 1, stopped=True)
        if not run.masked.any():
            return run.result(step - 1)
        logits = logits_fn(run.x_t, run.attention, run.masked, run.time())  # (M, V)
        if step == 1 and spans.ends is not None and spans.late_id is not None:
            logits = run.fix_lengths(logits, spans.ends, spans.late_id)
            if not run.masked.any():
                return run.result(step)
        run.commit(logits, step, generator)
        if hooks.on_step is not None:
            hooks.on_step(StepInfo(step, config.steps, run.x_t, int(run.masked.sum()), run.confidence))
        if hooks.finished is not None and hooks.finished(run.x_t):
            break
    return run.result(step)


@dataclass
class _Run:
    """The state of one run between steps."""

    x_t: torch.Tensor  # (B, T)
    confidence: torch.Tensor  # (B, T) float, 1.0 where never masked
    committed_at: torch.Tensor  # (B, T) the step that committed each token; -1 not yet, 0 by the length estimate
    fillable: torch.Tensor  # (B, T) bool, the only positions that may ever change
    total: torch.Tensor  # (B,) fillable positions per row
    attention: torch.Tensor  # (B, T)
    groups: torch.Tensor  # (B, T) the span of each position (all 0: a row's masks are one group)
    width: int  # group columns, 0 for positions not masked
    mask_id: int
    late_id: int | None
    config: DenoiseConfig

    @classmethod
    def start(
        cls, x: torch.Tensor, mask_id: int, config: DenoiseConfig, spans: Spans, attention_mask: torch.Tensor | None
    ) -> _Run:
        fillable = x == mask_id
        groups = spans.groups if spans.groups is not None and config.parallel_spans else torch.zeros_like(x)
        return cls(
            x_t=x.clone(),
            confidence=torch.ones(x.shape, dtype=torch.float32, device=x.device),
            committed_at=torch.full(x.shape, -1, dtype=torch.long, device=x.device),
            fillable=fillable,
            total=fillable.sum(dim=-1).clamp_min(1).float(),
            attention=attention_mask if attention_mask is not None else torch.ones_like(x),
            groups=groups,
            width=int(groups[fillable].max()) + 2 if fillable.any() else 1,
            mask_id=mask_id,
            late_id=spans.late_id,
            config=config,
        )

    @property
    def masked(self) -> torch.Tensor:
        return self.x_t == self.mask_id  # (B, T)

    def time(self) -> torch.Tensor:
        """(B,) each row's share of its fillable positions still masked: the diffusion time t."""
        return self.masked.sum(dim=-1).float() / self.total

    def fix_lengths(self, logits: torch.Tensor, ends: EndsFn, late_id: int) -> torch.Tensor:
        """Commit the length estimate's end-of-middle positions; the logits of the positions left."""
        self.x_t, self.confidence, _, logits = commit_ends(
            self.x_t, self.confidence, self.masked, logits, ends, late_id
        )
        self.committed_at = torch.where(self.x_t == late_id, torch.zeros_like(self.committed_at), self.committed_at)
        return logits

    def commit(self, logits: torch.Tensor, step: int, generator: torch.Generator) -> None:
        """Propose a token for every masked position, commit those the rule picks, re-mask if asked."""
        config, masked = self.config, self.masked
        tokens, conf, score = sample_tokens(logits, config, generator, self.mask_id)  # (M,)
        score = position_order(score, masked, config.order)
        late = tokens == self.late_id if self.late_id is not None else torch.zeros_like(tokens, dtype=torch.bool)
        steps_left = config.steps - step + 1
        chosen, count = commit_mask(score, conf, late, masked, self.groups, self.width, steps_left, config.threshold)
        proposal = torch.full_like(self.x_t, self.mask_id)
        proposal[masked] = tokens
        proposal_conf = torch.zeros_like(self.confidence)
        proposal_conf[masked] = conf
        self.x_t = torch.where(chosen, proposal, self.x_t)
        self.confidence = torch.where(chosen, proposal_conf, self.confidence)
        self.committed_at = torch.where(chosen, torch.full_like(self.committed_at, step), self.committed_at)
        if config.remask > 0 and step < config.steps:
            self.x_t, self.confidence, self.committed_at = remask(
                self.x_t, self.confidence, self.committed_at, self.fillable, count, step, self.mask_id, config.remask
            )

    def result(self, steps_run: int, stopped: bool = False) -> DenoiseResult:
        return DenoiseResult(self.x_t, self.confidence, steps_run, stopped)
