"""Checkpoint directories, written atomically: HF weights + tokenizer + trainer state + optimizer state.

A checkpoint is a ``save_pretrained`` directory (safetensors) that the engine loads as is; ``trainer_state.json``
and ``optimizer.safetensors`` let training resume. Writing goes to a temporary directory that replaces the old
checkpoint by renames, so a kill at any moment leaves a complete checkpoint behind.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from diffill.time_conditioning import TimeEmbedding, save_time_embedding

STATE_FILE = "trainer_state.json"
CONFIG_FILE = "training_config.json"
OPTIMIZER_FILE = "optimizer.safetensors"


@dataclass
class TrainerState:
    """Where training stands; enough to resume with the same data order."""

    step: int = 0
    tokens_seen: int = 0  # masked (loss-bearing) tokens
    tokens_processed: int = 0  # all non-padding tokens through the model
    train_seconds: float = 0.0
    best_loss: float = float("inf")
    extra: dict = field(default_factory=dict)


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimizer's state into tensors (for safetensors) and JSON-able scalars."""
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict = {"param_groups": state["param_groups"], "state": {}}
    for pid, entries in state["state"].items():
        scalars["state"][str(pid)] = {}
        for key, value in entries.items():
            if torch.is_tensor(value) and value.dim() > 0:
                tensors[f"{pid}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars["state"][str(pid)][key] = float(value)
    return tensors, scalars


def restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], scalars: dict) -> None:
    """Inverse of ``optimizer_tensors``."""
    state: dict = {}
    for pid, entries in scalars["state"].items():
        state[int(pid)] = {k: torch.tensor(v) for k, v in entries.items()}
    for name, value in tensors.items():
        pid, key = name.split(".", 1)
        state.setdefault(int(pid), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": scalars["param_groups"]})


def save_checkpoint(
    path: Path,
    model,
    tokenizer,
    optimizer: torch.optim.Optimizer | None,
    state: TrainerState,
    card: str,
    time: TimeEmbedding | None = None,
    config: dict | None = None,
) -> None:
    """Write a complete checkpoint to ``path`` atomically (temp dir + renames)."""
    tmp = path.with_name(f".{path.name}.tmp")
    old = path.with_name(f".{path.name}.old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp, max_shard_size="16MB")
    tokenizer.save_pretrained(tmp)
    if time is not None:
        save_time_embedding(time, tmp)
    if optimizer is not None:
        tensors, scalars = optimizer_tensors(optimizer)
        save_file(tensors, str(tmp / OPTIMIZER_FILE))
        state.extra["optimizer"] = scalars
    (tmp / STATE_FILE).write_text(json.dumps(asdict(state), indent=1))
    if config is not None:
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=1))
    state.extra.pop("optimizer", None)
    (tmp / "README.md").write_text(card)
    shutil.rmtree(old, ignore_errors=True)
    if path.exists():
        path.rename(old)
    tmp.rename(path)
    shutil.rmtree(old, ignore_errors=True)


def find_checkpoint(path: Path) -> Path | None:
    """The checkpoint to resume from: ``path``, or its backup if a crash hit between the two renames."""
    if (path / STATE_FILE).is_file():
        return path
    old = path.with_name(f".{path.name}.old")
    return old if (old / STATE_FILE).is_file() else None


def load_state(path: Path) -> tuple[TrainerState, dict[str, torch.Tensor] | None, dict | None]:
    """Trainer state and optimizer state saved in a checkpoint."""
    raw = json.loads((path / STATE_FILE).read_text())
    scalars = raw.get("extra", {}).pop("optimizer", None)
    state = TrainerState(**raw)
    opt_file = path / OPTIMIZER_FILE
    tensors = load_file(str(opt_file)) if opt_file.is_file() else None
    return state, tensors, scalars
