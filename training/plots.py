"""Figures for training and evaluation (matplotlib, an optional extra, drawn off-screen with Agg per figure).

Without matplotlib (``pip install 'diffill[plots]'`` adds it) the figures are skipped with one log line.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

log = logging.getLogger(__name__)
_warned: list[bool] = []

SERIES = (("pass_at_1", "pass@1"), ("exact_match", "exact match"))


def plot_quality_vs_steps(results: Sequence[tuple[int, Mapping[str, float]]], path: str | Path) -> Path:
    """Draw pass@1 and exact match (from each run's summary) against the number of denoising steps."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not results:
        raise ValueError("no results to plot")
    points = sorted(results, key=lambda r: r[0])
    steps = [s for s, _ in points]
    fig = Figure(figsize=(6, 4), dpi=120)
    FigureCanvasAgg(fig)  # attaches an Agg canvas to this figure only
    ax = fig.add_subplot()
    series = [(key, label) for key, label in SERIES if all(key in summary for _, summary in points)]
    if not series:
        raise ValueError(f"every summary needs one of {', '.join(k for k, _ in SERIES)}")
    for key, label in series:
        ax.plot(steps, [summary[key] for _, summary in points], marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_xticks(steps, [str(s) for s in steps])
    ax.set_xlabel("denoising steps")
    ax.set_ylabel("rate")
    ax.set_ylim(bottom=0)
    return _save(fig, ax, path)


def plot_loss_curve(log_csv: str | Path, path: str | Path) -> Path:
    """Draw the training loss (and its smoothed trend) from ``train_log.csv`` against steps."""
    import csv

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with open(log_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{log_csv} has no rows")
    steps = [int(r["step"]) for r in rows]
    loss = [float(r["loss"]) for r in rows]
    smooth, acc = [], loss[0]
    for value in loss:
        acc = 0.9 * acc + 0.1 * value
        smooth.append(acc)
    fig = Figure(figsize=(6, 4), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(steps, loss, alpha=0.35, label="loss")
    ax.plot(steps, smooth, label="smoothed")
    ax.set_xlabel("step")
    ax.set_ylabel("masked-token cross-entropy (nats)")
    return _save(fig, ax, path)


def _save(fig, ax, path: str | Path) -> Path:
    """Grid, legend, tight layout, and write the figure (creating its folder)."""
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def maybe_plot(draw: Callable[..., Path], *args: object) -> Path | None:
    """``draw(*args)`` when matplotlib is installed; otherwise None, and say once how to get the figures."""
    if importlib.util.find_spec("matplotlib") is None:
        if not _warned:
            log.warning("matplotlib is not installed: no figures (pip install 'diffill[plots]')")
            _warned.append(True)
        return None
    return draw(*args)
