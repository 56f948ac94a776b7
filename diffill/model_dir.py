"""A model directory on disk: where the bundled one lives, and whether a directory can load (without torch).

The check reads only file headers (``config.json``, each safetensors shard's header and size, the shard
index, ``tokenizer.json``), so a bad ``--model`` gets one line naming the file at fault before torch is
imported, and a truncated download is caught before transformers reports it as a traceback.
"""

from __future__ import annotations

import json
import struct
from importlib import resources
from pathlib import Path
from typing import Any

from diffill.errors import ModelLoadError

HEADER_LIMIT = 100 * 1024 * 1024  # a safetensors header is JSON; anything this large is not one
TOKENIZER_KEYS = ("model", "added_tokens")


def default_model_dir() -> Path:
    """The model shipped inside the package."""
    return Path(str(resources.files("diffill") / "models" / "default"))


def check_model_dir(path: Path) -> None:
    """Fail with one clear message when ``path`` cannot be a safetensors masked-LM directory."""
    if not path.exists():
        raise ModelLoadError(f"model directory not found: {path}")
    if not path.is_dir():
        raise ModelLoadError(f"model path is not a directory: {path}")
    if not (path / "config.json").is_file():
        raise ModelLoadError(f"{path} has no config.json; is it a Hugging Face checkpoint directory?")
    _json_object(path / "config.json")
    shards = sorted(path.glob("*.safetensors"))
    if not shards:
        raise ModelLoadError(f"{path} has no *.safetensors weights (pickle checkpoints are not loaded)")
    for shard in shards:
        check_safetensors(shard)
    index = path / "model.safetensors.index.json"
    if index.is_file():
        _check_index(index, {s.name for s in shards})
    if not (path / "tokenizer.json").is_file():
        raise ModelLoadError(f"{path} has no tokenizer.json (a fast tokenizer is required)")
    tokenizer = _json_object(path / "tokenizer.json")
    missing = [k for k in TOKENIZER_KEYS if k not in tokenizer]
    if missing:
        raise ModelLoadError(f"{path / 'tokenizer.json'} is not a tokenizers file (no {', '.join(missing)})")


def check_safetensors(shard: Path) -> None:
    """The shard's header parses and the file holds every byte its tensors' offsets name."""
    size = shard.stat().st_size
    with shard.open("rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ModelLoadError(f"{shard} is truncated or not a safetensors file ({size} bytes)")
        (length,) = struct.unpack("<Q", head)
        if length > min(HEADER_LIMIT, size - 8):
            raise ModelLoadError(f"{shard} is truncated or not a safetensors file (header of {length} bytes)")
        try:
            header = json.loads(f.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelLoadError(f"{shard} is corrupt: its header is not JSON") from exc
    if not isinstance(header, dict):
        raise ModelLoadError(f"{shard} is corrupt: its header is not a JSON object")
    ends = [
        int(v["data_offsets"][1])
        for k, v in header.items()
        if k != "__metadata__" and isinstance(v, dict) and isinstance(v.get("data_offsets"), list)
    ]
    need = 8 + length + max(ends, default=0)
    if size < need:
        raise ModelLoadError(f"{shard} is truncated: {size} bytes of the {need} its header describes")


def _check_index(index: Path, shards: set[str]) -> None:
    weight_map = _json_object(index).get("weight_map")
    if not isinstance(weight_map, dict):
        raise ModelLoadError(f"{index} has no weight_map")
    absent = sorted(set(weight_map.values()) - shards)
    if absent:
        raise ModelLoadError(f"{index} names shard(s) that are missing: {', '.join(absent)}")


def _json_object(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"{path} is not valid JSON") from exc
    if not isinstance(value, dict):
        raise ModelLoadError(f"{path} is not a JSON object")
    return value
