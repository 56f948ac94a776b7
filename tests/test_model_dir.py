"""Corrupt model directories: one clear line naming the file at fault, from the check, the loader and the CLI."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from diffill.errors import ModelLoadError
from diffill.model_dir import check_model_dir, check_safetensors

SHARD = "model.safetensors"
MISSING_SHARD = "model-00002-of-00002.safetensors"


def _header(shard: Path) -> tuple[dict, bytes]:
    data = shard.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + length]), data[8 + length :]


def _write_shard(shard: Path, header: dict, payload: bytes) -> None:
    raw = json.dumps(header).encode()
    shard.write_bytes(struct.pack("<Q", len(raw)) + raw + payload)


def truncated_shard(model: Path) -> None:
    data = (model / SHARD).read_bytes()
    (model / SHARD).write_bytes(data[: len(data) // 2])


def garbage_header(model: Path) -> None:
    data = (model / SHARD).read_bytes()
    (model / SHARD).write_bytes(b"\xff" * 8 + data[8:])


def header_not_json(model: Path) -> None:
    data = (model / SHARD).read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    (model / SHARD).write_bytes(data[:8] + b"#" * length + data[8 + length :])


def stray_bytes(model: Path) -> None:
    with (model / SHARD).open("ab") as f:
        f.write(b"\0" * 16)


def wrong_shape(model: Path) -> None:
    header, payload = _header(model / SHARD)
    name = next(k for k in header if k != "__metadata__")
    header[name]["shape"] = [*header[name]["shape"], 2]
    _write_shard(model / SHARD, header, payload)


def missing_indexed_shard(model: Path) -> None:
    weight_map = {"embeddings.weight": SHARD, "head.weight": MISSING_SHARD}
    (model / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))


def empty_tokenizer(model: Path) -> None:
    (model / "tokenizer.json").write_text("{}")


def invalid_config(model: Path) -> None:
    (model / "config.json").write_text('{"model_type": "modernbert",')


BREAKS: dict[str, tuple[Callable[[Path], None], str, str]] = {
    # name: (how to break the copy, the file the message names, what it says)
    "truncated shard": (truncated_shard, SHARD, "truncated"),
    "garbage header": (garbage_header, SHARD, "not a safetensors file"),
    "header not JSON": (header_not_json, SHARD, "header is not JSON"),
    "stray bytes after the tensors": (stray_bytes, SHARD, "stray bytes"),
    "tensor shape against its bytes": (wrong_shape, SHARD, "need"),
    "missing shard named by the index": (missing_indexed_shard, "model.safetensors.index.json", MISSING_SHARD),
    "empty tokenizer.json": (empty_tokenizer, "tokenizer.json", "not a tokenizers file"),
    "invalid config.json": (invalid_config, "config.json", "not valid JSON"),
}


@pytest.fixture
def model_copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))


@pytest.fixture
def holes_file(tmp_path: Path) -> Path:
    path = tmp_path / "file.py"
    path.write_text("def f(x):\n    return ???\n")
    return path


def test_an_intact_copy_passes(model_copy: Path) -> None:
    check_model_dir(model_copy)
    check_safetensors(model_copy / SHARD)


@pytest.mark.parametrize("name", BREAKS)
def test_check_names_the_broken_file(model_copy: Path, name: str) -> None:
    breaker, culprit, says = BREAKS[name]
    breaker(model_copy)
    with pytest.raises(ModelLoadError) as info:
        check_model_dir(model_copy)
    message = str(info.value)
    assert "\n" not in message and str(model_copy / culprit) in message and says in message


def run_fill(model: Path, path: Path) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "lsp_server.cli", "fill", "--model", str(model), str(path), "--device", "cpu"]
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "name",
    [
        "truncated shard",
        "missing shard named by the index",
        "empty tokenizer.json",
        "invalid config.json",
        "garbage header",
    ],
)
def test_cli_gives_one_line_and_exit_2(model_copy: Path, holes_file: Path, name: str) -> None:
    breaker, culprit, says = BREAKS[name]
    breaker(model_copy)
    proc = run_fill(model_copy, holes_file)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert lines[0].startswith("diffill: ") and culprit in lines[0] and says in lines[0]
    assert proc.stdout == ""


def unreadable_tokenizer(model: Path) -> None:
    """Has the keys the header check looks for, but tokenizers cannot build a tokenizer from it."""
    (model / "tokenizer.json").write_text(json.dumps({"model": {"type": "nonsense"}, "added_tokens": []}))


def test_loader_names_a_shard_safetensors_rejects(model_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the header check (bypassed here), what safetensors raises becomes a ModelLoadError naming the shard."""
    from diffill import model

    stray_bytes(model_copy)
    monkeypatch.setattr(model, "check_model_dir", lambda path: None)
    with pytest.raises(ModelLoadError) as info:
        model.load_model(model_copy, device="cpu", dtype="float32")
    message = str(info.value)
    assert str(model_copy) in message and f"{model_copy / SHARD} is corrupt" in message and "\n" not in message


def test_cli_names_a_tokenizer_that_tokenizers_rejects(
    model_copy: Path, holes_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lsp_server.cli import main

    unreadable_tokenizer(model_copy)
    check_model_dir(model_copy)  # the header check cannot tell; loading does
    code = main(["fill", "--model", str(model_copy), str(holes_file), "--device", "cpu"])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and "Traceback" not in err, err
    assert len(lines) == 1 and f"{model_copy / 'tokenizer.json'} cannot be read by the tokenizers library" in lines[0]
    assert lines[0].startswith(f"diffill: cannot load a masked LM from {model_copy}: ")
