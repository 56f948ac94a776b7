"""Load a Hugging Face masked-LM checkpoint (safetensors only) and expose logits at chosen positions.

Any directory with ``config.json``, ``*.safetensors`` weights and a fast tokenizer loads; the end-of-middle
token is optional (without it a hole is filled to its full length budget). The output head runs only on the
positions asked for, which is most of the cost saved on a CPU.
"""

from __future__ import annotations

import logging
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForMaskedLM, AutoTokenizer, PreTrainedModel
from transformers.utils import logging as hf_logging

from diffill import tokens
from diffill.accel import CompileMode, buckets_for, compile_encoder
from diffill.choices import COMPILE_MODES, DEVICES, DTYPES
from diffill.errors import ModelLoadError
from diffill.int8 import quantize_linear_layers
from diffill.model_dir import check_model_dir, default_model_dir
from diffill.time_conditioning import (
    TimeEmbedding,
    encoder_inputs,
    hidden_size,
    is_time_conditioned,
    load_time_embedding,
)

log = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    """A masked LM, its tokenizer, and the token ids the engine needs."""

    model: PreTrainedModel
    tokenizer: object  # a transformers fast tokenizer
    path: Path
    device: torch.device
    dtype: torch.dtype
    mask_id: int
    pad_id: int
    eom_id: int | None
    cls_id: int | None
    sep_id: int | None
    max_length: int
    time: TimeEmbedding | None = None  # set for time-conditioned checkpoints
    buckets: tuple[int, ...] = ()  # pad sequence widths up to these (static shapes for a GPU); () = off
    compiled: bool = False  # the encoder's forward is torch.compile'd
    quantized: bool = False  # linear layers are dynamic int8 (diffill/int8.py)

    @property
    def name(self) -> str:
        return self.path.name

    @torch.inference_mode()
    def logits_at(
        self, ids: torch.Tensor, attention_mask: torch.Tensor, positions: torch.Tensor, t: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits (M, V) at the True entries of ``positions`` (B, T), in row-major order."""
        return masked_logits(self.model, ids, attention_mask, positions, self.time, t).float()


def masked_logits(
    model: PreTrainedModel,
    ids: torch.Tensor,
    attention_mask: torch.Tensor,
    positions: torch.Tensor,
    time: TimeEmbedding | None = None,
    t: torch.Tensor | None = None,
) -> torch.Tensor:
    """Run the encoder on all tokens and the output head only where ``positions`` is True."""
    inputs = encoder_inputs(model, ids, time, t)
    head = _split_head(model)
    if head is None:
        return model(**inputs, attention_mask=attention_mask).logits[positions]
    base, project = head
    hidden = base(**inputs, attention_mask=attention_mask).last_hidden_state  # (B, T, H)
    return project(hidden[positions])  # (M, V)


def _split_head(model: PreTrainedModel):
    """(encoder, head) for architectures whose head we can apply to selected positions, else None."""
    if hasattr(model, "model") and hasattr(model, "head") and hasattr(model, "decoder"):  # ModernBERT
        return model.model, lambda h: model.decoder(model.head(h))
    if hasattr(model, "bert") and hasattr(model, "cls"):  # BERT
        return model.bert, model.cls
    if hasattr(model, "roberta") and hasattr(model, "lm_head"):  # RoBERTa
        return model.roberta, model.lm_head
    return None


def resolve_device(device: str) -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without it is an error."""
    if device not in DEVICES:
        raise ModelLoadError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError("device 'cuda' was asked for but no CUDA device is available")
    return torch.device(device)


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """bf16 where it is fast (CUDA, CPUs with bf16 support), never fp16 on a CPU; float32 around int8
    linear layers (``diffill/int8.py``)."""
    if dtype not in DTYPES:
        raise ModelLoadError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    if dtype == "float16" and device.type == "cpu":
        raise ModelLoadError("float16 on a CPU is several times slower than float32; use bfloat16 or float32")
    if dtype == "int8":  # float32 activations around int8 linear layers (diffill/int8.py)
        if device.type != "cpu":
            raise ModelLoadError("int8 is a CPU option; use bfloat16 on a GPU")
        return torch.float32
    if dtype != "auto":
        return getattr(torch, dtype)
    if device.type == "cuda":
        return torch.bfloat16
    return torch.bfloat16 if cpu_has_bf16() else torch.float32


def describe_device(device: torch.device) -> str:
    """A human name for the hardware: the GPU's name, or the CPU model with its core and thread counts."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    name = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"


def cpu_has_bf16() -> bool:
    """Whether this CPU runs bf16 matrix products natively (AVX-512 BF16 or AMX); without, bf16 is several
    times slower than float32 on it."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def load_model(
    path: str | Path | None = None,
    device: str = "auto",
    dtype: str = "auto",
    trust_remote_code: bool = False,
    buckets: bool | None = None,
    compile_mode: str = "off",
) -> LoadedModel:
    """Load a checkpoint directory (the bundled default when ``path`` is None) for inference.

    ``buckets`` pads sequence widths to a few sizes (None: on for CUDA only); ``compile_mode`` compiles the
    encoder (``off``, ``default``, ``reduce-overhead``, ``max-autotune``; GPU-only in practice).
    """
    path = Path(path) if path is not None else default_model_dir()
    check_model_dir(path)
    dev = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, dev)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    hf_logging.disable_progress_bar()
    try:
        config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
        model = AutoModelForMaskedLM.from_pretrained(
            path, config=config, dtype=torch_dtype, use_safetensors=True, trust_remote_code=trust_remote_code
        )
    except Exception as exc:  # transformers, safetensors (SafetensorError) and tokenizers (bare Exception)
        from diffill.model_dir import load_failure

        raise ModelLoadError(load_failure(path, exc)) from exc
    quantized = dtype == "int8"  # asked for only: it scores lower while typing (diffill/int8.py)
    if quantized:
        quantize_linear_layers(model)
    lm = _describe(model.to(dev).eval(), tokenizer, path, dev, torch_dtype)
    lm.quantized = quantized
    if is_time_conditioned(path, config):
        lm.time = load_time_embedding(path, hidden_size(model)).to(dev).eval()
    if buckets is None and compile_mode != CompileMode.OFF.value:
        buckets = True  # a compiled encoder needs the few static shapes the buckets give, on any device
    lm.buckets = buckets_for(lm.max_length, dev, buckets)
    try:
        mode = CompileMode(compile_mode)
    except ValueError as exc:
        choices = ", ".join(COMPILE_MODES)
        raise ModelLoadError(f"unknown compile mode {compile_mode!r}; choose one of {choices}") from exc
    compile_encoder(lm, mode)
    return lm


