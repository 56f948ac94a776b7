"""The absorbing-state denoising loop: a pure function of tensors.

Positions to fill start as the mask token. Each step predicts every still-masked position, then commits
some of them (the most certain first, by the chosen unmasking order) so that all are committed by the last
step. The loop knows no text and reads no global state; the caller gives a ``LogitsFn``, token ids, a
seeded ``torch.Generator`` and a frozen ``DenoiseConfig``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lsp_server import defaults
from lsp_server.choices import UnmaskOrder

# (ids (B, T), attention_mask (B, T), positions (B, T) bool, t (B,)) -> logits at those positions (M, V),
# rows in row-major order of ``positions.nonzero()``. t is each row's share of fillable positions still
# masked (the diffusion time); time-agnostic models ignore it.
LogitsFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
# (probability of ``late_id`` at every position (B, T), 0 where not masked) -> positions (B, T) bool to
# commit as ``late_id`` before the first step commits anything: the caller's length estimate.
EndsFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class DenoiseConfig:
    """Settings of one denoising run.

    ``steps`` is the most steps taken; with ``threshold`` set, a step also commits every position whose
    confidence exceeds it, so the run may finish sooner. ``remask`` re-masks that fraction of each step's
    commit count among the least confident tokens committed in earlier steps (ReMDM-style correction).
    ``temperature`` 0 means greedy. ``parallel_spans``: when the caller names each position's span
    (``groups``), every span commits its own share each step, so a run takes as many steps as its longest
    span needs rather than as many as all spans together.
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


@dataclass
class StepInfo:
    """What ``on_step`` receives after each step."""

    step: int  # 1-based
    steps: int
    x_t: torch.Tensor  # (B, T) current ids, still-masked positions hold mask_id
    remaining: int  # masked positions left in the batch


@dataclass
class DenoiseResult:
    """Token ids with every fillable position committed, and the confidence of each committed token."""

    ids: torch.Tensor  # (B, T)
    confidence: torch.Tensor  # (B, T) float; 1.0 at positions that were never masked
    steps_run: int
    stopped: bool  # True when should_stop ended the run early (ids then still hold masks)


LATE_PENALTY = 1e4  # lowers a late token's order score below every other position's


