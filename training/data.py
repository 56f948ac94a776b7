"""Corpus examples -> noised training sequences for the absorbing-state diffusion objective.

An example is a code chunk with character spans. Each piece of text between spans is tokenized apart (as
the engine does at inference). A span's middle is followed by end-of-middle tokens up to a random length
budget, so the model learns how long a middle is. At a time t ~ U(0, 1) per sequence, every middle position
is masked with probability ``mask_rate(t)``; with probability ``context_noise`` the context is noised too
(plain DiffusionBERT training, more signal per sequence). The loss is taken at masked positions only.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from training.schedules import NoiseSchedule

IGNORE = -100


@dataclass(frozen=True)
class DataConfig:
    """How examples become sequences."""

    max_length: int = 512
    max_middle: int = 128  # longest middle + end-of-middle padding, in tokens
    padding: str = "budget"  # end-of-middle padding: "budget" (says little of the length) or "grows" (see below)
    context_noise: float = 0.3  # share of sequences whose context is noised as well
    t_min: float = 1e-3


@dataclass
class Encoded:
    """One example as token pieces: context and middles alternate; ``is_middle`` tells which."""

    pieces: list[np.ndarray]
    is_middle: list[bool]


def read_shards(corpus: Path, split: str = "train") -> Iterator[dict]:
    """Yield the examples of ``corpus/{split}-*.jsonl.gz`` in shard order."""
    shards = sorted(corpus.glob(f"{split}-*.jsonl.gz"))
    if not shards:
        raise FileNotFoundError(f"no {split}-*.jsonl.gz shards in {corpus}")
    for shard in shards:
        with gzip.open(shard, "rt", encoding="utf-8") as f:
            for line in f:
                yield json.loads(line)


def split_pieces(text: str, spans: list[list[int]]) -> tuple[list[str], list[bool]]:
    """Cut ``text`` into alternating context and middle strings (empty contexts kept)."""
    pieces, flags, cursor = [], [], 0
    for start, end in sorted(spans):
        pieces += [text[cursor:start], text[start:end]]
        flags += [False, True]
        cursor = end
    pieces.append(text[cursor:])
    flags.append(False)
    return pieces, flags


def encode_examples(examples: list[dict], tokenizer, batch: int = 1024) -> list[Encoded]:
    """Tokenize every piece of every example (fast tokenizer, batched)."""
    out: list[Encoded] = []
    for i in range(0, len(examples), batch):
        chunk = [split_pieces(e["text"], e.get("spans", [])) for e in examples[i : i + batch]]
        flat = [p for pieces, _ in chunk for p in pieces]
        ids = tokenizer(flat, add_special_tokens=False)["input_ids"]
        k = 0
        for pieces, flags in chunk:
            arrays = [np.asarray(ids[k + j], dtype=np.int32) for j in range(len(pieces))]
            k += len(pieces)
            out.append(Encoded(arrays, flags))
    return out


@dataclass(frozen=True)
class SpecialIds:
    mask: int
    eom: int
    pad: int
    cls: int
    sep: int


def make_sequence(
    ex: Encoded, special: SpecialIds, cfg: DataConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(x0, middle flags): the clean sequence with end-of-middle padding, cropped to ``max_length``."""
    ids: list[np.ndarray] = [np.asarray([special.cls], dtype=np.int32)]
    flags: list[np.ndarray] = [np.zeros(1, dtype=bool)]
    for piece, is_middle in zip(ex.pieces, ex.is_middle):
        if is_middle:
            piece = piece[: cfg.max_middle]
            extra = PADDINGS[cfg.padding](len(piece), cfg.max_middle, rng) - len(piece)
            piece = np.concatenate([piece, np.full(extra, special.eom, dtype=np.int32)])
        ids.append(piece)
        flags.append(np.full(len(piece), is_middle, dtype=bool))
    ids.append(np.asarray([special.sep], dtype=np.int32))
    flags.append(np.zeros(1, dtype=bool))
    x0, middle = np.concatenate(ids), np.concatenate(flags)
    if len(x0) > cfg.max_length:
        x0, middle = _crop(x0, middle, cfg.max_length, rng)
    return x0, middle


LAYOUT_BUDGETS = (8, 16, 32, 64, 128)  # token budgets the engine gives holes (inline 16, line 32, ...)


def middle_budget(n: int, max_middle: int, rng: np.random.Generator) -> int:
    """The masked run a middle of ``n`` tokens is trained in: ``n`` plus end-of-middle padding.

    At inference a hole of unknown length gets a fixed budget, so the run's length must say little about
    the middle's: 10% exact (rewrites, known lengths), 50% one of the engine's budgets that fits, 40%
    uniform between ``n`` and ``max_middle``. (Padding that grew with ``n`` taught the model to read the
    length off the budget: a fill then grew with its hole's budget; ``benchmarks/README.md``.)
    """
    r = rng.random()
    if r < 0.1 or n >= max_middle:
        return n
    if r < 0.6:
        fits = [b for b in LAYOUT_BUDGETS if n <= b <= max_middle]
        if fits:
            return fits[int(rng.integers(len(fits)))]
    return int(rng.integers(n, max_middle + 1))


def growing_budget(n: int, max_middle: int, rng: np.random.Generator) -> int:
    """The padding the bundled model was trained with: 10% none, else up to twice the middle's length (at
    least 4 tokens), so the run's length says how long the middle is. Adapting that model with it keeps its
    length estimate where it was."""
    room = max_middle - n
    return n if rng.random() < 0.1 else n + int(rng.integers(0, min(room, max(4, 2 * n)) + 1))


