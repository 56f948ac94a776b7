"""`diffill fill` end to end on the bundled default model."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import NO_BENCHMARKS

from diffill.holes import find_holes
from diffill.infill import FillOptions, Infiller
from diffill.model import load_model
from diffill.model_dir import default_model_dir
from diffill.syntax import check_for
from lsp_server.cli import main
from training.benchmarks import benchmarks_root

FIXTURE = Path(__file__).parent / "fixtures" / "cli" / "holes.py"
BENCH = benchmarks_root()  # $DIFFILL_BENCHMARKS or ../shared/benchmarks/humaneval-infilling


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_bundled_model_is_in_the_package() -> None:
    model_dir = default_model_dir()
    assert (model_dir / "config.json").is_file() and list(model_dir.glob("*.safetensors"))
    assert (model_dir / "README.md").is_file(), "the bundled model needs its model card"
    assert sum(f.stat().st_size for f in model_dir.iterdir()) < 60e6


def test_fill_leaves_no_hole_and_parses(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["fill", str(FIXTURE), "--device", "cpu"], capsys)
    assert code == 0, err
    assert "???" not in out
    ast.parse(out)
    assert out.startswith("import os\n\n\ndef greet(name):\n")


def test_cli_matches_the_engine_for_the_same_seed(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["fill", str(FIXTURE), "--device", "cpu", "--seed", "3", "--steps", "8"], capsys)
    text = FIXTURE.read_text()
    lm = load_model(None, device="cpu")
    from diffill.denoise import DenoiseConfig

    options = FillOptions(DenoiseConfig(steps=8), syntax_check=check_for(path=FIXTURE))
    expected = Infiller(lm).fill(text, find_holes(text), options, seed=3).text
    assert code == 0 and out == expected


def test_in_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "t.py"
    shutil.copy(FIXTURE, target)
    code, out, _ = run_cli(["fill", str(target), "--in-place", "--device", "cpu"], capsys)
    assert code == 0 and out == ""
    assert "???" not in target.read_text()


def test_region_rewrite_changes_only_the_region(capsys: pytest.CaptureFixture[str]) -> None:
    text = FIXTURE.read_text()
    code, out, err = run_cli(
        ["fill", str(FIXTURE), "--region", "5:5-5:31", "--strength", "1", "--device", "cpu"], capsys
    )
    assert code == 0, err
    lines = text.split("\n")
    head, tail = "\n".join(lines[:4]) + "\n    ", "\n" + "\n".join(lines[5:])
    assert out.startswith(head) and out.endswith(tail)


def test_a_file_that_does_not_parse_is_filled_with_one_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("def f(x:\n    return ???\n")
    code, out, err = run_cli(["fill", str(broken), "--device", "cpu", "--steps", "2"], capsys)
    assert code == 0 and out.startswith("def f(x:\n    return ")
    assert err.splitlines() == [
        f"diffill: warning: {broken} does not parse (line 1: '(' was never closed); filling it anyway"
    ]
    code, _, err = run_cli(["fill", str(FIXTURE), "--device", "cpu", "--steps", "2"], capsys)
    assert code == 0 and err == ""  # its holes count as code


def test_markers_in_strings_and_comments_stay_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "t.py"
    target.write_text('def ask():\n    """Really???"""\n    s = "what???"  # ???\n    return ???\n')
    code, out, err = run_cli(["fill", str(target), "--in-place", "--device", "cpu", "--steps", "2"], capsys)
    assert code == 0 and out == "" and err == ""
    filled = target.read_text()
    assert filled.startswith('def ask():\n    """Really???"""\n    s = "what???"  # ???\n    return ')
    assert filled.count("???") == 3


def test_holes_in_strings_fills_those_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "t.py"
    target.write_text('def ask():\n    s = "what???"  # ???\n    return ???\n')
    args = ["fill", str(target), "--holes-in-strings", "--device", "cpu", "--steps", "2"]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    assert "???" not in out and out.startswith("def ask():\n    s = ")


@pytest.mark.skipif(not BENCH.is_dir(), reason=NO_BENCHMARKS)
def test_tasks_batch_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "samples.jsonl"
    tasks = BENCH / "HumanEval-SingleLineInfilling.jsonl.gz"
    code, _, err = run_cli(
        ["fill", "--tasks", str(tasks), "--out", str(out_file), "--limit", "3", "--device", "cpu"], capsys
    )
    assert code == 0, err
    rows = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert [r["task_id"] for r in rows] == [f"SingleLineInfilling/HumanEval/0/L{i}" for i in range(3)]
    assert all(isinstance(r["completion"], str) for r in rows)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fill", "/nonexistent/file.py"], "no such file"),
        (["fill", "{plain}"], "no '???' hole"),
        (["fill", "{fixture}", "--model", "/nonexistent"], "model directory not found"),
        (["fill", "{fixture}", "--model", "{tests}"], "no config.json"),
        (["fill", "{fixture}", "--region", "99:1-100:1"], "outside the file"),
        (["fill", "{fixture}", "--region", "nonsense"], "invalid region"),
        (["fill", "{fixture}", "--steps", "0"], "steps must be"),
        (["fill", "--tasks", "{fixture}"], "--out"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    plain = tmp_path / "plain.py"
    plain.write_text("x = 1\n")
    args = [a.format(plain=plain, fixture=FIXTURE, tests=Path(__file__).parent) for a in args]
    proc = subprocess.run([sys.executable, "-m", "lsp_server.cli", *args], capture_output=True, text=True)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in proc.stderr
