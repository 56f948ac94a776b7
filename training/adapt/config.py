"""The settings of one adaptation run: a frozen dataclass, checked on creation."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


class Method(str, enum.Enum):
    """What is trained: every weight of a copy, or low-rank adapters (merged into the weights at the end)."""

    FULL = "full"
    LORA = "lora"


@dataclass(frozen=True)
class AdaptConfig:
    """Everything ``adapt`` needs; the fields that decide the result are written into the model directory."""

    workspace: Path
    out: Path
    base: Path | None = None  # None: the bundled model
    minutes: float = 12.0  # training time at most (loading and export come on top)
    method: Method = Method.FULL
    lr: float = 1e-4
    batch_size: int = 8
    max_steps: int | None = None  # also stop after this many steps
    warmup: int = 20
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    train_layers: int | None = None  # train only the top N encoder layers (and the head); None: all
    lora_rank: int = 16
    lora_alpha: float = 32.0
    holdout: float = 0.1  # share of the workspace's files held out to decide when to stop
    eval_every: int = 40  # steps between held-out evaluations (at least five evaluations a run on a slow machine:
    # one also comes once a fifth of the time budget passed since the last)
    eval_sequences: int = 32  # held-out sequences per evaluation
    patience: int = 3  # evaluations without improvement before stopping
    replay: float = 0.0  # share of each batch drawn from the base model's kind of code (the standard library)
    replay_files: int = 200  # standard-library files sampled for replay
    max_length: int = 512
    context_noise: float = 0.3  # share of sequences whose context is masked too (loss on more of each sequence)
    padding: str | None = None  # end-of-middle padding (training.data.PADDINGS); None: the base model's own
    chunk_chars: int = 1600
    threads: int = 0  # torch CPU threads (0: torch's default)
    nice: int = 0  # raise the process's niceness by this much (the server uses 19)
    checkpoint_minutes: float = 2.0  # save the resumable state this often
    resume: bool = False
    seed: int = 0
    bf16: bool | None = None  # bf16 autocast; None: where the CPU runs bf16 natively (elsewhere it is slower)

    def __post_init__(self) -> None:
        problems = []
        if self.minutes <= 0:
            problems.append("minutes must be > 0")
        if self.lr <= 0:
            problems.append("lr must be > 0")
        for name in ("batch_size", "eval_every", "eval_sequences", "patience", "lora_rank", "max_length"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1")
        if self.train_layers is not None and self.train_layers < 1:
            problems.append("train_layers must be >= 1")
        if self.max_steps is not None and self.max_steps < 1:
            problems.append("max_steps must be >= 1")
        if not 0 <= self.holdout < 1:
            problems.append("holdout must be in [0, 1)")
        if not 0 <= self.context_noise <= 1:
            problems.append("context_noise must be in [0, 1]")
        if not 0 <= self.replay < 1:
            problems.append("replay must be in [0, 1)")
        if self.threads < 0 or not 0 <= self.nice <= 19:
            problems.append("threads must be >= 0 and nice in 0..19")
        if self.checkpoint_minutes < 0:
            problems.append("checkpoint_minutes must be >= 0")
        if problems:
            raise ValueError("; ".join(problems))
        object.__setattr__(self, "method", Method(self.method))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, Path):
                data[key] = str(value)
        data["method"] = self.method.value
        return data
