"""The confidence gate, measured: coverage (share of requests that get ghost text) against precision (share of
the shown suggestions that are right) for candidate statistics, and the fit of the one the server uses.

Each task becomes the document an editor holds (``ghost_parity.ghost_document``: the answer line emptied down
to its indentation, the cursor after it) and is filled through the server's own ghost-text path in process
(``plan_at`` -> ``jobs.ghost.complete`` -> insert text -> the gate's ``features``), as an automatic request
gets it. A suggestion is right when the task's tests pass with it applied (HumanEval-infilling single-line)
or, for the repository benchmark's single-line tasks (``data/repo-bench/tasks-single-line.jsonl``, when it
exists), when the line equals the original (exact match). Candidates: the mean, minimum and geometric mean
token confidence, the length estimate's peak, and logistic fits on a few of those. Fits use the HumanEval
tasks of even-numbered problems; every number reported is on the odd-numbered ones (and on the repository
tasks, never fitted on).

Usage: python -m benchmarks.ghost_gate --collect humaneval repo [--every 5] [--records FILE] [--out DIR]
       python -m benchmarks.ghost_gate            (analyse the records kept in --records again)
       python -m benchmarks.ghost_gate --fresh 1 3 4   (the shipped gate on tasks no fit or choice saw)
Writes DIR/gate.json (records, fits, curves, the chosen default) and DIR/gate.png; ``--fresh`` writes
DIR/gate_fresh.json (and its records, DIR/gate_fresh_records.json) and changes nothing else.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.ghost_parity import ghost_document
from lsp_server import gate
from lsp_server.edits import LineIndex
from lsp_server.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results" / "ghost"
REPO_TASKS = Path(__file__).resolve().parents[1] / "data" / "repo-bench" / "tasks-single-line.jsonl"
FEATURES = ("mean", "minimum", "mean_log", "end_peak", "log_tokens")
TARGET_PRECISION, TARGET_COVERAGE = 0.40, 0.25


@dataclass
class Record:
    """One task through the ghost-text path: its features and whether the suggestion was right."""

    task_id: str
    source: str  # humaneval | repo
    split: str  # fit | test
    shown: bool  # a suggestion came out at all
    right: bool
    insert: str
    features: dict[str, float]


@dataclass(frozen=True)
class Case:
    task_id: str
    prompt: str
    suffix: str
    canonical_solution: str
    judge: Callable[[str], bool]  # the document with the suggestion applied -> right?


def humaneval_cases(every: int, offset: int = 0) -> list[tuple[Case, str]]:
    from training.benchmarks import load_tasks, problem_id, resolve_benchmark
    from training.evaluate import with_test
    from training.execution import run_program

    out = []
    for t in load_tasks(resolve_benchmark("single-line"))[offset::every]:

        def judge(doc: str, t: Any = t) -> bool:
            return run_program(with_test(doc, t.test, t.entry_point), timeout_s=5.0).passed

        number = int(problem_id(t.task_id).split("/")[1])
        out.append(
            (Case(t.task_id, t.prompt, t.suffix, t.canonical_solution, judge), "fit" if number % 2 == 0 else "test")
        )
    return out


def repo_cases(path: Path, every: int) -> list[tuple[Case, str]]:
    from benchmarks.repo_bench.score import exact_match

    if not path.is_file():
        raise SystemExit(f"{path} not found: build it with python -m benchmarks.repo_bench build")
    out = []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows[::every]:
        prompt, suffix = row["prompt"], row["suffix"]

        def judge(
            doc: str, prompt: str = prompt, suffix: str = suffix, answer: str = row["canonical_solution"]
        ) -> bool:
            return exact_match(doc[len(prompt) : len(doc) - len(suffix)], answer)

        out.append((Case(row["task_id"], prompt, suffix, row["canonical_solution"], judge), "test"))
    return out


def collect(cases: list[tuple[Case, str]], source: str, threads: int) -> list[Record]:
    """Fill each case through the server's ghost-text path, as an automatic request."""
    import torch

    from diffill.infill import Infiller
    from diffill.model import load_model
    from lsp_server.completion import carry_spans, insert_text
    from lsp_server.features.inline import plan_at
    from lsp_server.jobs import ghost as jobs
    from lsp_server.worker import Ticket

    if threads:
        torch.set_num_threads(threads)
    infiller = Infiller(load_model(None, "cpu", "auto"))
    settings = Settings(min_confidence=0.0)
    records = []
    for case, split in cases:
        text, position = ghost_document(case)  # type: ignore[arg-type]
        todo, _ = plan_at(text, LineIndex(text).offset(position), "python", settings)
        insert, spans, ends = None, [], []
        if todo is not None:
            m = jobs.complete(infiller, Ticket(None, "gate"), todo.text, todo.span, todo.single_line, settings, 1, 0)
            middle = m[0] if m else None
            insert = insert_text(todo, middle.text, text) if middle else None
            if insert is not None and middle is not None:
                spans, ends = carry_spans(middle.token_spans, middle.text, insert), middle.end_probabilities
        doc = text if insert is None or todo is None else text[: todo.start] + insert + text[todo.end :]
        f = gate.features(spans, ends)
        values = {**asdict(f), "log_tokens": math.log1p(f.tokens)}
        records.append(Record(case.task_id, source, split, insert is not None, case.judge(doc), insert or "", values))
    return records


