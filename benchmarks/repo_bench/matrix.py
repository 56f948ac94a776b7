"""Side by side on the repository benchmark, through the real ``diffill fill`` command: the base model, the
base with repository context, the model adapted to each project, and the adapted model with context.

Per project: its tasks are filled by ``diffill fill --tasks`` (with ``--model`` for an adapted model and
``--workspace`` for context), then scored (``score``). Samples are kept per (variant, project) and reused
when present, so a matrix can grow one variant at a time. Adapted models are model directories named by a
template (``{project}`` is replaced); the adaptation that made them (``adaptation.json``) is reported too:
minutes, steps, tokens per second, MB of source.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.repo_bench.score import aggregate, score_tasks
from benchmarks.repo_bench.taskfile import load_samples, load_tasks, write_tasks

KINDS = ("single-line", "multi-line", "random-span")


@dataclass(frozen=True)
class Variant:
    """One column: a name, the model (None: bundled) and the context budget (None: no --workspace)."""

    name: str
    model: str | None  # a path template with {project}
    context: int | None
    extra: tuple[str, ...] = ()

    def model_for(self, project: str) -> Path | None:
        return Path(self.model.format(project=project)) if self.model else None


def parse_variant(spec: str, adapted: str | None, context: int) -> Variant:
    """``base``, ``base+context``, ``adapted``, ``adapted+context``, optionally ``:--flag=value,...``."""
    name, _, flags = spec.partition(":")
    extra = tuple(f for f in flags.split(",") if f)
    base, plus, ctx = name.partition("+")
    if base not in ("base", "adapted") or (plus and ctx != "context"):
        raise SystemExit(f"unknown variant {spec!r}: base, base+context, adapted or adapted+context")
    if base == "adapted" and not adapted:
        raise SystemExit("adapted variants need --adapted TEMPLATE")
    return Variant(spec, adapted if base == "adapted" else None, context if plus else None, extra)


def fill(variant: Variant, project: str, tasks: Path, workspace: Path, out: Path, batch_size: int) -> float:
    """Run ``diffill fill --tasks`` for one (variant, project); returns the seconds it took."""
    cmd = [sys.executable, "-m", "lsp_server.cli", "fill", "--tasks", str(tasks), "--out", str(out)]
    cmd += ["--batch-size", str(batch_size)]
    model = variant.model_for(project)
    if model is not None:
        cmd += ["--model", str(model)]
    if variant.context is not None:
        cmd += ["--workspace", str(workspace), "--context-tokens", str(variant.context)]
    cmd += variant.extra  # last, so that they win over the variant's own flags
    started = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - started


def adaptation_info(model: Path | None) -> dict[str, Any] | None:
    """What an adapted model's ``adaptation.json`` says about its cost."""
    if model is None or not (model / "adaptation.json").is_file():
        return None
    meta = json.loads((model / "adaptation.json").read_text())
    seconds = meta["minutes"] * 60
    evals = meta.get("evals") or []
    return {
        "method": meta["method"],
        "minutes": round(meta["minutes"], 2),
        "steps": meta["steps"],
        "source_mb": round(meta["source_bytes"] / 1e6, 3),
        "tokens": meta["tokens"],
        "tokens_per_s": round(meta["tokens"] / seconds, 1) if seconds else None,
        "heldout_before": evals[0][2] if evals else None,
        "heldout_best": meta.get("best_loss"),
        "lr": meta["config"]["lr"],
        "replay": meta["config"].get("replay", 0.0),
    }


def run_matrix(
    bench: Path,
    variants: Sequence[Variant],
    work: Path,
    batch_size: int = 8,
    projects: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Fill and score every (variant, project); the matrix as JSON-able data."""
    manifest = json.loads((bench / "manifest.json").read_text())
    names = [p["name"] for p in manifest["projects"] if projects is None or p["name"] in projects]
    all_tasks = load_tasks(bench / "tasks.jsonl")
    work.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"bench": str(bench), "projects": names, "variants": {}}
    for variant in variants:
        scores, per_project, seconds = [], {}, 0.0
        for project in names:
            tasks = [t for t in all_tasks if t.repo == project]
            task_file = work / f"tasks-{project}.jsonl"
            if not task_file.exists():
                write_tasks(task_file, tasks)
            samples = work / f"samples-{_slug(variant.name)}-{project}.jsonl"
            if not samples.exists():
                seconds += fill(variant, project, task_file, bench / project / "workspace", samples, batch_size)
            got = score_tasks(tasks, load_samples(samples))
            scores += got
            per_project[project] = {"scores": _by_kind(got), "adaptation": adaptation_info(variant.model_for(project))}
        result["variants"][variant.name] = {
            "model": variant.model,
            "context_tokens": variant.context,
            "extra": list(variant.extra),
            "scores": _by_kind(scores),
            "projects": per_project,
            "fill_seconds": round(seconds, 1),
        }
    return result


def _by_kind(scores: list) -> dict[str, Any]:
    out = {"all": aggregate(scores)}
    for kind in KINDS:
        out[kind] = aggregate([s for s in scores if s.kind == kind])
    return out


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


def markdown(result: dict[str, Any]) -> str:
    """The matrix as a table: exact match and edit similarity per kind, parse rate overall."""
    head = "| variant | single-line EM | single-line ES | multi-line EM | multi-line ES | random-span EM | parses |"
    lines = [head, "|---|---|---|---|---|---|---|"]
    for name, v in result["variants"].items():
        s = v["scores"]
        lines.append(
            f"| {name} | {_pct(s['single-line']['exact_match'])} | {s['single-line']['edit_similarity']:.3f} | "
            f"{_pct(s['multi-line']['exact_match'])} | {s['multi-line']['edit_similarity']:.3f} | "
            f"{_pct(s['random-span']['exact_match'])} | {_pct(s['all']['parse_rate'])} |"
        )
    return "\n".join(lines) + "\n"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"
