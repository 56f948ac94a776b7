"""The adapted model as a model directory: merged bf16 weights in safetensors shards, the tokenizer, and
``adaptation.json`` saying what it learned from (written atomically, so a killed export leaves nothing)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

ADAPTATION_FILE = "adaptation.json"
KEEP_FROM_BASE = ("corpus_licenses.json", "corpus_stats.json")


def card(meta: dict[str, Any]) -> str:
    """A short model card for an adapted model directory."""
    evals = meta.get("evals") or []
    before = f"{evals[0][2]:.3f}" if evals else "n/a"
    best = meta.get("best_loss")
    return "\n".join(
        [
            "# diffill model adapted to a workspace",
            "",
            f"- base model: `{meta['base']}`",
            f"- workspace: `{meta['workspace']}` ({meta['files']} files, "
            f"{meta['source_bytes'] / 1e6:.2f} MB of Python)",
            f"- method: {meta['method']}, {meta['steps']} steps of batch {meta['batch_size']}, "
            f"{meta['minutes']:.1f} minutes, {meta['tokens'] / 1e6:.2f}M tokens through the model",
            f"- held-out loss (files of the workspace it did not train on): {before} before, "
            f"{best:.3f} at the kept step {meta['best_step']}"
            if best is not None
            else "- no held-out files",
            "",
            "The training code is the user's own; the base model's corpus is listed in `corpus_licenses.json`.",
            "",
        ]
    )


def export_model(
    model: torch.nn.Module, tokenizer: Any, base: Path, out: Path, meta: dict[str, Any], merge: bool
) -> Path:
    """Write ``model`` (LoRA adapters merged in when ``merge``) as bf16 to ``out``, replacing it atomically."""
    if merge:
        model = model.merge_and_unload()
    model = model.to(torch.bfloat16)
    tmp = out.with_name(f".{out.name}.export-tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        model.save_pretrained(tmp, max_shard_size="16MB")
        tokenizer.save_pretrained(tmp)
        for name in KEEP_FROM_BASE:
            if (base / name).is_file():
                shutil.copy2(base / name, tmp / name)
        (tmp / ADAPTATION_FILE).write_text(json.dumps(meta, indent=1))
        (tmp / "README.md").write_text(card(meta))
        old = out.with_name(f".{out.name}.export-old")
        shutil.rmtree(old, ignore_errors=True)
        if out.exists():
            out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
