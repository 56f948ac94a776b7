"""The training loop: absorbing-state diffusion on masked spans, single process or under torchrun (DDP).

AdamW with linear warm-up and cosine decay, gradient clipping, bf16 autocast, loss at masked positions only.
Every ``checkpoint_every`` steps (and at the end) a complete checkpoint replaces the last one atomically;
``resume`` continues from it with the same data order. Logs go to a CSV (and TensorBoard when installed);
the loss curve is drawn as a PNG. A run starts by cutting the CSV back to its checkpoint's step, so rows
logged after the last checkpoint of a killed run are not logged twice.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from transformers import AutoTokenizer

from diffill import tokens
from diffill.model import cpu_has_bf16, describe_device
from diffill.progress import progress_bar
from diffill.time_conditioning import CONFIG_FLAG, TimeEmbedding, hidden_size, load_time_embedding
from training.checkpoint import TrainerState, find_checkpoint, load_state, restore_optimizer, save_checkpoint
from training.data import (
    DataConfig,
    DiffusionBatches,
    SpecialIds,
    encode_examples,
    prefetching,
    read_shards,
    token_counts,
)
from training.model_card import render_card
from training.modeling import ModelConfig, SparseMLM, count_parameters, load_init, masked_loss, new_model
from training.plots import maybe_plot, plot_loss_curve
from training.schedules import SpindleSchedule, get_schedule

log = logging.getLogger(__name__)

LOSS_WEIGHTINGS = ("mean", "elbo")


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs; written into the checkpoint's trainer state."""

    corpus: Path
    tokenizer: Path
    out: Path
    init: Path | None = None
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    schedule: str = "linear"
    time_conditioning: bool = False  # add a learned embedding of t to the token embeddings
    loss_weighting: str = "mean"  # "mean": masked-token mean CE; "elbo": MDLM/DiffusionBERT weight per t
    batch_size: int = 16
    steps: int = 1000
    max_minutes: float | None = None  # also stop (and finish the LR decay) after this much training time
    lr: float = 1e-3
    warmup: int = 100
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    bf16: bool | None = None  # bf16 autocast; None: on CUDA, and on CPUs that run bf16 natively
    seed: int = 0
    checkpoint_every: int = 200
    log_every: int = 10
    resume: bool = False
    max_examples: int | None = None
    data_workers: int | None = None  # processes building batches ahead (None: 8 on a GPU, none on a CPU)

    def __post_init__(self) -> None:
        for name in ("batch_size", "steps", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.loss_weighting not in LOSS_WEIGHTINGS:
            raise ValueError(f"loss weighting must be one of {', '.join(LOSS_WEIGHTINGS)}")
        get_schedule(self.schedule)


def lr_at(cfg: TrainConfig, step: int, progress: float) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to 10% over the run's progress (0..1)."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def _distributed() -> tuple[int, int]:
    """(rank, world size); starts the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def _device(rank: int) -> torch.device:
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", rank))
        torch.cuda.set_device(local)
        return torch.device("cuda", local)
    return torch.device("cpu")


class Trainer:
    """One training run."""

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        self.rank, self.world = _distributed()
        self.device = _device(self.rank)
        self.bf16 = cfg.bf16 if cfg.bf16 is not None else self.device.type == "cuda" or cpu_has_bf16()
        self.tokenizer = AutoTokenizer.from_pretrained(cfg.tokenizer)
        self.special = special_ids(self.tokenizer)
        self.schedule = get_schedule(cfg.schedule)
        torch.manual_seed(cfg.seed)
        self.model = load_init(cfg.init) if cfg.init else new_model(cfg.model, self.tokenizer)
        if self.model.get_input_embeddings().num_embeddings < len(self.tokenizer):
            raise ValueError("the initial model's vocabulary is smaller than the tokenizer's")
        self.model.to(self.device)
        self.time: TimeEmbedding | None = None
        if cfg.time_conditioning:
            self.time = TimeEmbedding(hidden_size(self.model)).to(self.device)
            setattr(self.model.config, CONFIG_FLAG, True)
        self.net: torch.nn.Module = SparseMLM(self.model, self.time)
        if self.world > 1:
            self.net = torch.nn.parallel.DistributedDataParallel(self.net)
        self.optimizer = torch.optim.AdamW(
            self.net.parameters(), lr=cfg.lr, betas=(0.9, 0.98), weight_decay=cfg.weight_decay
        )
        self.state = TrainerState()
        self.ckpt = cfg.out / "checkpoint"
        if cfg.resume:
            self._resume()
        examples = list(read_shards(cfg.corpus, "train"))[: cfg.max_examples]
        encoded = encode_examples(examples, self.tokenizer)
        if isinstance(self.schedule, SpindleSchedule):
            self.schedule.fit(token_counts(encoded, len(self.tokenizer)))
        self.batches = DiffusionBatches(
            encoded, self.special, self.schedule, cfg.data, cfg.batch_size, cfg.seed, self.rank, self.world
        )
        self.started = time.time()

    def _resume(self) -> None:
        found = find_checkpoint(self.ckpt)
        if found is None:
            log.warning("no checkpoint in %s to resume from; starting fresh", self.ckpt)
            return
        from safetensors.torch import load_file

        weights = {}
        for shard in sorted(found.glob("model*.safetensors")):
            weights.update(load_file(str(shard)))
        missing, unexpected = self.model.load_state_dict(weights, strict=False)
        if unexpected or [m for m in missing if "decoder.weight" not in m]:
            raise ValueError(f"checkpoint {found} does not match the model ({missing[:3]}, {unexpected[:3]})")
        self.model.tie_weights()
        if self.time is not None:
            self.time.load_state_dict(load_time_embedding(found, hidden_size(self.model)).state_dict())
        self.state, tensors, scalars = load_state(found)
        if tensors is not None and scalars is not None:
            restore_optimizer(self.optimizer, tensors, scalars)
        log.info("resumed from %s at step %d", found, self.state.step)

    def progress(self) -> float:
        p = self.state.step / self.cfg.steps
        if self.cfg.max_minutes:
            p = max(p, self.state.train_seconds / (60 * self.cfg.max_minutes))
        return p

    def data_workers(self) -> int:
        """Batch-building processes: the configured number, else 8 beside a GPU (the CPU is free) and 0 on a CPU."""
        if self.cfg.data_workers is not None:
            return self.cfg.data_workers
        return min(8, max(1, (os.cpu_count() or 2) // 2)) if self.device.type == "cuda" else 0

    def step(self, batch: dict[str, torch.Tensor]) -> float:
        """One optimisation step on ``batch`` (the batch of ``state.step``); returns the loss."""
        cfg = self.cfg
        batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
        weights = self.schedule.elbo_weight(batch["t"]) if cfg.loss_weighting == "elbo" else None
        for group in self.optimizer.param_groups:
            group["lr"] = lr_at(cfg, self.state.step, self.progress())
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            loss, n = masked_loss(self.net, batch, weights)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), cfg.grad_clip)
        self.optimizer.step()
        self.state.step += 1
        counts = torch.tensor([n, int(batch["attention_mask"].sum())], dtype=torch.long, device=self.device)
        if self.world > 1:
            dist.all_reduce(counts)
        self.state.tokens_seen += int(counts[0])
        self.state.tokens_processed += int(counts[1])
        return float(loss.detach())

    def run(self) -> TrainerState:
        """Train until ``steps`` or ``max_minutes``; checkpoint and plot along the way."""
        cfg = self.cfg
        cfg.out.mkdir(parents=True, exist_ok=True)
        log_path = cfg.out / "train_log.csv"
        writer = None
        if self.rank == 0:
            truncate_log(log_path, self.state.step)
            writer = _tensorboard(cfg.out, self.state.step)
        bar = progress_bar(total=cfg.steps, desc="train", unit="step", enabled=self.rank == 0)
        bar.update(self.state.step)
        window: list[float] = []
        workers = self.data_workers()
        if workers:
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # the workers never tokenize
        batches = prefetching(self.batches, self.state.step, cfg.steps, workers, pin=self.device.type == "cuda")
        while self.state.step < cfg.steps and self.progress() < 1.0:
            t0 = time.perf_counter()
            window.append(self.step(next(batches)))
            self.state.train_seconds += time.perf_counter() - t0
            bar.update(1)
            if self.state.step % cfg.log_every == 0:
                self._log(log_path, writer, sum(window) / len(window), bar)
                window = []
            if self.state.step % cfg.checkpoint_every == 0:
                self.save()
        bar.close()
        self.save()
        if writer is not None:
            writer.close()
        if dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()
        return self.state

    def _log(self, path: Path, writer, loss: float, bar) -> None:
        if self.rank != 0:
            return
        row = {
            "step": self.state.step,
            "loss": round(loss, 5),
            "lr": self.optimizer.param_groups[0]["lr"],
            "tokens_seen": self.state.tokens_seen,
            "train_seconds": round(self.state.train_seconds, 1),
        }
        new = not path.exists()
        with path.open("a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(row))
            if new:
                w.writeheader()
            w.writerow(row)
        if writer is not None:
            writer.add_scalar("loss", loss, self.state.step)
            writer.add_scalar("lr", row["lr"], self.state.step)
        bar.set_postfix(loss=f"{loss:.3f}")

    def save(self) -> None:
        """Checkpoint (rank 0 only) and redraw the loss curve."""
        if self.rank != 0:
            return
        self.state.extra["hardware"] = describe_device(self.device)
        config = config_dict(self.cfg)
        card = render_card(config, asdict(self.state), count_parameters(self.model))
        save_checkpoint(self.ckpt, self.model, self.tokenizer, self.optimizer, self.state, card, self.time, config)
        log_path = self.cfg.out / "train_log.csv"
        if log_path.exists():
            maybe_plot(plot_loss_curve, log_path, self.cfg.out / "loss.png")


def special_ids(tokenizer) -> SpecialIds:
    eom = tokenizer.convert_tokens_to_ids(tokens.EOM)
    if tokenizer.mask_token_id is None or eom is None or eom == tokenizer.unk_token_id:
        raise ValueError(f"the tokenizer needs a mask token and {tokens.EOM}; train it with diffill-train tokenizer")
    return SpecialIds(
        mask=tokenizer.mask_token_id,
        eom=eom,
        pad=tokenizer.pad_token_id,
        cls=tokenizer.cls_token_id,
        sep=tokenizer.sep_token_id,
    )


def truncate_log(path: Path, step: int) -> None:
    """Keep the rows of a ``train_log.csv`` up to ``step`` (and whole), atomically; none left: no file."""
    if not path.exists():
        return
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    header, body = (rows[0], rows[1:]) if rows else ([], [])
    keep = [r for r in body if len(r) == len(header) and _row_step(r, header) <= step]
    if not keep:
        path.unlink()
        return
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(keep)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _row_step(row: list[str], header: list[str]) -> float:
    """The step of a log row; a torn row (a kill mid-write) reads as infinitely late, so it is dropped."""
    try:
        return int(row[header.index("step")])
    except ValueError:
        return math.inf


def _tensorboard(out: Path, step: int = 0):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(out / "tensorboard"), purge_step=step + 1 if step else None)  # drop events after it


def config_dict(cfg: TrainConfig) -> dict:
    """The config as plain JSON values."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}