def _describe(model, tokenizer, path: Path, dev: torch.device, dtype: torch.dtype) -> LoadedModel:
    if not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(f"{path}: the tokenizer is not a fast tokenizer")
    if tokenizer.mask_token_id is None:
        raise ModelLoadError(f"{path}: the tokenizer has no mask token, so it cannot drive a masked LM")
    vocab = model.get_input_embeddings().num_embeddings
    if len(tokenizer) > vocab:
        raise ModelLoadError(f"{path}: tokenizer has {len(tokenizer)} tokens but the model only {vocab}")
    eom = tokenizer.convert_tokens_to_ids(tokens.EOM)
    eom_id = eom if isinstance(eom, int) and eom != tokenizer.unk_token_id else None
    if eom_id is None:
        log.warning("%s has no %s token: holes are filled to their full length budget", path, tokens.EOM)
    limits = [getattr(model.config, "max_position_embeddings", None), tokenizer.model_max_length]
    max_length = min(int(v) for v in limits if isinstance(v, int) and 0 < v < 1_000_000)
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        path=path,
        device=dev,
        dtype=dtype,
        mask_id=int(tokenizer.mask_token_id),
        pad_id=int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.mask_token_id),
        eom_id=eom_id,
        cls_id=tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id,
        sep_id=tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id,
        max_length=max_length,
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
