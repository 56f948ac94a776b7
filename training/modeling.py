"""Build or load the masked LM to train, and compute its loss at masked positions only.

New models are ModernBERT encoders (``transformers``); any Hugging Face masked-LM directory can be the
starting point instead (DiffusionBERT's pretrained initialisation). Nothing here forks transformers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import AutoModelForMaskedLM, ModernBertConfig, ModernBertForMaskedLM, PreTrainedModel

from diffill.model import masked_logits
from diffill.model_dir import check_model_dir
from diffill.time_conditioning import TimeEmbedding
from training.data import IGNORE


@dataclass(frozen=True)
class ModelConfig:
    """Size of a new ModernBERT encoder."""

    hidden: int = 256
    layers: int = 6
    heads: int = 4
    intermediate: int = 512
    max_length: int = 512
    local_attention: int = 128
    global_every: int = 3


def new_model(cfg: ModelConfig, tokenizer) -> ModernBertForMaskedLM:
    """A randomly initialised ModernBERT masked LM sized for ``tokenizer``."""
    config = ModernBertConfig(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden,
        intermediate_size=cfg.intermediate,
        num_hidden_layers=cfg.layers,
        num_attention_heads=cfg.heads,
        max_position_embeddings=cfg.max_length,
        local_attention=cfg.local_attention,
        global_attn_every_n_layers=cfg.global_every,
        pad_token_id=tokenizer.pad_token_id,
        cls_token_id=tokenizer.cls_token_id,
        sep_token_id=tokenizer.sep_token_id,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,
        tie_word_embeddings=True,
    )
    return ModernBertForMaskedLM(config)


def load_init(path: Path) -> PreTrainedModel:
    """A pretrained masked LM to start from (safetensors only, no remote code)."""
    check_model_dir(path)
    return AutoModelForMaskedLM.from_pretrained(path, use_safetensors=True, dtype=torch.float32)


def count_parameters(model: torch.nn.Module) -> int:
    """Distinct parameters (tied weights counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


class SparseMLM(torch.nn.Module):
    """Wraps a masked LM so that its output head runs only at the asked positions (DDP wraps this)."""

    def __init__(self, model: PreTrainedModel, time: TimeEmbedding | None = None) -> None:
        super().__init__()
        self.model = model
        self.time = time

    def forward(
        self, ids: torch.Tensor, attention: torch.Tensor, where: torch.Tensor, t: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits (M, V) at the True entries of ``where`` (B, T); ``t`` (B,) feeds a time embedding if any."""
        return masked_logits(self.model, ids, attention, where, self.time, t)


def masked_loss(
    net: torch.nn.Module, batch: dict[str, torch.Tensor], weights: torch.Tensor | None = None
) -> tuple[torch.Tensor, int]:
    """Cross-entropy at masked positions of a ``SparseMLM`` (or its DDP wrapper).

    ``weights`` (B,) scales each sequence's tokens (ELBO weighting); the sum is divided by the number of
    masked tokens. Returns (loss, masked token count).
    """
    labels = batch["labels"]  # (B, T)
    where = labels != IGNORE  # (B, T)
    logits = net(batch["input_ids"], batch["attention_mask"], where, batch["t"])  # (M, V)
    ce = F.cross_entropy(logits.float(), labels[where], reduction="none")  # (M,)
    if weights is not None:
        ce = ce * weights[:, None].expand_as(labels)[where]
    n = int(where.sum())
    return ce.sum() / max(n, 1), n
