"""The training path end to end on a tiny corpus: loss goes down, the checkpoint reloads and fills."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from diffill.holes import find_holes
from diffill.infill import FillOptions, Infiller
from diffill.model import load_model
from training.data import DataConfig
from training.modeling import ModelConfig
from training.train import TrainConfig, Trainer, truncate_log

TINY = ModelConfig(hidden=64, layers=2, heads=2, intermediate=128, max_length=256)


def tiny_config(corpus: Path, tokenizer: Path, out: Path, **kw) -> TrainConfig:
    base = dict(
        corpus=corpus,
        tokenizer=tokenizer,
        out=out,
        model=TINY,
        data=DataConfig(max_length=256, max_middle=48),
        batch_size=8,
        steps=80,
        lr=3e-3,
        warmup=10,
        checkpoint_every=40,
        log_every=10,
        bf16=False,
    )
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def trained(tiny_corpus: Path, tiny_tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    Trainer(tiny_config(tiny_corpus, tiny_tokenizer_dir, out)).run()
    return out


def test_loss_goes_down(trained: Path) -> None:
    with (trained / "train_log.csv").open() as f:
        losses = [float(r["loss"]) for r in csv.DictReader(f)]
    assert len(losses) == 8
    assert sum(losses[-2:]) / 2 < losses[0] - 0.5


def test_run_writes_checkpoint_card_and_plot(trained: Path) -> None:
    ckpt = trained / "checkpoint"
    for name in ("config.json", "tokenizer.json", "README.md", "trainer_state.json", "optimizer.safetensors"):
        assert (ckpt / name).is_file(), name
    assert list(ckpt.glob("*.safetensors"))
    assert not list(ckpt.glob("*.bin")) and not list(ckpt.glob("*.pt"))
    assert (trained / "loss.png").stat().st_size > 1000
    card = (ckpt / "README.md").read_text()
    assert "steps: 80" in card and "parameters" in card


def test_checkpoint_reloads_and_fills(trained: Path) -> None:
    lm = load_model(trained / "checkpoint", device="cpu", dtype="float32")
    text = "def total(items):\n    ???\n    return result\n"
    result = Infiller(lm).fill(text, find_holes(text), FillOptions())
    assert "???" not in result.text
    # The tiny model may fill the hole with nothing: the line is then blank, never differently indented.
    assert result.text.startswith("def total(items):\n") and result.text.endswith("\n    return result\n")
    middle = result.text.splitlines()[1:-1]
    assert middle and all(not line or line.startswith("    ") for line in middle), result.text


def test_resume_continues_where_it_stopped(tiny_corpus: Path, tiny_tokenizer_dir: Path, tmp_path: Path) -> None:
    """A killed run resumed (with batches built by 2 worker processes) ends with the uninterrupted run's weights."""
    full = Trainer(tiny_config(tiny_corpus, tiny_tokenizer_dir, tmp_path / "a", steps=20, checkpoint_every=10))
    full.run()
    Trainer(tiny_config(tiny_corpus, tiny_tokenizer_dir, tmp_path / "b", steps=10, checkpoint_every=10)).run()
    resumed = Trainer(
        tiny_config(
            tiny_corpus, tiny_tokenizer_dir, tmp_path / "b", steps=20, checkpoint_every=10, resume=True, data_workers=2
        )
    )
    assert resumed.state.step == 10
    resumed.run()
    import torch

    for (name, a), (_, b) in zip(full.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.allclose(a, b, atol=1e-5), name


def test_truncate_log_keeps_rows_up_to_the_resumed_step(tmp_path: Path) -> None:
    log = tmp_path / "train_log.csv"
    rows = "".join(f"{i},{5 - i / 10},0.001,{i * 100},{i}.0\n" for i in range(1, 11))
    log.write_text("step,loss,lr,tokens_seen,train_seconds\n" + rows + "11,4.")  # a torn last row
    truncate_log(log, 6)
    with log.open() as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == [1, 2, 3, 4, 5, 6]
    assert not list(tmp_path.glob(".*.tmp"))
    truncate_log(log, 0)  # a fresh run into the same directory starts a new log
    assert not log.exists()
    truncate_log(log, 3)  # nothing to cut


def test_resumed_run_logs_each_step_once(tiny_corpus: Path, tiny_tokenizer_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    Trainer(tiny_config(tiny_corpus, tiny_tokenizer_dir, out, steps=4, checkpoint_every=4, log_every=1)).run()
    with (out / "train_log.csv").open("a") as f:  # rows a killed run logged after its last checkpoint
        f.writelines(f"{i},9.0,0.001,0,1.0\n" for i in (5, 6))
    resumed = Trainer(
        tiny_config(tiny_corpus, tiny_tokenizer_dir, out, steps=7, checkpoint_every=4, log_every=1, resume=True)
    )
    resumed.run()
    with (out / "train_log.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == list(range(1, 8)) and all(float(r["loss"]) < 9 for r in rows)


def test_time_conditioned_model_trains_saves_and_fills(
    tiny_corpus: Path, tiny_tokenizer_dir: Path, tmp_path: Path
) -> None:
    cfg = tiny_config(
        tiny_corpus,
        tiny_tokenizer_dir,
        tmp_path,
        steps=12,
        checkpoint_every=12,
        time_conditioning=True,
        schedule="spindle",
        loss_weighting="elbo",
    )
    trainer = Trainer(cfg)
    trainer.run()
    assert trainer.time is not None and float(trainer.time.mlp[2].weight.detach().abs().sum()) > 0  # it learned
    lm = load_model(tmp_path / "checkpoint", device="cpu", dtype="float32")
    assert lm.time is not None
    text = "def f(x):\n    ???\n"
    assert "???" not in Infiller(lm).fill(text, find_holes(text), FillOptions()).text


def test_elbo_bound_is_finite_and_better_than_uniform(trained: Path, tiny_corpus: Path) -> None:
    import math

    from training.data import DataConfig, encode_examples, read_shards
    from training.elbo import elbo_bound
    from training.schedules import LinearSchedule
    from training.train import special_ids

    lm = load_model(trained / "checkpoint", device="cpu", dtype="float32")
    examples = encode_examples(list(read_shards(tiny_corpus, "train"))[:12], lm.tokenizer)
    result = elbo_bound(
        lm,
        examples,
        special_ids(lm.tokenizer),
        LinearSchedule(),
        DataConfig(max_length=256),
        t_points=4,
        progress=False,
    )
    again = elbo_bound(
        lm,
        examples,
        special_ids(lm.tokenizer),
        LinearSchedule(),
        DataConfig(max_length=256),
        t_points=4,
        progress=False,
    )
    assert result == again  # deterministic for a seed
    assert result.tokens > 0 and 0 < result.nats_per_token < math.log(len(lm.tokenizer))


def test_eval_command_writes_reports_plots_and_card(trained: Path, tiny_corpus: Path, tmp_path: Path) -> None:
    import json
    import shutil

    from training.cli import main

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(tiny_corpus / "train-00000.jsonl.gz", corpus / "val-00000.jsonl.gz")
    model = tmp_path / "model"
    shutil.copytree(trained / "checkpoint", model)
    out = tmp_path / "eval"
    tasks = Path(__file__).parent / "fixtures" / "eval" / "single-line.jsonl"  # our own small tasks
    code = main(
        [
            "eval",
            "--model",
            str(model),
            "--tasks",
            str(tasks),
            "--limit",
            "4",
            "--out",
            str(out),
            "--oracle-length",
            "--steps-sweep",
            "2,4",
            "--multi-hole",
            "--elbo-corpus",
            str(corpus),
            "--elbo-examples",
            "4",
            "--device",
            "cpu",
            "--card",
        ]
    )
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    for key in (
        "single-line/unknown-length/steps2",
        "single-line/oracle-length/steps4",
        "multi-hole/joint",
        "multi-hole/one-at-a-time",
        "elbo/heldout",
    ):
        assert key in summary, key
    assert summary["single-line/unknown-length/steps4"]["tasks"] == 4
    assert (out / "quality-vs-steps-single-line-unknown.png").is_file()
    assert "## Scores" in (model / "README.md").read_text() and (model / "scores.json").is_file()
