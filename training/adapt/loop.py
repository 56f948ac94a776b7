"""The adaptation loop: fine-tune under a time bound, check held-out files, keep the best weights, resume.

The objective is the base model's own (absorbing-state diffusion on masked spans, ``training.data``), so an
adapted model is used exactly as the base one. Training time is bounded by ``minutes``; every
``eval_every`` steps the held-out files' loss decides which weights are kept and when to stop (``patience``
evaluations without improvement). The state is saved every ``checkpoint_minutes`` to a folder beside the
output, and ``resume`` continues from it; the output directory appears only when the run is complete.
"""

from __future__ import annotations

import logging
import math
import os
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from transformers import AutoModelForMaskedLM, AutoTokenizer

from diffill.errors import DiffillError
from diffill.model import cpu_has_bf16
from diffill.model_dir import check_model_dir, default_model_dir
from training.adapt.config import AdaptConfig, Method
from training.adapt.corpus import Examples, replay_examples, workspace_examples
from training.adapt.export import export_model
from training.adapt.state import RunState, load_state, load_trainable, save_state, trainable
from training.data import PADDINGS, DataConfig, DiffusionBatches, encode_examples
from training.modeling import SparseMLM, masked_loss
from training.schedules import get_schedule
from training.train import special_ids

log = logging.getLogger(__name__)
LORA_TARGETS = ["Wqkv", "Wo", "Wi"]  # ModernBERT's attention and MLP projections


class AdaptError(DiffillError):
    """An adaptation that cannot run: no usable files, a bad base model, a resume that does not match."""


@dataclass
class Progress:
    """What a running adaptation reports after each step."""

    step: int
    seconds: float
    limit: float
    loss: float
    heldout: float | None
    best: float | None

    @property
    def share(self) -> float:
        return min(1.0, self.seconds / self.limit)


Report = Callable[[Progress], None]


def state_folder(out: Path) -> Path:
    """Where the resumable state of a run writing ``out`` lives."""
    return out.with_name(f".{out.name}.adapt-state")


def _lr(cfg: AdaptConfig, step: int, progress: float) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def _mix(examples: Examples, cfg: AdaptConfig) -> list[dict]:
    """The workspace's training examples with replay examples making up ``cfg.replay`` of them."""
    if cfg.replay <= 0:
        return examples.train
    replay = replay_examples(cfg.replay_files, cfg.chunk_chars, cfg.seed)
    want = round(len(examples.train) * cfg.replay / (1 - cfg.replay))
    return examples.train + random.Random(cfg.seed).sample(replay, min(want, len(replay)))


