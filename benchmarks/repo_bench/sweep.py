"""Adaptation settings compared on the repository benchmark: adapt a project's workspace with each setting
(``diffill adapt``), fill the project's tasks with the result (``diffill fill``), score, and plot exact match
against adaptation minutes.

A setting is a name and ``diffill adapt`` flags, e.g. ``full-lr1e-4:--lr=1e-4,--minutes=6``. Models and
samples are kept under ``--work`` and reused when present.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.repo_bench.matrix import KINDS, Variant, _by_kind, adaptation_info, fill
from benchmarks.repo_bench.score import score_tasks
from benchmarks.repo_bench.taskfile import load_samples, load_tasks, write_tasks
from benchmarks.results_file import write_results


def parse_setting(spec: str) -> tuple[str, list[str]]:
    name, _, flags = spec.partition(":")
    args: list[str] = []
    for flag in filter(None, flags.split(",")):
        key, eq, value = flag.partition("=")
        args += [key, value] if eq else [key]
    return name, args


def adapt(workspace: Path, out: Path, flags: Sequence[str], threads: int) -> float:
    """``diffill adapt`` into ``out`` unless it is there; the wall seconds it took (0 when reused)."""
    if (out / "adaptation.json").is_file():
        return 0.0
    cmd = [
        sys.executable,
        "-m",
        "lsp_server.cli",
        "adapt",
        str(workspace),
        "--out",
        str(out),
        "--threads",
        str(threads),
        *flags,
    ]
    started = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - started


def run_sweep(
    bench: Path,
    project: str,
    settings: Sequence[str],
    work: Path,
    threads: int = 2,
    batch_size: int = 8,
    fill_flags: Sequence[str] = (),
) -> dict[str, Any]:
    """Adapt, fill and score each setting on one project."""
    work.mkdir(parents=True, exist_ok=True)
    tasks = [t for t in load_tasks(bench / "tasks.jsonl") if t.repo == project]
    task_file = work / f"tasks-{project}.jsonl"
    if not task_file.exists():
        write_tasks(task_file, tasks)
    out: dict[str, Any] = {"project": project, "tasks": len(tasks), "fill_flags": list(fill_flags), "settings": {}}
    for spec in ["base", *settings]:
        name, flags = parse_setting(spec) if spec != "base" else ("base", [])
        model = None
        wall = 0.0
        if name != "base":
            model = work / f"model-{name}"
            wall = adapt(bench / project / "workspace", model, flags, threads)
        samples = work / f"samples-{name}.jsonl"
        if not samples.exists():
            fill(
                Variant(name, str(model) if model else None, None, tuple(fill_flags)),
                project,
                task_file,
                bench / project / "workspace",
                samples,
                batch_size,
            )
        scores = score_tasks(tasks, load_samples(samples))
        out["settings"][name] = {
            "flags": flags,
            "adapt_wall_seconds": round(wall, 1),
            "adaptation": adaptation_info(model),
            "scores": _by_kind(scores),
        }
    return out


def plot_minutes(result: dict[str, Any], path: Path) -> Path | None:
    """Exact match (single-line) and edit similarity (multi-line) against adaptation minutes."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    points = sorted(
        ((v["adaptation"]["minutes"] if v["adaptation"] else 0.0), v["scores"]) for v in result["settings"].values()
    )
    fig = Figure(figsize=(6, 4), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    minutes = [m for m, _ in points]
    ax.plot(
        minutes,
        [100 * s["single-line"]["exact_match"] for _, s in points],
        marker="o",
        label="single-line exact match (%)",
    )
    ax.plot(
        minutes,
        [100 * s["multi-line"]["edit_similarity"] for _, s in points],
        marker="s",
        label="multi-line edit similarity (x100)",
    )
    ax.set_xlabel("adaptation minutes (training time, 2-core CPU)")
    ax.set_title(f"{result['project']}: {result['tasks']} held-out tasks")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| setting | minutes | steps | tokens/s | held-out loss | "
        + " | ".join(f"{k} EM | {k} ES" for k in KINDS)
        + " |",
        "|---" * (5 + 2 * len(KINDS)) + "|",
    ]
    for name, v in result["settings"].items():
        a = v["adaptation"] or {}
        held = f"{a['heldout_before']:.3f} -> {a['heldout_best']:.3f}" if a.get("heldout_best") else "-"
        cells = [name, str(a.get("minutes", 0)), str(a.get("steps", 0)), str(a.get("tokens_per_s", "-")), held]
        for k in KINDS:
            s = v["scores"][k]
            cells += [f"{100 * s['exact_match']:.1f}%", f"{s['edit_similarity']:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write(result: dict[str, Any], out: Path) -> None:
    write_results(result, out, markdown(result))
    plot_minutes(result, out.with_suffix(".png"))
