"""The model card: rendered from what a checkpoint directory holds, with or without its optional files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from training.model_card import card_for, count_weights, render_card, scores_section

CONFIG = {
    "model": {"hidden": 32, "layers": 2, "heads": 4, "intermediate": 64, "max_length": 256},
    "schedule": "spindle",
    "loss_weighting": "elbo",
    "batch_size": 16,
    "lr": 0.0005,
    "warmup": 100,
}
STATE = {
    "step": 1234,
    "tokens_seen": 5000,
    "tokens_processed": 20000,
    "train_seconds": 90.0,
    "extra": {"hardware": "2 CPU cores"},
}
STATS = {
    "files_kept": 1500,
    "bytes_kept": 2_000_000,
    "chunks": 300,
    "spans": 900,
    "dropped": {"too_long": 3, "decontaminated": 2},
}
LICENSES = {
    "kept": {
        "MIT": {"files": 10, "bytes": 500, "sources": {"site-packages:attrs": 5, "site-packages:idna": 5}},
        "PSF-2.0": {"files": 40, "bytes": 9000, "sources": {"stdlib": 40}},
        "BSD-3-Clause": {"files": 2, "bytes": 100, "sources": {"vendored": 2}},
    },
    "excluded_files": {"GPL-3.0": 7},
}


def write_json(path: Path, value: object) -> Path:
    path.write_text(json.dumps(value))
    return path


def checkpoint(tmp_path: Path, **files: object) -> Path:
    """A checkpoint directory with weights of 17 parameters (3x4 + 5), a large optimizer file and ``files``."""
    path = tmp_path / "checkpoint"
    path.mkdir()
    save_file({"a": torch.zeros(3, 4), "b": torch.zeros(5)}, str(path / "model.safetensors"))
    save_file({"0.exp_avg": torch.zeros(1000)}, str(path / "optimizer.safetensors"))
    save_file({"mlp.weight": torch.zeros(10, 10)}, str(path / "time_embedding.safetensors"))
    for name, value in files.items():
        write_json(path / name, value)
    return path


def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus"
    path.mkdir()
    write_json(path / "stats.json", STATS)
    write_json(path / "licenses.json", LICENSES)
    return path


def test_weights_are_counted_without_optimizer_or_time_embedding(tmp_path: Path) -> None:
    path = checkpoint(tmp_path)
    assert count_weights(path) == 17
    save_file({"c": torch.zeros(2, 2, 2)}, str(path / "model-00002.safetensors"))  # shards add up
    assert count_weights(path) == 25
    assert count_weights(tmp_path / "nothing") == 0


def test_the_card_says_what_the_directory_holds(tmp_path: Path) -> None:
    config = {**CONFIG, "corpus": str(corpus(tmp_path))}
    scores = {
        "humaneval-single-line": {
            "setting": "greedy",
            "pass_at_1": 0.4567,
            "exact_match": 0.25,
            "parse_rate": 0.9,
            "tasks": 1033,
        }
    }
    card = card_for(
        checkpoint(tmp_path, **{"training_config.json": config, "trainer_state.json": STATE, "scores.json": scores})
    )
    assert card.startswith("# diffill masked-diffusion code model\n") and card.endswith("\n")
    assert "- parameters: 17 (0.0M)" in card
    assert "hidden 32, layers 2, heads 4, FFN 64, window 256 tokens" in card
    assert "noise schedule: spindle; loss weighting: elbo; time-agnostic" in card
    assert "- steps: 1,234, batch 16, peak lr 0.0005, warm-up 100 steps" in card
    assert "tokens seen: 20,000 through the model, 5,000 of them masked" in card
    assert "training time: 1.5 min on 2 CPU cores" in card
    assert "| humaneval-single-line | greedy | 45.7% | 25.0% | 90.0% | 1033 |" in card


def test_the_data_section_names_sources_licenses_and_what_was_dropped(tmp_path: Path) -> None:
    card = render_card({**CONFIG, "corpus": str(corpus(tmp_path))}, STATE, 17)
    assert "Sources: the Python standard library; the sources of 2 installed packages (attrs, idna); vendored." in card
    assert "- files kept: 1,500" in card and "- bytes: 2,000,000" in card and "- spans: 900" in card
    assert "tokens (estimate" not in card  # a statistic the corpus does not have is left out
    rows = [line for line in card.splitlines() if line.startswith(("| MIT", "| PSF", "| BSD"))]
    assert rows == ["| PSF-2.0 | 40 | 9,000 |", "| MIT | 10 | 500 |", "| BSD-3-Clause | 2 | 100 |"]  # by bytes
    assert "Excluded by license: GPL-3.0 (7 files)." in card
    assert "Dropped: decontaminated 2, too_long 3." in card


def test_an_exported_model_reads_its_copies_of_the_corpus_files(tmp_path: Path) -> None:
    model_dir = checkpoint(tmp_path, **{"corpus_stats.json": STATS, "corpus_licenses.json": LICENSES})
    card = render_card({**CONFIG, "corpus": str(tmp_path / "gone")}, STATE, 17, model_dir=model_dir)
    assert "Sources: the Python standard library" in card and "- files kept: 1,500" in card
    assert "Sources:" not in render_card({**CONFIG, "corpus": str(tmp_path / "gone")}, STATE, 17)


def test_missing_optional_files_leave_their_defaults(tmp_path: Path) -> None:
    path = checkpoint(
        tmp_path,
        **{
            "training_config.json": {
                "init": "answerdotai/ModernBERT-base",
                "time_conditioning": True,
                "corpus": str(tmp_path / "gone"),
            }
        },
    )
    card = card_for(path)
    assert "- initialised from answerdotai/ModernBERT-base" in card and "ModernBERT encoder" not in card
    assert "time-conditioned (learned time embedding)" in card
    assert "- steps: 0," in card and "training time: 0.0 min on unrecorded hardware" in card
    assert "Not evaluated yet" in card and "Sources:" not in card
    (path / "scores.json").write_text("not json")  # unreadable is treated as absent
    assert card_for(path) == card


def test_a_directory_without_a_training_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"training_config\.json"):
        card_for(checkpoint(tmp_path, **{"trainer_state.json": STATE}))


def test_scores_show_pass_rates_and_elbo_bounds() -> None:
    lines = scores_section(
        {
            "single": {"setting": "s", "pass_at_1": 0.5, "hole_exact_match": 0.125, "parse_rate": 1.0, "tasks": 8},
            "heldout": {"setting": "elbo", "elbo_nats_per_token": 1.23456, "elbo_perplexity_bound": 3.4367, "tasks": 4},
        }
    )
    assert "| single | s | 50.0% | 12.5% | 100.0% | 8 |" in lines
    assert "| heldout | elbo | ELBO 1.235 nats/token, perplexity <= 3.44 | | | 4 |" in lines
    assert scores_section({})[2].startswith("Not evaluated yet")


def test_a_config_without_a_corpus_reads_nothing_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(corpus(tmp_path))
    assert "Sources:" not in render_card(CONFIG, STATE, 17)