def filter_logits(logits: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """Set logits outside the top-k / nucleus to -inf.  logits: (M, V)."""
    if top_k > 0 and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (M, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)  # (M, V)
        cum = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
        drop = cum - torch.softmax(sorted_logits, dim=-1) > top_p  # keep the token that crosses top_p
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
    return logits


def sample_tokens(
    logits: torch.Tensor, config: DenoiseConfig, generator: torch.Generator, mask_id: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Draw one token per row, never the mask itself.

    Returns (tokens (M,), confidence (M,), order score (M,), higher commits first).
    """
    never = torch.tensor([mask_id], device=logits.device)
    logits = logits.float().index_fill(-1, never, float("-inf"))
    if config.temperature > 0:
        scaled = filter_logits(logits / config.temperature, config.top_k, config.top_p)
        probs = torch.softmax(scaled, dim=-1)  # (M, V)
        tokens = torch.multinomial(probs, 1, generator=generator).squeeze(-1)  # (M,)
    else:
        probs = torch.softmax(logits, dim=-1)
        tokens = probs.argmax(dim=-1)
    confidence = probs.gather(-1, tokens[:, None]).squeeze(-1)  # (M,)
    score = order_score(probs, confidence, config.order, generator)
    return tokens, confidence, score


def order_score(
    probs: torch.Tensor, confidence: torch.Tensor, order: UnmaskOrder, generator: torch.Generator
) -> torch.Tensor:
    """Score each row so that higher means commit earlier.  probs: (M, V)."""
    if order is UnmaskOrder.CONFIDENCE:
        return confidence
    if order is UnmaskOrder.MARGIN:
        top2 = torch.topk(probs, 2, dim=-1).values  # (M, 2)
        return top2[:, 0] - top2[:, 1]
    if order is UnmaskOrder.ENTROPY:
        return (probs * torch.log(probs.clamp_min(1e-12))).sum(dim=-1)  # -H
    if order is UnmaskOrder.LEFT_TO_RIGHT:
        return torch.zeros_like(confidence)  # the position term added by the loop decides
    return torch.rand(confidence.shape, generator=generator, device=confidence.device)


def _group_index(masked: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """(B, T): 1 + the group of each masked position, 0 at the others."""
    return torch.where(masked, groups + 1, torch.zeros_like(groups))


def _per_group(index: torch.Tensor, selected: torch.Tensor, width: int) -> torch.Tensor:
    """(B, width): how many ``selected`` positions each group holds (column 0, the unmasked, stays 0)."""
    counts = torch.zeros(index.shape[0], width, dtype=torch.long, device=index.device)
    counts.scatter_add_(1, index, selected.long())
    counts[:, 0] = 0
    return counts


def _commit_counts(remaining: torch.Tensor, steps_left: int) -> torch.Tensor:
    """How many of ``remaining`` masked positions (any shape) to commit now so all are done in ``steps_left``."""
    return torch.div(remaining + steps_left - 1, steps_left, rounding_mode="floor")  # ceil


def _top_in_groups(score: torch.Tensor, index: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Boolean (B, T) selecting, in each group g >= 1 of ``index`` (B, T), its ``counts[b, g]`` highest scores
    (-inf never selected)."""
    ranked = torch.argsort(score, dim=-1, descending=True)  # (B, T)
    group = index.gather(1, ranked)  # (B, T) the group of each ranked position
    seen = F.one_hot(group, counts.shape[1]).cumsum(dim=1)  # (B, T, G) running count per group
    within = seen.gather(2, group[..., None]).squeeze(-1) - 1  # (B, T) rank inside its group
    take = (within < counts.gather(1, group)) & (group > 0)  # (B, T) in ranked order
    chosen = torch.zeros_like(take).scatter(1, ranked, take)
    return chosen & torch.isfinite(score)


def denoise(
    logits_fn: LogitsFn,
    x: torch.Tensor,
    mask_id: int,
    config: DenoiseConfig,
    generator: torch.Generator,
    attention_mask: torch.Tensor | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_step: Callable[[StepInfo], None] | None = None,
    late_id: int | None = None,
    finished: Callable[[torch.Tensor], bool] | None = None,
    ends: EndsFn | None = None,
    groups: torch.Tensor | None = None,
) -> DenoiseResult:
    """Fill every position of ``x`` (B, T) that holds ``mask_id``; other positions never change.

    ``finished(x_t)`` (B, T), asked after each step, may end the run early when the caller needs no more
    (positions still masked then hold ``mask_id``; the result is not ``stopped``).

    ``late_id`` (the end-of-middle token) is committed only where nothing else is left to commit: committing
    the confident end-of-middle tail first makes its neighbours end-of-middle too, and a hole collapses to
    nothing (the "end-of-sequence trap" of masked diffusion decoders).

    ``ends`` sets lengths instead: given the first step's probability of ``late_id`` at every masked
    position (all masked: a length distribution), it names the positions to commit as ``late_id`` at once;
    the steps then fill only the rest. Those positions are never re-masked.

    ``groups`` (B, T) names the span of each fillable position (any value elsewhere); with
    ``config.parallel_spans`` each span commits its own share of its masks every step. Without it, a row's
    masks are one group.
    """
    x_t = x.clone()  # (B, T)
    if attention_mask is None:
        attention_mask = torch.ones_like(x_t)
    confidence = torch.ones(x_t.shape, dtype=torch.float32, device=x_t.device)  # (B, T)
    fillable = x_t == mask_id  # (B, T) only these may ever change
    total = fillable.sum(dim=-1).clamp_min(1).float()  # (B,)
    committed_at = torch.full(x_t.shape, -1, dtype=torch.long, device=x_t.device)
    if groups is None or not config.parallel_spans:
        groups = torch.zeros_like(x_t)
    width = int(groups[fillable].max()) + 2 if fillable.any() else 1  # group columns, 0: not masked
    step = 0
    for step in range(1, config.steps + 1):
        if should_stop is not None and should_stop():
            return DenoiseResult(x_t, confidence, step - 1, stopped=True)
        masked = x_t == mask_id  # (B, T)
        if not masked.any():
            return DenoiseResult(x_t, confidence, step - 1, stopped=False)
        t = masked.sum(dim=-1).float() / total  # (B,)
        logits = logits_fn(x_t, attention_mask, masked, t)  # (M, V)
        if step == 1 and ends is not None and late_id is not None:
            x_t, confidence, masked, logits = _commit_ends(x_t, confidence, masked, logits, ends, late_id)
            committed_at = torch.where(x_t == late_id, torch.zeros_like(committed_at), committed_at)
            if not masked.any():
                return DenoiseResult(x_t, confidence, step, stopped=False)
        tokens, conf, score = sample_tokens(logits, config, generator, mask_id)  # (M,)
        if config.order is UnmaskOrder.LEFT_TO_RIGHT:
            score = score - masked.nonzero()[:, 1].float()  # leftmost first
        late = tokens == late_id if late_id is not None else torch.zeros_like(tokens, dtype=torch.bool)
        score = torch.where(late, score - LATE_PENALTY, score)
        full_score = torch.full(x_t.shape, float("-inf"), device=x_t.device)
        full_score[masked] = score
        index = _group_index(masked, groups)  # (B, T)
        count = _commit_counts(_per_group(index, masked, width), config.steps - step + 1)  # (B, G)
        if config.threshold is not None:
            rows = masked.nonzero()[:, 0]  # (M,) the row of each masked position
            only_late = torch.zeros(x_t.shape[0], dtype=torch.long, device=x_t.device).index_add_(
                0, rows, (~late).long()
            ) == 0  # (B,) every position a row has left proposes late_id: those may all go at once
            full_conf = torch.zeros(x_t.shape, device=x_t.device)
            full_conf[masked] = torch.where(late & ~only_late[rows], torch.zeros_like(conf), conf)
            above = _per_group(index, (full_conf > config.threshold) & masked, width)  # (B, G)
            count = torch.maximum(count, above)
        chosen = _top_in_groups(full_score, index, count)  # (B, T)
        proposal = torch.full_like(x_t, mask_id)
        proposal[masked] = tokens
        proposal_conf = torch.zeros_like(confidence)
        proposal_conf[masked] = conf
        x_t = torch.where(chosen, proposal, x_t)
        confidence = torch.where(chosen, proposal_conf, confidence)
        committed_at = torch.where(chosen, torch.full_like(committed_at, step), committed_at)
        if config.remask > 0 and step < config.steps:
            x_t, confidence, committed_at = _remask(
                x_t, confidence, committed_at, fillable, count.sum(dim=-1), step, mask_id, config.remask
            )
        if on_step is not None:
            on_step(StepInfo(step, config.steps, x_t, int((x_t == mask_id).sum())))
        if finished is not None and finished(x_t):
            break
    return DenoiseResult(x_t, confidence, step, stopped=False)


def _commit_ends(
    x_t: torch.Tensor, confidence: torch.Tensor, masked: torch.Tensor, logits: torch.Tensor, ends: EndsFn,
    late_id: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Commit ``late_id`` where ``ends`` says; drop those positions' rows from ``logits``."""
    p_late = torch.zeros(x_t.shape, device=x_t.device)  # (B, T)
    p_late[masked] = torch.softmax(logits.float(), dim=-1)[:, late_id]
    chosen = ends(p_late) & masked  # (B, T)
    if not chosen.any():
        return x_t, confidence, masked, logits
    x_t = torch.where(chosen, torch.full_like(x_t, late_id), x_t)
    confidence = torch.where(chosen, p_late, confidence)
    keep = ~chosen[masked]  # (M,)
    return x_t, confidence, masked & ~chosen, logits[keep]


def _remask(
    x_t: torch.Tensor,
    confidence: torch.Tensor,
    committed_at: torch.Tensor,
    fillable: torch.Tensor,
    count: torch.Tensor,
    step: int,
    mask_id: int,
    fraction: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Re-mask the least confident tokens committed before ``step`` (never the caller's kept tokens)."""
    n = torch.floor(count.float() * fraction).long()  # (B,)
    eligible = fillable & (committed_at > 0) & (committed_at < step) & (x_t != mask_id)
    score = torch.where(eligible, -confidence, torch.full_like(confidence, float("-inf")))
    again = _top_in_groups(score, eligible.long(), torch.stack([torch.zeros_like(n), n], dim=1))  # (B, T)
    x_t = torch.where(again, torch.full_like(x_t, mask_id), x_t)
    confidence = torch.where(again, torch.ones_like(confidence), confidence)
    committed_at = torch.where(again, torch.full_like(committed_at, -1), committed_at)
    return x_t, confidence, committed_at
