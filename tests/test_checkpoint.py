"""Checkpoints: trainer and optimizer state round trips, atomic replacement with a backup, safetensors only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from diffill.time_conditioning import WEIGHTS, TimeEmbedding
from training.checkpoint import (
    CONFIG_FILE,
    OPTIMIZER_FILE,
    STATE_FILE,
    TrainerState,
    find_checkpoint,
    load_state,
    optimizer_tensors,
    restore_optimizer,
    save_checkpoint,
)
from training.modeling import ModelConfig, new_model

TINY = ModelConfig(hidden=32, layers=1, heads=1, intermediate=64, max_length=64)


@pytest.fixture(scope="module")
def tiny_lm(tiny_tokenizer):
    torch.manual_seed(0)
    return new_model(TINY, tiny_tokenizer)


def stepped(model: torch.nn.Module, steps: int = 1) -> torch.optim.AdamW:
    """An AdamW optimizer over ``model`` after ``steps`` steps, so it has moments to save."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for _ in range(steps):
        loss = sum((p.float() ** 2).sum() for p in model.parameters())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return optimizer


def same_optimizer_state(a: torch.optim.Optimizer, b: torch.optim.Optimizer) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    if sa["state"].keys() != sb["state"].keys():
        return False
    for pid, entries in sa["state"].items():
        if entries.keys() != sb["state"][pid].keys():
            return False
        if not all(torch.equal(torch.as_tensor(v), torch.as_tensor(sb["state"][pid][k])) for k, v in entries.items()):
            return False
    keys = ("lr", "eps", "weight_decay", "params")
    return all(ga[k] == gb[k] for ga, gb in zip(sa["param_groups"], sb["param_groups"]) for k in keys)


def test_optimizer_state_splits_into_tensors_and_scalars_and_back() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    optimizer = stepped(model, steps=2)
    live, scalars = optimizer_tensors(optimizer)
    tensors = {k: v.clone() for k, v in live.items()}  # on a CPU they share storage with the live moments
    assert set(tensors) == {f"{i}.{k}" for i in range(4) for k in ("exp_avg", "exp_avg_sq")}
    assert scalars["state"]["0"] == {"step": 2.0}
    json.dumps(scalars)  # the scalars go into the trainer state's JSON
    fresh = torch.optim.AdamW(model.parameters(), lr=5.0)
    restore_optimizer(fresh, tensors, scalars)
    assert same_optimizer_state(optimizer, fresh) and fresh.param_groups[0]["lr"] == 1e-3
    twin = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    twin.load_state_dict(model.state_dict())
    continued = torch.optim.AdamW(twin.parameters(), lr=5.0)
    restore_optimizer(continued, tensors, scalars)
    for m, opt in ((model, optimizer), (twin, continued)):  # one more step from the restored state
        sum((p**2).sum() for p in m.parameters()).backward()
        opt.step()
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), twin.parameters()))


def test_a_checkpoint_round_trips_trainer_and_optimizer_state(tmp_path: Path, tiny_lm, tiny_tokenizer) -> None:
    optimizer = stepped(tiny_lm)
    state = TrainerState(step=12, tokens_seen=340, tokens_processed=1000, train_seconds=2.5, best_loss=3.25)
    state.extra["hardware"] = "a test"
    path = tmp_path / "checkpoint"
    save_checkpoint(path, tiny_lm, tiny_tokenizer, optimizer, state, "# card\n", config={"lr": 1e-3})
    assert "optimizer" not in state.extra  # the caller's state is left as it was
    loaded, tensors, scalars = load_state(path)
    assert loaded == state
    assert tensors is not None and scalars is not None
    fresh = torch.optim.AdamW(tiny_lm.parameters(), lr=1.0)
    restore_optimizer(fresh, tensors, scalars)
    assert same_optimizer_state(optimizer, fresh)
    assert json.loads((path / CONFIG_FILE).read_text()) == {"lr": 1e-3}
    assert (path / "README.md").read_text() == "# card\n"
    assert (path / "config.json").is_file() and (path / "tokenizer.json").is_file()


def test_without_an_optimizer_only_the_trainer_state_is_saved(tmp_path: Path, tiny_lm, tiny_tokenizer) -> None:
    path = tmp_path / "ck"
    time = TimeEmbedding(TINY.hidden)
    save_checkpoint(path, tiny_lm, tiny_tokenizer, None, TrainerState(step=3), "card", time=time)
    loaded, tensors, scalars = load_state(path)
    assert loaded.step == 3 and tensors is None and scalars is None
    assert not (path / OPTIMIZER_FILE).exists() and not (path / CONFIG_FILE).exists()
    assert (path / WEIGHTS).is_file()


def test_a_checkpoint_is_replaced_whole(tmp_path: Path, tiny_lm, tiny_tokenizer) -> None:
    path = tmp_path / "checkpoint"
    save_checkpoint(path, tiny_lm, tiny_tokenizer, stepped(tiny_lm), TrainerState(step=1), "first", config={})
    save_checkpoint(path, tiny_lm, tiny_tokenizer, None, TrainerState(step=2), "second")
    assert load_state(path)[0].step == 2 and (path / "README.md").read_text() == "second"
    assert not (path / OPTIMIZER_FILE).exists() and not (path / CONFIG_FILE).exists()  # nothing stale is left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]  # no temporary directory or backup


def test_a_crash_between_the_renames_leaves_the_backup_to_resume_from(
    tmp_path: Path, tiny_lm, tiny_tokenizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "checkpoint"
    save_checkpoint(path, tiny_lm, tiny_tokenizer, None, TrainerState(step=1), "first")
    rename = Path.rename

    def crash_on_the_second(self: Path, target):
        if self.name.endswith(".tmp"):
            raise OSError("killed")
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", crash_on_the_second)
    with pytest.raises(OSError, match="killed"):
        save_checkpoint(path, tiny_lm, tiny_tokenizer, None, TrainerState(step=2), "second")
    monkeypatch.undo()
    assert not path.exists()
    found = find_checkpoint(path)
    assert found == tmp_path / ".checkpoint.old" and load_state(found)[0].step == 1
    save_checkpoint(path, tiny_lm, tiny_tokenizer, None, TrainerState(step=3), "third")  # the next save recovers
    assert find_checkpoint(path) == path and not (tmp_path / ".checkpoint.old").exists()


def test_find_checkpoint_wants_a_trainer_state(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint"
    assert find_checkpoint(path) is None
    path.mkdir()
    (path / "config.json").write_text("{}")  # a folder without its state is not a checkpoint
    assert find_checkpoint(path) is None
    old = tmp_path / ".checkpoint.old"
    old.mkdir()
    (old / STATE_FILE).write_text(json.dumps({"step": 4}))
    assert find_checkpoint(path) == old
    (path / STATE_FILE).write_text(json.dumps({"step": 5}))
    assert find_checkpoint(path) == path


def test_only_safetensors_and_text_are_written(tmp_path: Path, tiny_lm, tiny_tokenizer) -> None:
    path = tmp_path / "checkpoint"
    time = TimeEmbedding(TINY.hidden)
    save_checkpoint(path, tiny_lm, tiny_tokenizer, stepped(tiny_lm), TrainerState(), "card", time=time, config={})
    files = sorted(p for p in path.rglob("*") if p.is_file())
    assert {p.suffix for p in files} <= {".safetensors", ".json", ".md", ".txt"}
    assert any(p.name.startswith("model") and p.suffix == ".safetensors" for p in files)
    for p in files:  # torch.save writes a zip archive or a bare pickle; neither may appear
        head = p.read_bytes()[:2]
        assert head != b"PK" and head[:1] != b"\x80", p.name