# --- statistics and fits ------------------------------------------------------------------------


def matrix(records: Sequence[Record], names: Sequence[str]) -> np.ndarray:
    return np.array([[r.features[n] for n in names] for r in records], dtype=np.float64)  # (N, F)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, iterations: int = 50) -> tuple[float, np.ndarray]:
    """Bias and weights of an L2-regularised logistic regression, by Newton's method (IRLS)."""
    xb = np.hstack([np.ones((len(x), 1)), x])  # (N, F+1)
    w = np.zeros(xb.shape[1])
    penalty = l2 * np.eye(xb.shape[1])
    penalty[0, 0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -60, 60)))
        gradient = xb.T @ (p - y) + penalty @ w
        hessian = xb.T @ (xb * (p * (1 - p))[:, None]) + penalty + 1e-9 * np.eye(len(w))
        w -= np.linalg.solve(hessian, gradient)
    return float(w[0]), w[1:]


def logistic_model(records: Sequence[Record], names: Sequence[str]) -> gate.Logistic:
    """A ``gate.Logistic`` fitted on ``records`` (features standardised for the fit, folded back after)."""
    x, y = matrix(records, names), np.array([r.right for r in records], dtype=np.float64)
    mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-9
    bias, w = fit_logistic((x - mu) / sd, y)
    weights = w / sd
    bias -= float((weights * mu).sum())
    return gate.Logistic(bias=round(bias, 4), weights=tuple((n, round(float(v), 4)) for n, v in zip(names, weights)))


CANDIDATES: tuple[tuple[str, ...], ...] = (
    ("mean",),
    ("minimum",),
    ("mean_log",),
    ("end_peak",),
    ("minimum", "end_peak"),
    ("mean_log", "end_peak"),
    ("minimum", "end_peak", "log_tokens"),
    ("mean_log", "end_peak", "log_tokens"),
    FEATURES,
)
GATE_FEATURES = FEATURES  # the server's statistic (see ``choose``): the best in both folds


def statistics(fit: Sequence[Record]) -> dict[str, Callable[[Record], float]]:
    """The candidate statistics: logistic fits on ``fit`` of each feature set (one feature: the same ranking
    as the feature itself, calibrated)."""
    stats: dict[str, Callable[[Record], float]] = {}
    for names in CANDIDATES:
        model = logistic_model(fit, names)
        stats["+".join(names)] = lambda r, model=model: model(_features(r))
    return stats


def _features(r: Record) -> gate.Features:
    f = r.features
    return gate.Features(f["mean"], f["minimum"], f["mean_log"], f["end_peak"], round(math.expm1(f["log_tokens"])))


def thinned(points: list[dict[str, float]], step: float = 0.01) -> list[list[float]]:
    """A curve as [threshold, coverage, precision] rows, a row per ``step`` of coverage at most (for the JSON)."""
    out: list[list[float]] = []
    for p in points:
        if not out or p["coverage"] - out[-1][1] >= step or p is points[-1]:
            out.append([round(p["threshold"], 4), round(p["coverage"], 4), round(p["precision"], 4)])
    return out


def curve(records: Sequence[Record], stat: Callable[[Record], float]) -> list[dict[str, float]]:
    """(threshold, coverage, precision) for every threshold that changes what is shown, most confident first."""
    scored = sorted(((stat(r), r.right) for r in records if r.shown), key=lambda p: -p[0])
    points, right = [], 0
    for k, (value, ok) in enumerate(scored, start=1):
        right += ok
        if k == len(scored) or scored[k][0] < value:
            points.append({"threshold": value, "coverage": k / len(records), "precision": right / k, "shown": k})
    return points


def best_default(points: list[dict[str, float]]) -> dict[str, float]:
    """The threshold that meets the precision target with the most coverage, or else (the target being out of
    reach) the best precision at the coverage target or above."""
    meets = [p for p in points if p["precision"] >= TARGET_PRECISION and p["coverage"] >= TARGET_COVERAGE]
    if meets:
        return max(meets, key=lambda p: p["coverage"])
    wide = [p for p in points if p["coverage"] >= TARGET_COVERAGE]
    return max(wide, key=lambda p: (p["precision"], p["coverage"])) if wide else points[-1]


