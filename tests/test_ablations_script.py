"""scripts/ablations.py: the training budget's flags, and the table that averages a variant's seeds."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "ablations.py"


@pytest.fixture(scope="module")
def ablations():
    spec = importlib.util.spec_from_file_location("ablations_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def _row(variant: str, seed: int, elbo: float, passed: float, steps: int = 360) -> dict:
    return {
        "variant": variant,
        "seed": seed,
        "steps": steps,
        "tokens": steps * 1000,
        "elbo_nats": elbo,
        "pass_unknown": passed,
        "pass_oracle": passed,
        "exact_unknown": 0.0,
        "parse_unknown": 0.5,
    }


def test_budget_flags(ablations) -> None:
    assert ablations.Budget(7, 360).flags() == ["--steps", "360"]
    assert ablations.Budget(7, None).flags() == ["--steps", "1000000", "--max-minutes", "7"]
    assert ablations.Budget(7, 360).describe() == "360 steps"
    assert ablations.Budget(6.5, None).describe() == "6.5 min of training"


def test_table_averages_seeds_and_lists_each_elbo(ablations) -> None:
    rows = [
        _row("baseline", 0, 2.20, 0.02),
        _row("spindle", 0, 2.50, 0.01),
        _row("baseline", 1, 2.30, 0.04, steps=362),
        _row("spindle", 1, 2.40, 0.01),
    ]
    text = ablations.table(rows, ablations.Budget(7, 360), 200)
    lines = [line for line in text.splitlines() if line.startswith("| baseline") or line.startswith("| spindle")]
    assert [line.split(" | ")[0] for line in lines] == ["| baseline", "| spindle"]  # first-seen order
    baseline = lines[0].split(" | ")
    assert baseline[1] == "361"  # mean steps
    assert baseline[3] == "2.250 (2.200 / 2.300)"  # mean ELBO, then seed 0 / seed 1
    assert baseline[4] == "3.0%"  # mean pass@1
    assert "means over training seeds 0, 1" in text


def test_table_of_one_seed_has_no_spread(ablations) -> None:
    text = ablations.table([_row("baseline", 0, 2.255, 0.015)], ablations.Budget(7, None), 200)
    assert "| 2.255 |" in text
    assert "seeds" not in text
    assert "7 min of training each" in text
