"""Latency of one fill on this machine: a single-line hole and a 3-hole fill, with the resident model.

Usage: python benchmarks/fill_latency.py [--model DIR] [--device cpu] [--steps 16] [--reps 20] [--out FILE]
Prints p50/p95 in milliseconds and writes them as JSON (with the hardware named).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from lsp_server.denoise import DenoiseConfig
from lsp_server.holes import Span, find_holes
from lsp_server.infill import FillOptions, Infiller
from lsp_server.model import describe_device, load_model

HERE = Path(__file__).resolve().parent
SAMPLE = (HERE.parent / "lsp_server" / "window.py").read_text()

THREE_HOLES = '''import json


def load(path):
    with open(path) as f:
        ???


def save(path, data):
    with open(path, "w") as f:
        ???


def merge(a, b):
    out = dict(a)
    ???
    return out
'''


def cases() -> dict[str, tuple[str, list[Span]]]:
    """Single-line ghost text in the middle of a real module, and a 3-hole file."""
    cursor = SAMPLE.index("    used, count = len(bodies[0]), 1\n")
    single = SAMPLE[:cursor] + SAMPLE[SAMPLE.index("\n", cursor) + 1 :]
    return {
        "single-line": (single, [Span(cursor, cursor)]),
        "3-hole": (THREE_HOLES, find_holes(THREE_HOLES)),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--steps", type=int, default=16)
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--out", type=Path, default=HERE / "results" / "fill_latency_cpu.json")
    args = p.parse_args()
    lm = load_model(args.model, device=args.device)
    infiller = Infiller(lm)
    options = FillOptions(DenoiseConfig(steps=args.steps), single_line=True)
    results = {}
    for name, (text, spans) in cases().items():
        infiller.fill(text, spans, options)  # warm-up
        times = []
        for seed in range(args.reps):
            start = time.perf_counter()
            infiller.fill(text, spans, options, seed=seed)
            times.append(1000 * (time.perf_counter() - start))
        results[name] = {"p50_ms": round(statistics.median(times), 1), "p95_ms": round(percentile(times, 0.95), 1)}
        print(f"{name:12s} p50 {results[name]['p50_ms']:7.1f} ms   p95 {results[name]['p95_ms']:7.1f} ms")
    record = {
        "hardware": describe_device(lm.device),
        "model": str(lm.path), "dtype": str(lm.dtype), "steps": args.steps, "reps": args.reps, "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"written {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
