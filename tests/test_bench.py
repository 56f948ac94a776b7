"""``python -m benchmarks.engine --quick`` on a tiny model: the report's structure (never timings), variants, caps."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import BENCHMARKS, NO_BENCHMARKS

from benchmarks.engine.run import contexts, main
from benchmarks.engine.variants import PLAIN_STEPS, VariantError, parse_variant, parse_variants
from diffill.infill import FillOptions

BENCH = BENCHMARKS


def test_variant_specs() -> None:
    assert parse_variant("plain").apply(FillOptions()).denoise.steps == PLAIN_STEPS
    assert parse_variant("default").apply(FillOptions(line_length=5)) == FillOptions(line_length=5)
    fast = parse_variant("steps=8,threshold=0.9,cache=4,neighbours=2,window=128").apply(FillOptions(single_line=True))
    assert (fast.denoise.steps, fast.denoise.threshold) == (8, 0.9)
    assert (fast.cache.refresh_every, fast.cache.neighbours, fast.window, fast.single_line) == (4, 2, 128, True)
    assert parse_variant("baseline").apply(FillOptions()).denoise.threshold is None
    with_syntax = parse_variant("default,syntax=1").apply(FillOptions())
    assert with_syntax.syntax_check is not None and with_syntax.denoise == FillOptions().denoise
    assert parse_variant("default,end=0.5").apply(FillOptions()).end_probability == 0.5
    assert parse_variant("end=0").apply(FillOptions()).end_probability is None
    fewer = parse_variant("default,steps=8").apply(FillOptions())
    assert fewer.denoise == replace(FillOptions().denoise, steps=8) and fewer.cache == FillOptions().cache
    narrow = parse_variant("default,neighbours=0").apply(FillOptions())
    assert narrow.cache == replace(FillOptions().cache, neighbours=0) and narrow.denoise == FillOptions().denoise
    assert parse_variant("cache=4").apply(FillOptions()).cache.neighbours == 0
    for bad in ("fast", "steps=x", "speed=3", "threshold=2", "default,cache=3"):
        with pytest.raises(VariantError):
            parse_variant(bad)
    assert [v.name for v in parse_variants(["default"])] == ["plain", "default"]


def test_contexts_beyond_the_window_are_capped_and_said_so() -> None:
    assert contexts((256, 512, 1024), 512) == [
        {"requested": 256, "used": 256, "capped": False},
        {"requested": 512, "used": 512, "capped": False},
        {"requested": 1024, "used": 512, "capped": True},
    ]


@pytest.mark.skipif(not BENCH.is_dir(), reason=NO_BENCHMARKS)
def test_quick_bench_writes_its_report(tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "bench"
    code = main(
        [
            "--quick",
            "--model",
            str(tiny_model_dir),
            "--device",
            "cpu",
            "--out",
            str(out),
            "--contexts",
            "64,1024",
            "--quality-tasks",
            "2",
            "--large-file-lines",
            "300",
        ]
    )
    assert code == 0
    record = json.loads((out / "bench.json").read_text())
    for key in (
        "hardware",
        "device",
        "dtype",
        "threads",
        "model",
        "contexts",
        "cases",
        "variants",
        "latency",
        "speedup",
        "quality",
        "layout",
        "targets",
    ):
        assert key in record, key
    assert record["quick"] is True and record["model"]["max_length"] == 256
    assert record["contexts"][1] == {"requested": 1024, "used": 256, "capped": True}
    assert set(record["variants"]) == {"plain", "default"}
    assert set(record["cases"]) == {"ghost", "hole128", "three-holes", "rewrite20"}
    rows = record["latency"]
    assert len(rows) == 2 * 4 * 2  # contexts x cases x variants
    timed = [r for r in rows if "p50_ms" in r]
    assert timed, "nothing was timed"
    for row in timed:
        assert row["p95_ms"] >= row["p50_ms"] > 0 and row["masked"] > 0 and row["width"] <= row["window"]
    assert any("skipped" in r for r in rows if r["context"] == 64)  # a 128-token hole does not fit in 64
    assert all(r["variant"] != "plain" for r in record["speedup"])
    assert set(record["quality"]) == {"plain", "default"}
    for q in record["quality"].values():
        assert q["tasks"] == 2 and 0 <= q["pass_at_1"] <= 1 and 0 <= q["exact_match"] <= 1
    assert record["layout"]["lines"] == 300
    assert (out / "summary.md").read_text().startswith("# diffill bench")
    assert (out / "latency_vs_context.png").stat().st_size > 0
    assert (out / "quality_vs_latency.png").stat().st_size > 0
    assert "| case | context |" in capsys.readouterr().out
