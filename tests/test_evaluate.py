"""Benchmark loading, multi-hole variants, the harness on real HumanEval tasks, reports and plots."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from diffill.tasks import load_samples
from training.benchmarks import (
    BENCHMARKS,
    ENV_BENCHMARKS,
    BenchmarkError,
    InfillTask,
    MultiHoleTask,
    join_holes,
    load_tasks,
    make_multi_hole_tasks,
    problem_id,
    resolve_benchmark,
)
from training.evaluate import (
    EvaluationError,
    build_program,
    canonical_fill,
    canonical_multi_fill,
    empty_fill,
    evaluate_multi_hole,
    evaluate_samples,
    evaluate_tasks,
    write_report,
)
from training.plots import plot_quality_vs_steps

TASK = {
    "task_id": "Toy/HumanEval/0/L0",
    "prompt": "def one():\n",
    "suffix": "",
    "canonical_solution": "    return 1\n",
    "test": "def check(candidate):\n    assert candidate() == 1\n",
    "entry_point": "one",
}


def _write_jsonl(path: Path, rows: list[object], gz: bool = False) -> Path:
    text = "".join(r if isinstance(r, str) else json.dumps(r) + "\n" for r in rows)
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def single_line() -> list[InfillTask]:
    try:
        return load_tasks(resolve_benchmark("single-line"))
    except BenchmarkError as e:
        pytest.skip(f"{e}: get HumanEval-infilling from github.com/openai/human-eval-infilling")


# --- loading -------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_load_tasks(tmp_path: Path, gz: bool) -> None:
    rows = [TASK, "\n", {**TASK, "task_id": "Toy/HumanEval/0/L1"}]
    path = _write_jsonl(tmp_path / ("t.jsonl.gz" if gz else "t.jsonl"), rows, gz=gz)
    tasks = load_tasks(path)
    assert [t.task_id for t in tasks] == ["Toy/HumanEval/0/L0", "Toy/HumanEval/0/L1"]
    assert tasks[0] == InfillTask(**TASK)
    assert len(load_tasks(path, limit=1)) == 1


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("{not json\n", "t.jsonl:2: invalid JSON"),
        ("[1, 2]\n", "t.jsonl:2: expected a JSON object"),
        ({k: v for k, v in TASK.items() if k != "test"}, "t.jsonl:2: missing field(s) test"),
        ({**TASK, "prompt": 3}, "t.jsonl:2: field(s) prompt must be strings"),
        (TASK, "t.jsonl:2: duplicate task_id"),
    ],
)
def test_malformed_tasks(tmp_path: Path, row: object, message: str) -> None:
    path = _write_jsonl(tmp_path / "t.jsonl", [TASK, row])
    with pytest.raises(BenchmarkError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_tasks(path)


def test_missing_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(BenchmarkError, match="no such file"):
        load_tasks(tmp_path / "absent.jsonl")
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(b"not gzip at all")
    with pytest.raises(BenchmarkError, match="cannot read"):
        load_tasks(bad)


def test_load_samples(tmp_path: Path) -> None:
    path = _write_jsonl(
        tmp_path / "s.jsonl", [{"task_id": "a", "completion": "x\n"}, {"task_id": "b", "completion": ""}]
    )
    assert load_samples(path) == {"a": "x\n", "b": ""}
    _write_jsonl(path, [{"task_id": "a"}])
    with pytest.raises(BenchmarkError, match="missing field"):
        load_samples(path)


def test_resolve_benchmark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / BENCHMARKS["single-line"]).write_bytes(b"")
    assert resolve_benchmark("single-line", root=tmp_path) == tmp_path / BENCHMARKS["single-line"]
    monkeypatch.setenv(ENV_BENCHMARKS, str(tmp_path))
    assert resolve_benchmark("single-line") == tmp_path / BENCHMARKS["single-line"]
    with pytest.raises(BenchmarkError, match=ENV_BENCHMARKS):
        resolve_benchmark("multi-line")
    own = _write_jsonl(tmp_path / "mine.jsonl", [TASK])
    assert resolve_benchmark(str(own)) == own
    with pytest.raises(BenchmarkError, match="unknown benchmark"):
        resolve_benchmark("no-such-benchmark")


def test_problem_id() -> None:
    assert problem_id("SingleLineInfilling/HumanEval/12/L3") == "HumanEval/12"
    with pytest.raises(BenchmarkError):
        problem_id("test/0")


# --- the harness on real tasks -------------------------------------------------------------------


def test_canonical_passes_and_empty_fails_on_real_tasks(single_line: list[InfillTask]) -> None:
    sample = single_line[::52][:20]  # 20 tasks spread over the problems
    report = evaluate_tasks(sample, canonical_fill, batch_size=8, timeout_s=5)
    failures = [(r.task_id, r.detail) for r in report.records if not r.passed]
    assert not failures
    assert report.summary["exact_match"] == 1.0 and report.summary["parse_rate"] == 1.0
    empty = evaluate_tasks(sample, empty_fill, timeout_s=3)
    assert empty.summary["passed"] <= 3


def test_fill_fn_gets_batches_and_must_answer_each(single_line: list[InfillTask]) -> None:
    sizes: list[int] = []

    def fill(batch: list[InfillTask]) -> list[str]:
        sizes.append(len(batch))
        return [t.canonical_solution for t in batch]

    report = evaluate_tasks(single_line[:5], fill, batch_size=2)
    assert sizes == [2, 2, 1] and report.summary["passed"] == 5
    with pytest.raises(EvaluationError, match="returned 1 outputs for 2 tasks"):
        evaluate_tasks(single_line[:2], lambda batch: ["x"], batch_size=2)


def test_evaluate_samples(single_line: list[InfillTask]) -> None:
    tasks = single_line[:3]
    samples = {t.task_id: t.canonical_solution for t in tasks[:2]}
    with pytest.raises(EvaluationError, match="cover 2 of 3"):
        evaluate_samples(tasks, samples)
    report = evaluate_samples(tasks, samples, strict=False)
    assert report.summary["tasks"] == 2 and report.summary["passed"] == 2
    assert report.meta["missing_samples"] == 1
    with pytest.raises(EvaluationError, match="no sample matches"):
        evaluate_samples(tasks, {"other": ""})


def test_build_program_matches_the_benchmark_rule() -> None:
    task = InfillTask(**TASK)
    program = build_program(task, "    return 1\n")
    assert program == "def one():\n    return 1\n\n" + TASK["test"] + "\ncheck(one)\n"


def test_report_json_and_atomic_write(tmp_path: Path, single_line: list[InfillTask]) -> None:
    report = evaluate_tasks(single_line[:2], canonical_fill)
    report.meta["steps"] = 8
    path = write_report(report, tmp_path / "out" / "report.json")
    data = json.loads(path.read_text())
    assert data["summary"]["pass_at_1"] == 1.0 and data["meta"] == {"steps": 8}
    assert set(data["timing"]) >= {"fill_seconds", "exec_seconds"}
    assert [r["task_id"] for r in data["records"]] == [t.task_id for t in single_line[:2]]
    assert set(data["records"][0]) >= {"task_id", "completion", "passed", "status", "exact", "parses"}
    assert [p.name for p in path.parent.iterdir()] == ["report.json"]  # no temporary file left


# --- multi-hole variants -------------------------------------------------------------------------


def test_multi_hole_tasks_rebuild_the_solution(single_line: list[InfillTask]) -> None:
    tasks = make_multi_hole_tasks(single_line, holes=(2, 3), seed=0)
    assert len(tasks) > 100
    by_problem: dict[str, list[InfillTask]] = {}
    for t in single_line:
        by_problem.setdefault(problem_id(t.task_id), []).append(t)
    for task in tasks:
        group = by_problem[problem_id(task.task_id)]
        originals = {t.prompt + t.canonical_solution + t.suffix for t in group}
        assert task.program() in originals
        assert task.holes in (2, 3) and len(task.segments) == task.holes + 1
        assert all(s for s in task.segments[1:-1])  # holes are never adjacent
        assert set(task.answers) <= {t.canonical_solution for t in group}
        lines = task.program().splitlines(keepends=True)
        hole_lines = [len(join_holes(task.segments[: i + 1], task.answers[:i]).splitlines()) for i in range(task.holes)]
        assert len(set(hole_lines)) == task.holes
        assert [lines[i] for i in hole_lines] == list(task.answers)


def test_multi_hole_tasks_are_deterministic(single_line: list[InfillTask]) -> None:
    a = make_multi_hole_tasks(single_line, seed=3)
    assert a == make_multi_hole_tasks(single_line, seed=3)
    assert a != make_multi_hole_tasks(single_line, seed=4)
    one = make_multi_hole_tasks([t for t in single_line if problem_id(t.task_id) == "HumanEval/0"], seed=3)
    assert one == [t for t in a if problem_id(t.task_id) == "HumanEval/0"]  # a problem's holes stand alone
    assert {t.holes for t in make_multi_hole_tasks(single_line, holes=(2,), seed=0)} == {2}


def test_evaluate_multi_hole(single_line: list[InfillTask]) -> None:
    tasks = make_multi_hole_tasks(single_line, seed=0)[:4]
    report = evaluate_multi_hole(tasks, canonical_multi_fill, batch_size=3)
    assert report.summary["pass_at_1"] == 1.0 and report.summary["hole_exact_match"] == 1.0

    def first_hole_wrong(batch: list[MultiHoleTask]) -> list[list[str]]:
        return [["    pass\n", *t.answers[1:]] for t in batch]

    wrong = evaluate_multi_hole(tasks, first_hole_wrong)
    assert wrong.summary["all_holes_exact_match"] == 0.0
    assert all(r.exact[1:] == (True,) * (len(r.exact) - 1) for r in wrong.records)
    with pytest.raises(EvaluationError, match="completions for"):
        evaluate_multi_hole(tasks, lambda batch: [["x"] for _ in batch])


# --- plots ---------------------------------------------------------------------------------------


def test_plot_quality_vs_steps(tmp_path: Path) -> None:
    import matplotlib

    backend = matplotlib.get_backend()
    results = [(8, {"pass_at_1": 0.1, "exact_match": 0.05}), (2, {"pass_at_1": 0.02, "exact_match": 0.0})]
    path = plot_quality_vs_steps(results, tmp_path / "steps.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert matplotlib.get_backend() == backend
    with pytest.raises(ValueError):
        plot_quality_vs_steps([], tmp_path / "none.png")
