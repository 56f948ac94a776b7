"""Quality next to speed: pass@1 and exact match on a fixed subset of HumanEval single-line infilling.

The subset is every k-th task of the benchmark (spread over all problems; the first tasks in file order all
come from the first few problems), filled through ``fill_pairs`` (the path of ``diffill fill --tasks`` and
``diffill-train eval``) and scored by ``training.evaluate`` (programs run in its sandbox).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from benchmarks.engine.measure import type_up_to
from diffill.batch import fill_pairs
from diffill.holes import Span
from diffill.infill import FillOptions, Infiller


def subset(count: int) -> list:
    """``count`` tasks spread evenly over the single-line benchmark, always the same ones."""
    from training.benchmarks import load_tasks, resolve_benchmark

    tasks = load_tasks(resolve_benchmark("single-line"))
    stride = max(1, len(tasks) // max(count, 1))
    return tasks[::stride][:count]


def score(
    infiller: Infiller, tasks: list, options: FillOptions, batch_size: int, workers: int = 2, warm: int = 0
) -> dict[str, Any]:
    """Fill ``tasks`` with ``options`` (single-line, as the benchmark is scored) and run their tests.

    ``warm`` N: each task is filled alone, after the N requests typed before it (``typed_before``), so its
    fill starts from the states they left (with ``options.cache.reuse``).
    """
    from training.evaluate import evaluate_tasks

    options = replace(options, single_line=True)

    def fill(batch: list) -> list[str]:
        pairs = [(t.prompt, t.suffix) for t in batch]
        if not warm:
            return fill_pairs(infiller, pairs, options, seed=0, batch_size=len(batch), progress=False)
        out = []
        for prefix, suffix in pairs:
            span = Span(len(prefix), len(prefix))
            type_up_to(infiller, prefix + suffix, [span], options, warm, seed=0)
            out.append(infiller.fill(prefix + suffix, [span], options, seed=0).completions[0])
        return out

    started = time.perf_counter()
    report = evaluate_tasks(tasks, fill, batch_size=batch_size, workers=workers)
    summary = report.summary
    return {
        "tasks": summary["tasks"],
        "pass_at_1": summary["pass_at_1"],
        "exact_match": summary["exact_match"],
        "parse_rate": summary["parse_rate"],
        "fill_s_per_task": round(report.fill_seconds / max(len(tasks), 1), 4),
        "seconds": round(time.perf_counter() - started, 1),
        "completions": [r.completion for r in report.records],
    }


def agreement(completions: list[str], reference: list[str]) -> float:
    """Share of tasks whose completion equals the reference setting's (whitespace at the ends ignored)."""
    if not reference:
        return 0.0
    same = sum(a.strip() == b.strip() for a, b in zip(completions, reference))
    return round(same / len(reference), 4)
