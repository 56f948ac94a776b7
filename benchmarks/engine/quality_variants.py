"""Quality of decoding variants on many single-line tasks, without re-running plain decoding.

``python -m benchmarks.engine`` always scores plain decoding too (its ratios need it), which on all 1,033 single-line
tasks is slow on a CPU. This scores only the variants given, with the bench's own scorer
(``benchmarks.engine.quality.score``), and appends one JSON record per variant to ``--out``.

Usage: python -m benchmarks.engine.quality_variants --tasks 1033 --out FILE default default,warm=4 default,threshold=0.7
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from benchmarks.engine import quality
from benchmarks.engine.run import base_options
from benchmarks.engine.variants import parse_variant
from diffill.choices import DTYPES
from diffill.infill import Infiller
from diffill.model import load_model


def _commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    return out.stdout.strip() or "unknown"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("variants", nargs="+", help="variant specs, as for diffill bench --variants")
    p.add_argument("--tasks", type=int, default=1033, help="single-line tasks, spread evenly (1033: all)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--model", default=None, help="checkpoint directory (default: bundled)")
    p.add_argument("--dtype", choices=DTYPES, default="auto", help="weights dtype (int8: dynamic int8 layers)")
    p.add_argument("--out", type=Path, required=True, help="JSON lines file to append to")
    args = p.parse_args()
    variants = [parse_variant(spec) for spec in args.variants]  # fail on a bad spec before loading
    infiller = Infiller(load_model(args.model, device="cpu", dtype=args.dtype))
    tasks = quality.subset(args.tasks)
    base = base_options(False)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for variant in variants:
        q = quality.score(infiller, tasks, variant.apply(base), args.batch_size, warm=variant.warm)
        record = {
            "variant": variant.name,
            "dtype": args.dtype,
            "tasks": len(tasks),
            "pass_at_1": q["pass_at_1"],
            "exact_match": q["exact_match"],
            "parse_rate": q["parse_rate"],
            "seconds": q["seconds"],
            "commit": _commit(),
        }
        print(json.dumps(record), flush=True)
        with args.out.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
