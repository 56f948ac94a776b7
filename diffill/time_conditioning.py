"""Optional time conditioning: a small learned embedding of the diffusion time added to token embeddings.

DiffusionBERT compares time-agnostic decoding (the default: the model infers t from how much is masked) with
feeding t to the model. A time-conditioned checkpoint carries ``time_embedding.safetensors`` and
``"diffill_time_conditioning": true`` in its ``config.json``; the wrapped encoder then sees
``embed(ids) + TimeEmbedding(t)`` instead of ``embed(ids)``. This is our own small module; transformers'
model code is used as is.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

WEIGHTS = "time_embedding.safetensors"
CONFIG_FLAG = "diffill_time_conditioning"


class TimeEmbedding(nn.Module):
    """t (B,) in [0, 1] -> (B, H): sinusoidal features and a two-layer MLP whose output starts at zero."""

    def __init__(self, hidden: int, features: int = 64) -> None:
        super().__init__()
        self.features = features
        self.mlp = nn.Sequential(nn.Linear(features, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        nn.init.zeros_(self.mlp[2].weight)
        nn.init.zeros_(self.mlp[2].bias)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.features // 2
        freqs = torch.exp(-math.log(1000.0) * torch.arange(half, device=t.device) / half)  # (F/2,)
        angles = 1000.0 * t.float()[:, None] * freqs[None, :]  # (B, F/2)
        return self.mlp(torch.cat([angles.sin(), angles.cos()], dim=-1))  # (B, H)


def hidden_size(model: nn.Module) -> int:
    return int(model.get_input_embeddings().embedding_dim)


def is_time_conditioned(path: Path, config) -> bool:
    """Whether a checkpoint was trained with time conditioning (its config says so and the weights exist)."""
    return bool(getattr(config, CONFIG_FLAG, False)) and (path / WEIGHTS).is_file()


def load_time_embedding(path: Path, hidden: int) -> TimeEmbedding:
    module = TimeEmbedding(hidden)
    module.load_state_dict(load_file(str(path / WEIGHTS)))
    return module


def save_time_embedding(module: TimeEmbedding, path: Path) -> None:
    save_file({k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}, str(path / WEIGHTS))


def encoder_inputs(model: nn.Module, ids: torch.Tensor, time: TimeEmbedding | None, t: torch.Tensor | None) -> dict:
    """Keyword inputs for the encoder: ``input_ids``, or embeddings with the time embedding added."""
    if time is None:
        return {"input_ids": ids}
    if t is None:
        raise ValueError("a time-conditioned model needs t")
    embeds = model.get_input_embeddings()(ids)  # (B, T, H)
    return {"inputs_embeds": embeds + time(t).to(embeds.dtype)[:, None, :]}
