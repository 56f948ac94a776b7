"""The resumable state of an adaptation run, written atomically: trainable weights, the best ones so far,
the optimizer's state and where the run stands (safetensors and JSON only, never pickle)."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from training.checkpoint import optimizer_tensors, restore_optimizer

WEIGHTS, BEST, OPTIMIZER, STATE = "weights.safetensors", "best.safetensors", "optimizer.safetensors", "state.json"


@dataclass
class RunState:
    """Where a run stands; ``identity`` must match for a resume."""

    identity: dict
    step: int = 0
    seconds: float = 0.0  # training time so far
    tokens: int = 0  # non-padding tokens through the model
    best_loss: float = float("inf")
    best_step: int = 0
    since_best: int = 0  # evaluations without improvement
    evals: list[tuple[int, float, float]] = field(default_factory=list)  # (step, minutes, held-out loss)
    losses: list[tuple[int, float]] = field(default_factory=list)  # (step, training loss)


def trainable(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The parameters being trained, detached, on the CPU (tied weights once)."""
    seen: set[int] = set()
    out = {}
    for name, p in model.named_parameters():
        if p.requires_grad and id(p) not in seen:
            seen.add(id(p))
            out[name] = p.detach().cpu().contiguous().clone()
    return out


def load_trainable(model: torch.nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in tensors.items():
            params[name].copy_(value)


def save_state(
    folder: Path,
    state: RunState,
    model: torch.nn.Module,
    best: dict[str, torch.Tensor] | None,
    optimizer: torch.optim.Optimizer,
) -> None:
    """Replace ``folder`` with the current state (temp folder + rename: a kill leaves the old one whole)."""
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file(trainable(model), str(tmp / WEIGHTS))
    if best is not None:
        save_file(best, str(tmp / BEST))
    tensors, scalars = optimizer_tensors(optimizer)
    save_file(tensors, str(tmp / OPTIMIZER))
    (tmp / STATE).write_text(json.dumps({**asdict(state), "optimizer": scalars}))
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def load_state(
    folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer
) -> tuple[RunState, dict[str, torch.Tensor] | None] | None:
    """The saved state (weights and optimizer restored in place) and the best weights; None if there is none."""
    for candidate in (folder, folder.with_name(folder.name + ".old")):
        if (candidate / STATE).is_file():
            raw = json.loads((candidate / STATE).read_text())
            scalars = raw.pop("optimizer")
            load_trainable(model, load_file(str(candidate / WEIGHTS)))
            restore_optimizer(optimizer, load_file(str(candidate / OPTIMIZER)), scalars)
            best = load_file(str(candidate / BEST)) if (candidate / BEST).is_file() else None
            raw["evals"] = [tuple(e) for e in raw["evals"]]
            raw["losses"] = [tuple(e) for e in raw["losses"]]
            return RunState(**raw), best
    return None
