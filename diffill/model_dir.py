"""A model directory on disk: where the bundled one lives, and whether a directory can load (without torch).

The check reads only file headers (``config.json``, each safetensors shard's header and size, the shard
index, ``tokenizer.json``), so a bad ``--model`` gets one line naming the file at fault before torch is
imported, and a truncated download is caught before transformers reports it as a traceback. When loading
fails anyway, ``load_failure`` turns the exception into one line that names the file safetensors or
tokenizers rejects.
"""

from __future__ import annotations

import json
import math
import struct
from importlib import resources
from pathlib import Path
from typing import Any

from diffill.errors import ModelLoadError

HEADER_LIMIT = 100 * 1024 * 1024  # a safetensors header is JSON; anything this large is not one
TOKENIZER_KEYS = ("model", "added_tokens")
_DTYPES_BY_BITS = {
    4: "F4",
    6: "F6_E2M3 F6_E3M2",
    8: "BOOL U8 I8 F8_E5M2 F8_E4M3 F8_E8M0 F8_E4M3FNUZ F8_E5M2FNUZ",
    16: "I16 U16 F16 BF16",
    32: "I32 U32 F32",
    64: "I64 U64 F64 C64",
}
DTYPE_BITS = {name: bits for bits, names in _DTYPES_BY_BITS.items() for name in names.split()}  # safetensors'


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
    """The shard's header parses and its tensors tile the rest of the file exactly, as safetensors requires."""
    size = shard.stat().st_size
    header, length = _read_header(shard, size)
    tensors = sorted(_tensor_entries(shard, header), key=lambda t: t[1])
    end = 0
    for name, begin, stop in tensors:
        if begin != end:
            raise ModelLoadError(f"{shard} is corrupt: tensor {name!r} starts at byte {begin}, not at {end}")
        end = stop
    have = size - 8 - length
    if have < end:
        raise ModelLoadError(f"{shard} is truncated: {size} bytes of the {8 + length + end} its header describes")
    if have > end:
        raise ModelLoadError(f"{shard} is corrupt: {have - end} stray bytes follow its last tensor")


def _read_header(shard: Path, size: int) -> tuple[dict[str, Any], int]:
    """The JSON header of a safetensors file and its length in bytes."""
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
    return header, length


def _tensor_entries(shard: Path, header: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(name, begin, end) of every tensor, each checked against its dtype and shape."""
    entries = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape = entry["dtype"], [int(d) for d in entry["shape"]]
            begin, end = (int(o) for o in entry["data_offsets"])
        except (TypeError, KeyError, ValueError) as exc:
            raise ModelLoadError(f"{shard} is corrupt: tensor {name!r} has no valid dtype, shape and offsets") from exc
        bits = DTYPE_BITS.get(dtype)
        need = math.prod(shape) * bits // 8 if bits is not None else end - begin  # a dtype newer than this list
        if min(shape, default=0) < 0 or not 0 <= begin <= end or end - begin != need:
            raise ModelLoadError(
                f"{shard} is corrupt: tensor {name!r} spans bytes {begin}..{end}, but dtype {dtype} and shape "
                f"{shape} need {need}"
            )
        entries.append((name, begin, end))
    return entries


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
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{path} is not valid JSON") from exc
    if not isinstance(value, dict):
        raise ModelLoadError(f"{path} is not a JSON object")
    return value


def load_failure(path: Path, exc: BaseException) -> str:
    """One line on why loading ``path`` failed, naming the file at fault when one can be found."""
    return f"cannot load a masked LM from {path}: {_unreadable_file(path) or _first_line(exc)}"


def _unreadable_file(path: Path) -> str | None:
    """The first shard that safetensors rejects, or a tokenizer.json that tokenizers cannot read."""
    from safetensors import safe_open
    from tokenizers import Tokenizer

    for shard in sorted(path.glob("*.safetensors")):
        try:
            with safe_open(str(shard), framework="numpy"):
                pass
        except Exception as exc:  # safetensors raises its own SafetensorError (an Exception)
            return f"{shard} is corrupt ({_first_line(exc)})"
    try:
        Tokenizer.from_file(str(path / "tokenizer.json"))
    except Exception as exc:  # tokenizers raises a bare Exception
        return f"{path / 'tokenizer.json'} cannot be read by the tokenizers library ({_first_line(exc)})"
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0].rstrip(" .")
