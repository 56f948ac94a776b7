"""The context cache: encode the whole window on refresh steps, only the spans on the steps between.

A ``LogitsFn`` for ``denoise`` (the loop stays the single loop). On a refresh step the encoder runs on every
token (the same numbers as ``masked_logits``, but the last layer runs only where logits are wanted), and
each layer's keys and values (rotary applied) are kept. On the
steps between, only the *active* positions run through the layers: every position that may change in this
run (the span tokens, committed or not, but an end-of-middle tail the length estimate committed on the
first step) plus its neighbours. Their queries attend to the cached keys/values
of the context and to their own fresh ones. With a bidirectional encoder the context's states depend on the
span, so between refreshes they are stale: an approximation, like Fast-dLLM's dual cache, whose quality cost
the benchmark measures (``diffill bench``). ``refresh_every=1`` re-encodes every step (exact); when the
active positions are more than half the window, every step is a full pass too (nothing to save).

Only ModernBERT is supported (its modules are used as they are; the layer loop below is ours, so a
transformers upgrade that changes the layer is caught by the parity test); other architectures get the
plain full pass on every step.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from diffill import defaults
from diffill.denoise import LogitsFn
from diffill.model import LoadedModel
from diffill.reuse import ReuseSlot
from diffill.time_conditioning import encoder_inputs

log = logging.getLogger(__name__)

MAX_ACTIVE_SHARE = 0.5  # beyond this share of the window in the spans (and neighbours), use full passes
BAND_BLOCK_WINDOWS = 2  # a full pass's sliding-window layers attend in blocks of this many windows of queries


@dataclass(frozen=True)
class CacheConfig:
    """``refresh_every`` 0: no cache (a full pass every step); N: a full pass every N steps, spans only between.

    ``neighbours``: context tokens on each side of a span recomputed with it on every step. ``reuse``: start
    from the states the previous request left in the caller's ``ReuseSlot`` (ghost text while typing).
    """

    refresh_every: int = defaults.CACHE_REFRESH
    neighbours: int = defaults.CACHE_NEIGHBOURS
    reuse: bool = False

    def __post_init__(self) -> None:
        if self.refresh_every < 0:
            raise ValueError("cache refresh must be >= 0 (0: off)")
        if self.neighbours < 0:
            raise ValueError("cache neighbours must be >= 0")

    def logits_fn(self, lm: LoadedModel, slot: ReuseSlot | None = None) -> LogitsFn:
        """The ``LogitsFn`` of one denoising run: a fresh cache, or the model's plain pass. ``slot`` is used
        only with ``reuse``."""
        if self.refresh_every <= 1:
            return lm.logits_at
        return ContextCache(lm, self.refresh_every, self.neighbours, slot if self.reuse else None)


def supports_cache(model: nn.Module | None) -> bool:
    """Whether ``model`` has the ModernBERT layout this module drives."""
    base = getattr(model, "model", None)
    layers = getattr(base, "layers", None)
    return (
        layers is not None
        and len(layers) > 0
        and hasattr(base, "rotary_emb")
        and hasattr(base, "final_norm")
        and all(hasattr(layer, "attn") and hasattr(layer.attn, "Wqkv") for layer in layers)
        and hasattr(model, "head")
        and hasattr(model, "decoder")
    )


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def _rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary embedding in float32, as ModernBERT applies it.  x: (B, heads, N, d); cos, sin: (B, 1, N, d) float."""
    return (x.float() * cos + _rotate_half(x.float()) * sin).to(x.dtype)