PADDINGS = {"budget": middle_budget, "grows": growing_budget}


def _crop(x0: np.ndarray, middle: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A window of ``n`` tokens that contains the start of a random middle."""
    starts = np.flatnonzero(middle & ~np.concatenate([[False], middle[:-1]]))  # first token of each middle
    anchor = int(starts[rng.integers(len(starts))]) if len(starts) else 0
    hi = min(anchor, len(x0) - n)
    lo = int(rng.integers(min(max(0, anchor - n + 32), hi), hi + 1))
    return x0[lo : lo + n], middle[lo : lo + n]


def noise_sequence(
    x0: np.ndarray,
    middle: np.ndarray,
    special: SpecialIds,
    schedule: NoiseSchedule,
    cfg: DataConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, float]:
    """(x_t, labels, t): mask noisable positions with probability mask_rate(t); labels only where masked."""
    t = float(rng.uniform(cfg.t_min, 1.0))
    noisable = middle.copy()
    if rng.random() < cfg.context_noise or not noisable.any():
        noisable |= (x0 != special.cls) & (x0 != special.sep)
    rates = schedule.token_rates(t, torch.from_numpy(x0.astype(np.int64)), torch.from_numpy(noisable)).numpy()
    masked = noisable & (rng.random(len(x0)) < rates)
    if not masked.any():
        candidates = np.flatnonzero(noisable)
        masked[candidates[rng.integers(len(candidates))]] = True
    x_t = np.where(masked, special.mask, x0)
    labels = np.where(masked, x0, IGNORE)
    return x_t, labels, t


def token_counts(examples: list[Encoded], vocab_size: int) -> torch.Tensor:
    """How often each token occurs in the examples (V,), for the spindle schedule."""
    counts = np.zeros(vocab_size, dtype=np.int64)
    for ex in examples:
        for piece in ex.pieces:
            counts += np.bincount(piece, minlength=vocab_size)[:vocab_size]
    return torch.from_numpy(counts)


def collate(samples: list[tuple[np.ndarray, np.ndarray, float]], pad_id: int) -> dict[str, torch.Tensor]:
    """Pad a batch to its longest sequence."""
    width = max(len(x) for x, _, _ in samples)
    ids = torch.full((len(samples), width), pad_id, dtype=torch.long)  # (B, T)
    labels = torch.full((len(samples), width), IGNORE, dtype=torch.long)  # (B, T)
    attention = torch.zeros((len(samples), width), dtype=torch.long)  # (B, T)
    for b, (x, y, _) in enumerate(samples):
        ids[b, : len(x)] = torch.from_numpy(x.astype(np.int64))
        labels[b, : len(y)] = torch.from_numpy(y.astype(np.int64))
        attention[b, : len(x)] = 1
    t = torch.tensor([t for _, _, t in samples], dtype=torch.float32)  # (B,)
    return {"input_ids": ids, "labels": labels, "attention_mask": attention, "t": t}


class DiffusionBatches:
    """Deterministic batches: epoch e shuffles with seed + e; batch i of it is reproducible on resume."""

    def __init__(
        self,
        examples: list[Encoded],
        special: SpecialIds,
        schedule: NoiseSchedule,
        cfg: DataConfig,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        if not examples:
            raise ValueError("the corpus has no examples")
        self.examples, self.special, self.schedule, self.cfg = examples, special, schedule, cfg
        self.batch_size, self.seed, self.rank, self.world = batch_size, seed, rank, world
        self.per_epoch = max(1, len(examples) // (batch_size * world))
        self._order: tuple[int, np.ndarray] | None = None

    def batch(self, step: int) -> dict[str, torch.Tensor]:
        """The batch of global ``step`` (0-based) for this rank."""
        epoch, i = divmod(step, self.per_epoch)
        if self._order is None or self._order[0] != epoch:
            self._order = (epoch, np.random.default_rng(self.seed + epoch).permutation(len(self.examples)))
        order = self._order[1]
        lo = (i * self.world + self.rank) * self.batch_size
        samples = []
        for j, idx in enumerate(order[lo : lo + self.batch_size]):
            rng = np.random.default_rng([self.seed, step, self.rank, j])
            x0, middle = make_sequence(self.examples[idx], self.special, self.cfg, rng)
            samples.append(noise_sequence(x0, middle, self.special, self.schedule, self.cfg, rng))
        return collate(samples, self.special.pad)


class StepBatches(torch.utils.data.Dataset):
    """Steps ``start..stop`` of a ``DiffusionBatches`` as a dataset, so DataLoader workers build them ahead.

    Batch ``i`` is ``batches.batch(start + i)``: the same tensors whether built in-process or in a worker.
    """

    def __init__(self, batches: DiffusionBatches, start: int, stop: int) -> None:
        self.batches, self.start, self.stop = batches, start, max(start, stop)

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.batches.batch(self.start + i)


def prefetching(batches: DiffusionBatches, start: int, stop: int, workers: int, pin: bool = False):
    """An iterator over the batches of steps ``start..stop``, built by ``workers`` processes (0: in-process)."""
    if workers <= 0:
        return (batches.batch(step) for step in range(start, stop))
    loader = torch.utils.data.DataLoader(
        StepBatches(batches, start, stop),
        batch_size=None,
        shuffle=False,
        num_workers=workers,
        prefetch_factor=4,
        pin_memory=pin,
    )
    return iter(loader)
