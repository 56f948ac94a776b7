"""Export: a training checkpoint becomes a lean model directory that the engine loads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from diffill.errors import ModelLoadError
from diffill.model import load_model
from diffill.time_conditioning import WEIGHTS, TimeEmbedding
from training.checkpoint import OPTIMIZER_FILE, STATE_FILE, TrainerState, save_checkpoint
from training.export import KEEP, export_model
from training.model_card import SCORES_FILE
from training.modeling import ModelConfig, new_model

TINY = ModelConfig(hidden=32, layers=1, heads=1, intermediate=64, max_length=64)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer) -> Path:
    """A checkpoint as training writes it (optimizer, trainer state, config, time embedding), plus scores."""
    root = tmp_path_factory.mktemp("export")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "stats.json").write_text(json.dumps({"files_kept": 3}))
    (corpus / "licenses.json").write_text(json.dumps({"kept": {}}))
    torch.manual_seed(0)
    model = new_model(TINY, tiny_tokenizer)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(input_ids=torch.tensor([[1, 2, 3]]), labels=torch.tensor([[1, 2, 3]])).loss.backward()
    optimizer.step()
    path = root / "checkpoint"
    state = TrainerState(step=7, tokens_seen=21)
    time = TimeEmbedding(TINY.hidden)
    save_checkpoint(path, model, tiny_tokenizer, optimizer, state, "# card\n", time, {"corpus": str(corpus)})
    (path / SCORES_FILE).write_text(json.dumps({"bench": {"pass_at_1": 0.5}}))
    return path


def stored_dtypes(model_dir: Path) -> set[str]:
    dtypes = set()
    for shard in model_dir.glob("model*.safetensors"):
        with safe_open(str(shard), framework="pt") as f:
            dtypes |= {str(f.get_slice(key).get_dtype()) for key in f.keys()}  # noqa: SIM118
    return dtypes


@pytest.mark.parametrize(("dtype", "stored"), [("float32", "F32"), ("bfloat16", "BF16")])
def test_an_export_loads_and_holds_no_optimizer(trained: Path, tmp_path: Path, dtype: str, stored: str) -> None:
    out = export_model(trained, tmp_path / "model", dtype)
    assert out == tmp_path / "model"
    assert stored_dtypes(out) == {stored}
    assert not (out / OPTIMIZER_FILE).exists()
    assert {p.suffix for p in out.iterdir()} <= {".safetensors", ".json", ".md"}  # no pickles, no optimizer
    lm = load_model(out, device="cpu", dtype="float32")
    assert lm.max_length == TINY.max_length and lm.mask_id == lm.tokenizer.mask_token_id
    reference = load_model(trained, device="cpu", dtype="float32")
    for (name, a), (_, b) in zip(reference.model.state_dict().items(), lm.model.state_dict().items()):
        if dtype == "float32":
            assert torch.equal(a, b), name
        else:
            assert torch.equal(a.to(torch.bfloat16).float(), b), name


def test_an_export_keeps_the_card_scores_state_and_corpus_files(trained: Path, tmp_path: Path) -> None:
    out = export_model(trained, tmp_path / "model")
    kept = {name for name in KEEP if (out / name).is_file()}
    assert kept == {name for name in KEEP if (trained / name).is_file()} == set(KEEP)
    assert (out / "README.md").read_text() == "# card\n"
    assert json.loads((out / SCORES_FILE).read_text()) == {"bench": {"pass_at_1": 0.5}}
    assert (out / WEIGHTS).read_bytes() == (trained / WEIGHTS).read_bytes()
    assert json.loads((out / "corpus_stats.json").read_text()) == {"files_kept": 3}
    assert (out / "corpus_licenses.json").is_file()
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in out.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temporary directory left


def test_an_export_replaces_the_old_output(trained: Path, tmp_path: Path) -> None:
    out = tmp_path / "model"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    export_model(trained, out, "bfloat16")
    export_model(trained, out, "float32")
    assert not (out / "stale.txt").exists() and stored_dtypes(out) == {"F32"}


def test_a_failed_export_leaves_the_old_output_intact(
    trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = export_model(trained, tmp_path / "model")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(ModelLoadError, match="not found"):
        export_model(tmp_path / "missing", out)

    def broken_copy(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(shutil, "copy2", broken_copy)  # fails after the new weights are written
    with pytest.raises(OSError, match="disk full"):
        export_model(trained, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_failure_at_the_final_rename_keeps_the_old_output(
    trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = export_model(trained, tmp_path / "model")

    def broken_rename(self: Path, target):
        raise OSError("killed")

    monkeypatch.setattr(Path, "rename", broken_rename)
    with pytest.raises(OSError, match="killed"):
        export_model(trained, out)
    monkeypatch.undo()
    assert (out / "config.json").is_file()


def test_the_exported_trainer_state_holds_no_optimizer_state(trained: Path, tmp_path: Path) -> None:
    out = export_model(trained, tmp_path / "model")
    state = json.loads((out / STATE_FILE).read_text())
    assert state["step"] == 7
    assert "optimizer" not in state.get("extra", {})