def active_positions(
    fillable: torch.Tensor, attention: torch.Tensor, neighbours: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row, the indices (B, A) of the fillable positions and of ``neighbours`` tokens on each side of them,
    ascending, and which of the A slots are real (B, A); a row with fewer repeats its first active position.
    """
    active = fillable.clone()  # (B, T)
    if neighbours > 0:
        kernel = torch.ones(1, 1, 2 * neighbours + 1, device=fillable.device)
        spread = F.conv1d(fillable[:, None].float(), kernel, padding=neighbours)[:, 0]  # (B, T)
        active = (spread > 0) & attention.bool()
    counts = active.sum(dim=-1, keepdim=True)  # (B, 1)
    width = max(int(counts.max()), 1)
    order = torch.argsort((~active).to(torch.int8), dim=-1, stable=True)[:, :width]  # (B, A) active ones first
    valid = torch.arange(width, device=order.device) < counts  # (B, A)
    return torch.where(valid, order, order[:, :1]), valid


@dataclass
class _Band:
    """A block of consecutive queries of a sliding-window layer and the keys within the window of it."""

    q_lo: int
    q_hi: int
    k_lo: int
    k_hi: int
    mask: torch.Tensor  # (B or 1, 1, q_hi - q_lo, k_hi - k_lo) bool


def _bands(attention: torch.Tensor, window: int) -> list[_Band]:
    """Sliding-window attention of every position cut into blocks of ``BAND_BLOCK_WINDOWS * window`` queries,
    each against only the keys in its reach: the same result as one masked pass over the whole width,
    with less work once the width is several windows (measured faster than one masked call per layer, and
    blocks of one window no faster than two: ``benchmarks/README.md``)."""
    width = attention.shape[1]
    block = max(1, BAND_BLOCK_WINDOWS * window)
    position = torch.arange(width, device=attention.device)
    padded = not bool(attention.bool().all())
    bands = []
    for q_lo in range(0, width, block):
        q_hi = min(width, q_lo + block)
        k_lo, k_hi = max(0, q_lo - window), min(width, q_hi + window)
        mask = ((position[q_lo:q_hi, None] - position[None, k_lo:k_hi]).abs() <= window)[None, None]  # (1, 1, q, k)
        if padded:
            mask = mask & attention[:, None, None, k_lo:k_hi].bool()  # (B, 1, q, k)
        bands.append(_Band(q_lo, q_hi, k_lo, k_hi, mask))
    return bands


@dataclass
class _Attend:
    """What one layer type needs on every cached step: key range, mask and rotary tables of the active slots."""

    lo: int
    hi: int
    mask: torch.Tensor | None  # (B, 1, A, hi - lo) bool, None when every key is allowed
    cos: torch.Tensor  # (B, 1, A, d) float32
    sin: torch.Tensor
    bands: list[_Band] | None = None  # a sliding-window layer over every position, block by block


class ContextCache:
    """A stateful ``LogitsFn`` for one denoising run (make a new one per run).

    ``refresh_every`` N: a full pass on steps 1, N+1, 2N+1, ...; ``neighbours``: context tokens on each side of
    a span that are recomputed on every step along with it. With a ``slot`` (``diffill/reuse.py``) a
    run of one sequence (or of copies of one) leaves its first step's states there, and starts from the
    last run's when they align with its ids: step 1 is then a partial pass too.
    """

    def __init__(self, lm: LoadedModel, refresh_every: int, neighbours: int = 0, slot: ReuseSlot | None = None) -> None:
        if refresh_every < 1:
            raise ValueError("refresh_every must be >= 1")
        if neighbours < 0:
            raise ValueError("neighbours must be >= 0")
        self.lm = lm
        self.refresh_every = refresh_every
        self.neighbours = neighbours
        self.enabled = supports_cache(lm.model) and not lm.compiled
        self.calls = 0
        self.full_passes = 0
        self._keys: list[torch.Tensor] = []  # per layer (B, heads, T, d), rotary applied
        self._values: list[torch.Tensor] = []
        self._active: torch.Tensor | None = None  # (B, A) positions recomputed between refreshes
        self._valid: torch.Tensor | None = None  # (B, A) False for a row's repeated padding slots
        self._attend: dict[str, _Attend] = {}
        self.slot = slot
        self.warm = False  # this run started from the slot's states

    @torch.inference_mode()
    def __call__(
        self, ids: torch.Tensor, attention: torch.Tensor, positions: torch.Tensor, t: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits (M, V) at the True entries of ``positions`` (B, T), in row-major order."""
        step = self.calls
        self.calls += 1
        if not self.enabled:
            return self.lm.logits_at(ids, attention, positions, t)
        length = self._text_length(ids, attention) if step == 0 else None
        if length:
            logits = self._start_warm(ids, attention, positions, t, length)
            if logits is not None:
                return logits
        if step % self.refresh_every == 0:
            return self._full(ids, attention, positions, t)
        if self._active is None or (self.warm and step == 1):  # fix the active slots once lengths are set
            self._prepare(self._span_positions(ids), attention)
            if self._active.shape[1] > MAX_ACTIVE_SHARE * ids.shape[1]:
                self.enabled = False  # the spans are most of the window: a partial pass would save nothing
                return self.lm.logits_at(ids, attention, positions, t)
        return self._partial(ids, positions, t)

    def _span_positions(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, T) the positions still to fill after the first step: fillable ones (every one was masked on the
        first call) but those the length estimate committed as end-of-middle. Past a span's last neighbour
        such a tail keeps its first-step (masked) keys and values until the next full pass."""
        if self.lm.eom_id is None:
            return self._first_masked
        return self._first_masked & (ids != self.lm.eom_id)

    def _text_length(self, ids: torch.Tensor, attention: torch.Tensor) -> int | None:
        """With a slot and one sequence (or copies of one) whose padding, if any, comes after its text: the
        text's length."""
        if self.slot is None or not (bool((ids == ids[:1]).all()) and bool((attention == attention[:1]).all())):
            return None
        n = int(attention[0].sum())
        return n if bool(attention[0, :n].bool().all()) else None

    def _start_warm(
        self,
        ids: torch.Tensor,
        attention: torch.Tensor,
        positions: torch.Tensor,
        t: torch.Tensor | None,
        length: int,
    ) -> torch.Tensor | None:
        """Step 1 from the slot's states: a partial pass over the spans and the changed tokens, or None."""
        assert self.slot is not None
        warm = self.slot.warm(ids, self._rotate, length)
        if warm is None:
            return None
        self._keys, self._values = warm.keys, warm.values
        self._first_masked = positions.clone()
        self._prepare(positions | warm.changed, attention)
        if self._active.shape[1] > MAX_ACTIVE_SHARE * ids.shape[1]:  # too much changed: a full pass is cheaper
            self._active, self._attend = None, {}
            return None
        logits = self._partial(ids, positions, t)
        self.slot.keep(ids, self._keys, self._values, warm.reuses + 1, length)
        self.warm = True
        return logits

    def _rotate(self, keys: torch.Tensor, shift: int, layer: int) -> torch.Tensor:
        """Keys (1, heads, N, d) with rotary at their positions, moved ``shift`` positions on (rotations compose)."""
        base = self.lm.model.model
        position_ids = torch.full((1, keys.shape[2]), shift, device=keys.device)
        cos, sin = base.rotary_emb(keys, position_ids, base.layers[layer].attention_type)  # (1, N, d)
        return _rotary(keys, cos[:, None].float(), sin[:, None].float())

    def _full(
        self, ids: torch.Tensor, attention: torch.Tensor, positions: torch.Tensor, t: torch.Tensor | None
    ) -> torch.Tensor:
        """The ordinary pass on every token; keeps each layer's keys and values."""
        self.full_passes += 1
        if self.full_passes == 1:
            self._first_masked = positions.clone()
        logits = self._encode(ids, attention, positions, t)
        length = self._text_length(ids, attention) if self.full_passes == 1 else None
        if length:
            self.slot.keep(ids, self._keys, self._values, 0, length)  # type: ignore[union-attr]
        return logits.float()

    def _encode(
        self, ids: torch.Tensor, attention: torch.Tensor, positions: torch.Tensor, t: torch.Tensor | None
    ) -> torch.Tensor:
        """The encoder on every token, as ModernBERT runs it, keeping each layer's keys and values; the last
        layer runs its queries, output projection and MLP only where logits are wanted (nothing reads the
        other positions' last hidden states). Logits (M, V) at ``positions``, row-major."""
        model = self.lm.model
        base = model.model
        batch, width = ids.shape
        hidden = base.embeddings(**encoder_inputs(model, ids, self.lm.time, t))  # (B, T, H)
        everything = torch.arange(width, device=ids.device)[None].expand(batch, width)  # (B, T)
        wanted, valid = active_positions(positions, attention, 0)  # (B, A)
        kinds = {layer.attention_type for layer in base.layers}
        plans = {kind: self._plan(kind, everything, attention, banded=True) for kind in kinds}
        last = len(base.layers) - 1
        self._keys, self._values = [], []
        for i, layer in enumerate(base.layers):
            plan = plans[layer.attention_type]
            q, k, v = _split(layer, layer.attn.Wqkv(layer.attn_norm(hidden)))  # (B, heads, T, d)
            self._keys.append(_rotary(k, plan.cos, plan.sin).contiguous())
            self._values.append(v.contiguous())
            if i == last:  # only the wanted positions go on
                plan = self._plan(layer.attention_type, wanted, attention)
                q = q.gather(2, wanted[:, None, :, None].expand(-1, q.shape[1], -1, q.shape[-1]))
                hidden = hidden.gather(1, wanted[:, :, None].expand(-1, -1, hidden.shape[-1]))
            hidden = self._attend_and_mlp(layer, hidden, q, plan, self._keys[i], self._values[i])
        hidden = base.final_norm(hidden)
        return model.decoder(model.head(hidden[valid])).float()  # (M, V)

    def _plan(
        self,
        kind: str,
        queries: torch.Tensor,
        attention: torch.Tensor,
        lo: int = 0,
        hi: int | None = None,
        banded: bool = False,
    ) -> _Attend:
        """Key range ``lo:hi``, mask and rotary tables for ``queries`` (B, A) positions in a layer of ``kind``.

        ``banded`` (queries are every position in order): a sliding-window layer attends block by block.
        """
        base = self.lm.model.model
        hi = attention.shape[1] if hi is None else hi
        window = getattr(self.lm.model.config, "sliding_window", None)
        cos, sin = base.rotary_emb(self._probe(), queries, kind)  # (B, A, d)
        cos, sin = cos[:, None].float(), sin[:, None].float()
        if kind == "sliding_attention" and window is not None and banded:
            return _Attend(lo, hi, None, cos, sin, _bands(attention, window))
        keys = torch.arange(lo, hi, device=queries.device)  # (S,)
        mask = None if bool(attention.bool().all()) else attention[:, None, None, lo:hi].bool()  # (B, 1, 1, S)
        if kind == "sliding_attention" and window is not None:
            near = ((queries[:, :, None] - keys).abs() <= window)[:, None]  # (B, 1, A, S)
            mask = near if mask is None else mask & near
        return _Attend(lo, hi, mask, cos, sin)

    def _probe(self) -> torch.Tensor:
        """A tensor of the model's dtype and device (the rotary module takes both from its input)."""
        return self.lm.model.model.embeddings.tok_embeddings.weight

    @staticmethod
    def _attend_and_mlp(
        layer: nn.Module,
        hidden: torch.Tensor,
        q: torch.Tensor,
        plan: _Attend,
        keys: torch.Tensor,
        values: torch.Tensor,
    ) -> torch.Tensor:
        """The rest of one layer after its projections: attention of ``q`` (rotary not yet applied) to the
        keys and values in the plan's range (or its bands), the output projection and the MLP, both residual."""
        q, scale = _rotary(q, plan.cos, plan.sin), layer.attn.head_dim**-0.5
        if plan.bands:
            out = torch.cat(
                [
                    F.scaled_dot_product_attention(
                        q[:, :, b.q_lo : b.q_hi],
                        keys[:, :, b.k_lo : b.k_hi],
                        values[:, :, b.k_lo : b.k_hi],
                        attn_mask=b.mask,
                        scale=scale,
                    )
                    for b in plan.bands
                ],
                dim=2,
            )  # (B, heads, T, d)
        else:
            out = F.scaled_dot_product_attention(
                q,
                keys[:, :, plan.lo : plan.hi],
                values[:, :, plan.lo : plan.hi],
                attn_mask=plan.mask,
                scale=scale,
            )  # (B, heads, A, d)
        hidden = hidden + layer.attn.Wo(out.transpose(1, 2).reshape(hidden.shape))
        return hidden + layer.mlp(layer.mlp_norm(hidden))

    def _prepare(self, fillable: torch.Tensor, attention: torch.Tensor) -> None:
        """Fix the active slots of this run, and per layer type their key range, mask and rotary tables."""
        self._active, self._valid = active_positions(fillable, attention, self.neighbours)
        self._attend = {}
        active = self._active
        width = attention.shape[1]
        window = getattr(self.lm.model.config, "sliding_window", None)
        for layer in self.lm.model.model.layers:
            kind = layer.attention_type
            if kind in self._attend:
                continue
            lo, hi = 0, width
            if kind == "sliding_attention" and window is not None:
                lo, hi = max(0, int(active.min()) - window), min(width, int(active.max()) + window + 1)
            self._attend[kind] = self._plan(kind, active, attention, lo, hi)

    def _partial(self, ids: torch.Tensor, positions: torch.Tensor, t: torch.Tensor | None) -> torch.Tensor:
        """Run only the active positions; they attend to the cached context and to each other."""
        model = self.lm.model
        base = model.model
        active = self._active  # (B, A)
        hidden = base.embeddings(**encoder_inputs(model, ids.gather(1, active), self.lm.time, t))  # (B, A, H)
        for layer, keys, values in zip(base.layers, self._keys, self._values):
            plan = self._attend[layer.attention_type]
            q, k, v = _split(layer, layer.attn.Wqkv(layer.attn_norm(hidden)))  # (B, heads, A, d)
            _store(keys, active, _rotary(k, plan.cos, plan.sin))  # fresh keys/values of the active slots
            _store(values, active, v)
            hidden = self._attend_and_mlp(layer, hidden, q, plan, keys, values)
        hidden = base.final_norm(hidden)
        wanted = positions.gather(1, active) & self._valid  # (B, A): masked now; ascending = row-major order
        return model.decoder(model.head(hidden[wanted])).float()  # (M, V)


def _store(cache: torch.Tensor, active: torch.Tensor, fresh: torch.Tensor) -> None:
    """Write ``fresh`` (B, heads, A, d) into ``cache`` (B, heads, T, d) at each row's ``active`` (B, A) slots.
    One row (ghost text) takes ``index_copy_``, measured faster than ``scatter_`` (``benchmarks/README.md``)."""
    if cache.shape[0] == 1:
        cache.index_copy_(2, active[0], fresh)
    else:
        cache.scatter_(2, active[:, None, :, None].expand_as(fresh), fresh)


def _split(layer: nn.Module, qkv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, N, 3H) -> query, key, value, each (B, heads, N, d)."""
    d = layer.attn.head_dim
    q, k, v = qkv.view(*qkv.shape[:2], 3, -1, d).unbind(dim=2)
    return q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