def _model(base: Path, cfg: AdaptConfig) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(the model to save, the masked LM to run): the same module for full fine-tuning; for LoRA the PEFT
    wrapper and the masked LM inside it, whose layers carry the adapters."""
    model = AutoModelForMaskedLM.from_pretrained(base, dtype=torch.float32, use_safetensors=True)
    if cfg.method is Method.FULL:
        if cfg.train_layers is not None:
            freeze_below(model, cfg.train_layers)
        return model, model
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as exc:
        raise AdaptError("--method lora needs peft: pip install 'diffill[adapt]'") from exc
    lora = LoraConfig(r=cfg.lora_rank, lora_alpha=cfg.lora_alpha, target_modules=LORA_TARGETS, lora_dropout=0.0)
    wrapped = get_peft_model(model, lora)
    return wrapped, wrapped.base_model.model


def base_padding(base: Path) -> str:
    """The end-of-middle padding the base model learned with, so adapting it keeps its length estimate: its
    training config's, or its own adaptation's; models trained before the setting existed used "grows"."""
    import json

    for name, keys in (("training_config.json", ("data", "padding")), ("adaptation.json", ("config", "padding"))):
        try:
            value = json.loads((base / name).read_text())
            for key in keys:
                value = value[key]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if value in PADDINGS:
            return str(value)
    return "grows"


def freeze_below(model: torch.nn.Module, top: int) -> None:
    """Train only the top ``top`` encoder layers, the final norm and the head: the embeddings (tied to the
    output projection) and the layers below stay as they are, and backward stops at the lowest trained layer."""
    layers = getattr(getattr(model, "model", None), "layers", None)
    if layers is None:
        raise AdaptError("--train-layers needs a ModernBERT-style model (model.layers)")
    keep = {id(p) for layer in list(layers)[-top:] for p in layer.parameters()}
    keep |= {id(p) for name, p in model.named_parameters() if not name.startswith(("model.embeddings", "model.layers"))}
    tied = {id(p) for p in model.get_input_embeddings().parameters()}
    for p in model.parameters():
        p.requires_grad_(id(p) in keep and id(p) not in tied)


def _heldout_loss(net: SparseMLM, batches: list[dict[str, torch.Tensor]], bf16: bool | None) -> float | None:
    if not batches:
        return None
    net.eval()
    total, count = 0.0, 0
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for batch in batches:
            loss, n = masked_loss(net, batch)
            total, count = total + float(loss) * n, count + n
    net.train()
    return total / max(count, 1)


def adapt(cfg: AdaptConfig, report: Report | None = None) -> Path:
    """Run one adaptation and write its model directory to ``cfg.out``; returns it."""
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    if cfg.nice > 0:
        os.nice(cfg.nice)
    if cfg.bf16 is None:
        cfg = replace(cfg, bf16=cpu_has_bf16())
    base = (cfg.base or default_model_dir()).resolve()
    check_model_dir(base)
    workspace = cfg.workspace.resolve()
    if not workspace.is_dir():
        raise AdaptError(f"{cfg.workspace}: not a directory")
    examples = workspace_examples(workspace, cfg.holdout, cfg.chunk_chars, cfg.seed)
    if not examples.train:
        raise AdaptError(f"{cfg.workspace}: no usable Python files to learn from")
    tokenizer = AutoTokenizer.from_pretrained(base)
    window = tokenizer.model_max_length
    tokenizer.model_max_length = 10**9  # chunks are tokenized whole, then cropped to the window (no warning)
    special = special_ids(tokenizer)
    if cfg.padding is None:
        cfg = replace(cfg, padding=base_padding(base))
    data = DataConfig(
        max_length=min(cfg.max_length, tokenizer.model_max_length),
        context_noise=cfg.context_noise,
        padding=cfg.padding,
    )
    schedule = get_schedule("linear")
    batches = DiffusionBatches(
        encode_examples(_mix(examples, cfg), tokenizer), special, schedule, data, cfg.batch_size, cfg.seed
    )
    heldout: list[dict[str, torch.Tensor]] = []
    if examples.holdout:
        held = DiffusionBatches(
            encode_examples(examples.holdout, tokenizer), special, schedule, data, cfg.batch_size, cfg.seed + 1
        )
        heldout = [held.batch(i) for i in range(math.ceil(cfg.eval_sequences / cfg.batch_size))]
    saved, inner = _model(base, cfg)
    net = SparseMLM(inner)
    optimizer = torch.optim.AdamW(
        [p for p in inner.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=cfg.weight_decay
    )
    identity = {**cfg.to_json(), "base": str(base), "files": examples.manifest.files}
    for key in ("out", "minutes", "max_steps", "threads", "nice", "resume", "checkpoint_minutes"):
        identity.pop(key, None)
    state, best = _start(cfg, identity, inner, optimizer)
    if not state.evals:
        loss0 = _heldout_loss(net, heldout, cfg.bf16)
        if loss0 is not None:
            state.evals.append((0, 0.0, loss0))
            state.best_loss = loss0
    _train(cfg, net, inner, optimizer, batches, heldout, state, best, report)
    best = _load_best(cfg, inner)
    if best is not None:
        load_trainable(inner, best)
    meta = _meta(cfg, base, workspace, examples, state)
    tokenizer.model_max_length = window
    out = export_model(saved, tokenizer, base, cfg.out, meta, merge=cfg.method is Method.LORA)
    shutil.rmtree(state_folder(cfg.out), ignore_errors=True)
    return out


def _start(
    cfg: AdaptConfig, identity: dict, model: torch.nn.Module, optimizer: torch.optim.Optimizer
) -> tuple[RunState, dict[str, torch.Tensor] | None]:
    folder = state_folder(cfg.out)
    if not cfg.resume:
        if folder.exists():
            raise AdaptError(f"{folder} holds an unfinished run: pass --resume to continue it, or delete it")
        return RunState(identity), None
    loaded = load_state(folder, model, optimizer)
    if loaded is None:
        return RunState(identity), None
    state, best = loaded
    if state.identity != identity:
        raise AdaptError(f"{folder} is a run with other settings or files; delete it to start over")
    log.info("resuming at step %d (%.1f minutes in)", state.step, state.seconds / 60)
    return state, best


def _train(
    cfg: AdaptConfig,
    net: SparseMLM,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: DiffusionBatches,
    heldout: list,
    state: RunState,
    best: dict[str, torch.Tensor] | None,
    report: Report | None,
) -> None:
    limit = cfg.minutes * 60
    folder = state_folder(cfg.out)
    last_save = time.perf_counter()
    last_eval = state.seconds
    net.train()
    while state.seconds < limit and (cfg.max_steps is None or state.step < cfg.max_steps):
        if heldout and state.since_best >= cfg.patience:
            log.info("held-out loss has not improved for %d evaluations: stopping", cfg.patience)
            break
        started = time.perf_counter()
        batch = batches.batch(state.step)
        for group in optimizer.param_groups:
            group["lr"] = _lr(cfg, state.step, state.seconds / limit)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
            loss, _ = masked_loss(net, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], cfg.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        state.step += 1
        state.tokens += int(batch["attention_mask"].sum())
        state.losses.append((state.step, round(float(loss.detach()), 4)))
        heldout_loss = None
        due = state.step % cfg.eval_every == 0 or state.seconds - last_eval >= limit / 5
        if heldout and due:
            last_eval = state.seconds
            heldout_loss = _heldout_loss(net, heldout, cfg.bf16)
            state.seconds += time.perf_counter() - started
            started = time.perf_counter()
            state.evals.append((state.step, round(state.seconds / 60, 3), heldout_loss))
            if heldout_loss < state.best_loss:
                state.best_loss, state.best_step, state.since_best = heldout_loss, state.step, 0
                best = trainable(model)
            else:
                state.since_best += 1
        state.seconds += time.perf_counter() - started
        if time.perf_counter() - last_save > cfg.checkpoint_minutes * 60:
            save_state(folder, state, model, best, optimizer)
            last_save = time.perf_counter()
        if report is not None:
            best_loss = state.best_loss if math.isfinite(state.best_loss) else None
            report(Progress(state.step, state.seconds, limit, loss.item(), heldout_loss, best_loss))
    if heldout and (not state.evals or state.evals[-1][0] != state.step):
        final = _heldout_loss(net, heldout, cfg.bf16)
        state.evals.append((state.step, round(state.seconds / 60, 3), final))
        if final is not None and final < state.best_loss:
            state.best_loss, state.best_step = final, state.step
            best = trainable(model)
    save_state(folder, state, model, best if heldout else trainable(model), optimizer)


def _load_best(cfg: AdaptConfig, model: torch.nn.Module) -> dict[str, torch.Tensor] | None:
    from safetensors.torch import load_file

    from training.adapt.state import BEST

    path = state_folder(cfg.out) / BEST
    return load_file(str(path)) if path.is_file() else None


def _meta(cfg: AdaptConfig, base: Path, workspace: Path, examples: Examples, state: RunState) -> dict:
    return {
        "base": str(base),
        "workspace": str(workspace),
        "method": cfg.method.value,
        "files": len(examples.manifest.files),
        "source_bytes": examples.source_bytes,
        "manifest": {
            "files": examples.manifest.files,
            "holdout": examples.manifest.holdout,
            "dropped": examples.manifest.dropped,
        },
        "steps": state.step,
        "batch_size": cfg.batch_size,
        "minutes": state.seconds / 60,
        "tokens": state.tokens,
        "evals": state.evals,
        "best_loss": state.best_loss if math.isfinite(state.best_loss) else None,
        "best_step": state.best_step,
        "config": cfg.to_json(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