def at_threshold(records: Sequence[Record], stat: Callable[[Record], float], threshold: float) -> dict[str, float]:
    shown = [r for r in records if r.shown and stat(r) >= threshold]
    n = max(1, len(records))
    return {
        "threshold": threshold,
        "coverage": len(shown) / n,
        "precision": sum(r.right for r in shown) / max(1, len(shown)),
        "shown": len(shown),
        "requests": len(records),
        "right_all": sum(r.right for r in records) / n,
    }


def halves(records: Sequence[Record]) -> tuple[list[Record], list[Record], list[Record]]:
    """HumanEval's fit half (even-numbered problems), its other half, and the repository tasks."""
    fit = [r for r in records if r.source == "humaneval" and r.split == "fit"]
    test = [r for r in records if r.source == "humaneval" and r.split == "test"]
    return fit, test, [r for r in records if r.source == "repo"]


def precision_at(points: list[dict[str, float]], coverage: float) -> dict[str, float] | None:
    """The curve's point with the least coverage at or above ``coverage``."""
    wide = [p for p in points if p["coverage"] >= coverage]
    return min(wide, key=lambda p: p["coverage"]) if wide else None


def analyse(records: list[Record]) -> dict[str, Any]:
    """Each candidate fitted on one half and drawn on the other (both ways) and on the repository tasks."""
    fit, test, repo = halves(records)
    out: dict[str, Any] = {"curves": {}, "table": {}, "tasks": {"fit": len(fit), "test": len(test), "repo": len(repo)}}
    forward, backward = statistics(fit), statistics(test)
    for name in forward:
        curves = {
            "test": curve(test, forward[name]),
            "repo": curve(repo, forward[name]),
            "fit (fitted on test)": curve(fit, backward[name]),
        }
        out["curves"][name] = curves
        out["table"][name] = {
            split: {f"{c:.2f}": precision_at(points, c) for c in (0.1, 0.25, 0.4)} for split, points in curves.items()
        }
    return out


def choose(records: list[Record]) -> dict[str, Any]:
    """The server's statistic (a logistic fit on ``GATE_FEATURES``) and its default threshold, both from the
    fit half: the threshold that reaches the target precision with the most coverage there, or (out of reach)
    the best precision at the target coverage. Reported on the other half and on the repository tasks."""
    fit, test, repo = halves(records)
    model = logistic_model(fit, GATE_FEATURES)

    def stat(r: Record) -> float:
        return model(_features(r))

    threshold = round(best_default(curve(fit, stat))["threshold"], 3)
    splits = (("fit", fit), ("test", test), ("repo", repo))
    server = Settings().min_confidence
    return {
        "model": {"bias": model.bias, "weights": list(model.weights)},
        "threshold": threshold,
        "at_threshold": {name: at_threshold(split, stat, threshold) for name, split in splits},
        "server_default": server,
        "at_server_default": {name: at_threshold(split, stat, server) for name, split in splits},
    }


def wilson(right: int, n: int, z: float = 1.96) -> list[float]:
    """The 95% Wilson interval of a proportion ``right / n``."""
    if n == 0:
        return [0.0, 1.0]
    p, z2 = right / n, z * z
    centre, half = (p + z2 / (2 * n)) / (1 + z2 / n), z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return [max(0.0, centre - half), min(1.0, centre + half)]


def fresh_check(records: list[Record]) -> dict[str, Any]:
    """The server's gate as shipped (``lsp_server.gate.GATE`` at the default ``minConfidence``) on records that
    neither its fit nor the choice of its threshold saw, per half of the problems and together."""
    server = Settings().min_confidence

    def stat(r: Record) -> float:
        return gate.score(_features(r))

    out: dict[str, Any] = {"min_confidence": server}
    for name, split in (
        ("fit problems", [r for r in records if r.split == "fit"]),
        ("test problems", [r for r in records if r.split == "test"]),
        ("all", records),
    ):
        row = at_threshold(split, stat, server)
        right_shown = round(row["precision"] * row["shown"])
        out[name] = {**row, "precision_95": wilson(right_shown, int(row["shown"]))}
    return out


