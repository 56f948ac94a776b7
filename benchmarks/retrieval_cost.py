"""What repository context costs: index build time and size, retrieval latency, and in-file room given up.

For each project of the built repository benchmark, index its workspace as ``diffill fill --workspace``
does, then for every task ask for the context of its hole, timing the search and the rendering. A window
holds ``max_length`` tokens; a task whose file (prefix + suffix) fills it gives the context up to the
budget's tokens of its own in-file room, a shorter file first gives its free room (``diffill.window``'s
``context_ids``). This script reports the in-file tokens given up at each budget, their mean over the
tasks and the share of tasks that give any.

    python -m benchmarks.retrieval_cost --out benchmarks/results/repo-bench/retrieval_cost.json
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from benchmarks.repo_bench.taskfile import load_tasks
from benchmarks.results_file import write_results
from diffill.model_dir import default_model_dir
from diffill.retrieval.workspace import Workspace

BUDGETS = (32, 64, 128, 256)
WINDOW = 512  # the bundled model's window, in tokens
HOLE_ROOM = 32  # tokens a single-line hole and its marks take in the window


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure_project(bench: Path, project: str, tasks: list[Any], count: Any) -> dict[str, Any]:
    started = time.perf_counter()
    workspace = Workspace.load(bench / project / "workspace")
    workspace.index.rebuild()  # the BM25 index is built on the first search otherwise
    build_s = time.perf_counter() - started
    latencies: list[float] = []
    context_tokens: list[int] = []
    file_tokens: list[int] = []
    for task in tasks:
        text = task.prompt + task.suffix
        started = time.perf_counter()
        context = workspace.context(text, len(task.prompt), WINDOW, count)
        latencies.append((time.perf_counter() - started) * 1000)
        context_tokens.append(count(context) if context else 0)
        file_tokens.append(count(text))
    room = WINDOW - HOLE_ROOM
    cost = {}
    for budget in BUDGETS:
        taken = []
        for c, f in zip(context_tokens, file_tokens):
            free = max(0, room - f)  # a short file's free room: the context takes it at no cost
            taken.append(max(0, min(c, max(free, budget)) - free))
        cost[str(budget)] = {
            "mean_in_file_tokens_given_up": round(statistics.mean(taken), 1),
            "tasks_paying": round(sum(t > 0 for t in taken) / len(taken), 3),
        }
    return {
        "tasks": len(tasks),
        "index_build_s": round(build_s, 2),
        "index_files": len(workspace.index),
        "index_bytes": workspace.index.bytes,
        "retrieval_ms_p50": round(percentile(latencies, 0.5), 2),
        "retrieval_ms_p95": round(percentile(latencies, 0.95), 2),
        "context_tokens_mean": round(statistics.mean(context_tokens), 1),
        "files_filling_the_window": round(sum(f >= room for f in file_tokens) / len(file_tokens), 3),
        "budgets": cost,
    }


def markdown(result: dict[str, Any]) -> str:
    head = "| project | tasks | index build | files (bytes) | retrieval p50 / p95 | files filling the window |"
    head += "".join(f" given up at {b} |" for b in BUDGETS)
    rows = [head, "|---" * (6 + len(BUDGETS)) + "|"]
    for name, r in result["projects"].items():
        cells = [
            name,
            str(r["tasks"]),
            f"{r['index_build_s']} s",
            f"{r['index_files']} ({r['index_bytes'] / 1e6:.2f} MB)",
            f"{r['retrieval_ms_p50']} / {r['retrieval_ms_p95']} ms",
            f"{r['files_filling_the_window']:.0%}",
        ]
        for b in BUDGETS:
            c = r["budgets"][str(b)]
            cells.append(f"{c['mean_in_file_tokens_given_up']} tok ({c['tasks_paying']:.0%} of tasks)")
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", type=Path, default=Path("data/repo-bench"), help="the built repository benchmark")
    parser.add_argument("--out", type=Path, required=True, help="results JSON (a .md beside it)")
    args = parser.parse_args()
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(default_model_dir() / "tokenizer.json"))

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    tasks = load_tasks(args.bench / "tasks.jsonl")
    projects = sorted({t.repo for t in tasks})
    result: dict[str, Any] = {"window": WINDOW, "budgets": list(BUDGETS), "projects": {}}
    for project in projects:
        own = [t for t in tasks if t.repo == project]
        result["projects"][project] = measure_project(args.bench, project, own, count)
    write_results(result, args.out, markdown(result), echo=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
