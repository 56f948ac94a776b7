"""Timing: p50/p95 latency and tokens per second of one case under one decoding setting.

Each setting gets one warm-up run, then up to ``reps`` timed runs (different seeds), stopping early once
``max_seconds`` have passed and at least ``MIN_REPS`` runs are in. Tokens per second counts masked
positions (the hole budgets) denoised per second of the p50 latency.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import asdict, dataclass, replace

from benchmarks.engine.cases import Case
from diffill.denoise import StepInfo
from diffill.errors import HoleError
from diffill.holes import Span
from diffill.infill import FillOptions, Infiller

MIN_REPS = 3


@dataclass
class Timing:
    """What one (case, context, variant) cell measured."""

    case: str
    context: int  # tokens asked for
    window: int  # the cap in effect (the model's window at most)
    variant: str
    width: int = 0  # tokens in the sequence actually denoised (first window)
    masked: int = 0  # masked positions in it
    reps: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    mean_ms: float | None = None
    steps: float | None = None  # mean denoising steps run
    tokens_per_s: float | None = None
    load: float | None = None  # the 1-minute load average after timing: other work on the machine shows here
    skipped: str | None = None  # why nothing was measured

    def to_dict(self) -> dict[str, object]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in [0, 1])."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def typed_before(text: str, spans: list[Span], count: int) -> list[tuple[str, list[Span]]]:
    """The requests an editor sent while the last ``count`` characters before the first span were typed:
    the text without ``count``, ``count - 1``, ..., 1 of them (fewer when the text starts sooner)."""
    first = min(sp.start for sp in spans)
    return [
        (text[: first - k] + text[first:], [replace(sp, start=sp.start - k, end=sp.end - k) for sp in spans])
        for k in range(min(count, first), 0, -1)
    ]


def type_up_to(infiller: Infiller, text: str, spans: list[Span], options: FillOptions, count: int, seed: int) -> None:
    """Send the requests of ``typed_before``, the first of them cold (the reuse slot emptied)."""
    infiller.reuse.clear()
    for before, moved in typed_before(text, spans, count):
        infiller.fill(before, moved, options, seed=seed)


def time_case(
    infiller: Infiller,
    case: Case,
    options: FillOptions,
    reps: int,
    max_seconds: float,
    cell: Timing,
    warm: int = 0,
) -> Timing:
    """Fill ``case`` repeatedly with ``options``; fills ``cell`` in and returns it. ``warm`` N: each timed fill
    follows (untimed) the N requests typed before it (``typed_before``)."""
    options = replace(options, single_line=case.single_line)
    if case.skipped:
        cell.skipped = case.skipped
        return cell
    try:
        layout = infiller.layout(case.text, case.spans, options)
    except HoleError as exc:
        cell.skipped = str(exc)
        return cell
    cell.width, cell.masked = len(layout.ids), sum(t == infiller.lm.mask_id for t in layout.ids)
    steps = 0

    def count(_: StepInfo) -> None:
        nonlocal steps
        steps += 1

    infiller.fill(case.text, case.spans, options, seed=0)  # warm-up
    times: list[float] = []
    started = time.perf_counter()
    for seed in range(reps):
        if warm:
            type_up_to(infiller, case.text, case.spans, options, warm, seed)
        t0 = time.perf_counter()
        infiller.fill(case.text, case.spans, options, seed=seed, on_step=count)
        times.append(1000 * (time.perf_counter() - t0))
        if len(times) >= MIN_REPS and time.perf_counter() - started > max_seconds:
            break
    cell.reps = len(times)
    cell.p50_ms = round(statistics.median(times), 2)
    cell.p95_ms = round(percentile(times, 0.95), 2)
    cell.mean_ms = round(statistics.fmean(times), 2)
    cell.steps = round(steps / len(times), 2)
    cell.tokens_per_s = round(cell.masked / (cell.p50_ms / 1000), 1) if cell.p50_ms else None
    cell.load = round(os.getloadavg()[0], 2)
    return cell


def time_layout(infiller: Infiller, text: str, reps: int = 20) -> dict[str, float]:
    """How long laying out (tokenising a bounded window of) a large file takes, next to tokenising all of it."""
    middle = text.index("\n", len(text) // 2) + 1
    spans = [Span(middle, middle)]
    infiller.layout(text, spans)
    layout_ms = []
    for _ in range(reps):
        t0 = time.perf_counter()
        infiller.layout(text, spans)
        layout_ms.append(1000 * (time.perf_counter() - t0))
    t0 = time.perf_counter()
    n_tokens = len(infiller.lm.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])
    whole_ms = 1000 * (time.perf_counter() - t0)
    return {
        "lines": text.count("\n"),
        "chars": len(text),
        "tokens": n_tokens,
        "layout_p50_ms": round(statistics.median(layout_ms), 2),
        "tokenize_whole_file_ms": round(whole_ms, 2),
    }
