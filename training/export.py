"""Export a training checkpoint as a lean inference model directory (the bundled default is one).

Keeps what the engine loads (config, sharded safetensors weights, tokenizer) and the model card with its
scores; drops the optimizer and trainer state. Weights can be stored as bfloat16 to halve the size.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch
from transformers import AutoModelForMaskedLM, AutoTokenizer

from diffill.model_dir import check_model_dir
from diffill.time_conditioning import WEIGHTS
from training.model_card import CONFIG_FILE, CORPUS_FILES, SCORES_FILE, STATE_FILE

KEEP = ("README.md", SCORES_FILE, WEIGHTS, CONFIG_FILE, STATE_FILE)


def export_model(checkpoint: Path, out: Path, dtype: str = "float32", shard: str = "16MB") -> Path:
    """Write an inference-only copy of ``checkpoint`` to ``out`` (replacing it atomically)."""
    check_model_dir(checkpoint)
    model = AutoModelForMaskedLM.from_pretrained(checkpoint, use_safetensors=True, dtype=getattr(torch, dtype))
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp, max_shard_size=shard)
    tokenizer.save_pretrained(tmp)
    for name in KEEP:
        if (checkpoint / name).is_file():
            shutil.copy2(checkpoint / name, tmp / name)
    state = tmp / STATE_FILE
    if state.is_file():  # what training was, not how to resume it: no optimizer state
        data = json.loads(state.read_text())
        data.get("extra", {}).pop("optimizer", None)
        state.write_text(json.dumps(data, indent=1))
    corpus = (
        Path(json.loads((checkpoint / CONFIG_FILE).read_text()).get("corpus", ""))
        if (checkpoint / CONFIG_FILE).is_file()
        else None
    )
    for name in CORPUS_FILES:  # the card names the corpus's sources and licenses even without the corpus
        if corpus is not None and (corpus / name).is_file():
            shutil.copy2(corpus / name, tmp / f"corpus_{name}")
    for f in tmp.iterdir():
        f.chmod(0o644)
    old = out.with_name(f".{out.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)  # the old output stays whole until the new one is in place
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    return out


def add_export_parser(sub) -> None:
    p = sub.add_parser("export", help="copy a checkpoint as an inference-only model directory")
    p.add_argument("checkpoint", type=Path, help="checkpoint directory (e.g. RUN/checkpoint)")
    p.add_argument("--out", type=Path, required=True, help="model directory to write")
    p.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32", help="stored weight dtype")
    p.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    out = export_model(args.checkpoint, args.out, args.dtype)
    size = sum(f.stat().st_size for f in out.iterdir()) / 1e6
    print(f"exported {args.checkpoint} -> {out} ({size:.1f} MB)", file=sys.stderr)
    return 0