def plot(analysis: dict[str, Any], chosen: dict[str, Any], out: Path) -> None:
    """Precision against coverage per candidate (the server's statistic drawn thick, its default marked)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    server = "+".join(GATE_FEATURES)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, split, title in (
        (axes[0], "test", "HumanEval single-line, held-out half (pass@1)"),
        (axes[1], "repo", "repo-bench single-line (exact match)"),
    ):
        for name, curves in analysis["curves"].items():
            points = curves[split]
            if points:
                style = {"lw": 2.4, "color": "black", "zorder": 3} if name == server else {"lw": 0.9, "alpha": 0.8}
                ax.plot([p["coverage"] for p in points], [p["precision"] for p in points], label=name, **style)
        default = chosen["at_server_default"][split]
        ax.plot(
            [default["coverage"]],
            [default["precision"]],
            "o",
            color="red",
            zorder=4,
            label=f"minConfidence {chosen['server_default']}",
        )
        ax.axhline(TARGET_PRECISION, color="grey", ls=":", lw=0.8)
        ax.axvline(TARGET_COVERAGE, color="grey", ls=":", lw=0.8)
        ax.set_xlabel("coverage (share of requests shown a suggestion)")
        ax.set_title(title, fontsize=10)
        ax.set_xlim(0, 1)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("precision (share of shown suggestions right)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


def load_records(path: Path) -> list[Record]:
    return [Record(**r) for r in json.loads(path.read_text(encoding="utf-8"))]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--every", type=int, default=5, help="every N-th HumanEval single-line task (default 5: 207)")
    p.add_argument("--offset", type=int, default=0, help="start at this task (every N-th from here)")
    p.add_argument("--repo-every", type=int, default=1, help="every N-th repository single-line task")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--records", type=Path, default=RESULTS / "gate_records.json", help="features of every fill")
    p.add_argument(
        "--collect",
        nargs="*",
        choices=["humaneval", "repo"],
        default=[],
        help="fill these task sets again (their records replace the ones in --records); none: only analyse",
    )
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument(
        "--fresh",
        nargs="+",
        type=int,
        metavar="OFFSET",
        help="fill the HumanEval tasks at these offsets (every --every-th from each) and score the shipped gate",
    )
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if args.fresh:
        return run_fresh(args, started)
    records = load_records(args.records) if args.records.is_file() else []
    for source in args.collect:
        if source == "humaneval":
            cases = humaneval_cases(args.every, args.offset)
        else:
            cases = repo_cases(REPO_TASKS, args.repo_every)
        fresh = collect(cases, source, args.threads)
        ids = {r.task_id for r in fresh}
        records = [r for r in records if r.task_id not in ids] + fresh
        args.records.write_text(json.dumps([asdict(r) for r in records], indent=0) + "\n", encoding="utf-8")
    if not records:
        raise SystemExit("no records: collect some first (--collect humaneval repo), or give --records")
    analysis = analyse(records)
    chosen = choose(records)
    kept = {**analysis, "curves": {n: {k: thinned(v) for k, v in c.items()} for n, c in analysis["curves"].items()}}
    result = {**kept, "chosen": chosen, "seconds": time.perf_counter() - started, "load_average": os.getloadavg()}
    (args.out / "gate.json").write_text(json.dumps(result) + "\n", encoding="utf-8")
    plot(analysis, chosen, args.out / "gate.png")
    print(f"tasks: {analysis['tasks']}; precision at >= 10% / 25% / 40% coverage")
    for name, table in analysis["table"].items():
        cells = [
            "/".join(f"{p['precision']:.2f}" if (p := table[split][c]) else "-" for c in ("0.10", "0.25", "0.40"))
            for split in ("test", "fit (fitted on test)", "repo")
        ]
        print(f"{name:<44} held-out {cells[0]:<16} reverse {cells[1]:<16} repo {cells[2]}")
    print("chosen:", json.dumps(chosen))
    return 0


def run_fresh(args: argparse.Namespace, started: float) -> int:
    """``--fresh``: tasks at offsets that the fit and the threshold never saw, through the shipped gate."""
    used = {r.task_id for r in load_records(args.records)} if args.records.is_file() else set()
    cases = [c for o in args.fresh for c in humaneval_cases(args.every, o) if c[0].task_id not in used]
    if not cases:
        raise SystemExit(f"every task at offsets {args.fresh} is in {args.records}: choose other offsets")
    records = collect(cases, "humaneval", args.threads)
    (args.out / "gate_fresh_records.json").write_text(json.dumps([asdict(r) for r in records], indent=0) + "\n")
    check = fresh_check(records)
    result = {"every": args.every, "offsets": args.fresh, "tasks": len(records), **check}
    result |= {"seconds": time.perf_counter() - started, "load_average": os.getloadavg()}
    (args.out / "gate_fresh.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    for name in ("fit problems", "test problems", "all"):
        row = check[name]
        lo, hi = row["precision_95"]
        print(
            f"{name:<14} requests {row['requests']:>4}  coverage {row['coverage']:.1%}  precision "
            f"{row['precision']:.1%} (95%: {lo:.1%}-{hi:.1%})  all suggestions right {row['right_all']:.1%}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
