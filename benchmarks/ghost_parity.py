"""Ghost text against the engine's benchmark: the editor path and ``diffill fill --tasks`` on the same tasks.

Each HumanEval-infilling task (every ``--every``-th of the single-line set) becomes a document as a user's
editor holds it: the answer line emptied down to its indentation, the cursor after the indentation. A real
``diffill serve`` gets an automatic ``textDocument/inlineCompletion`` there; the first item is applied at its
range and the task's tests run on the document that gives (no item: the line stays empty). The same tasks are
filled by the real CLI (``diffill fill --tasks``) and scored the same way. The server runs with the
confidence gate off (``minConfidence`` 0: parity is about what is filled, not what is shown); the report also
says how many items the gate at its default would have shown, and how many of those pass (from the request
log's ``gate=`` field).

Usage: python -m benchmarks.ghost_parity [--every 10] [--limit N] [--threads 0] [--out FILE]
Prints pass@1 of both paths and the tasks where they differ; writes JSON
(default ``benchmarks/results/ghost/parity.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types

from benchmarks import ghost_client as gc
from diffill.tasks import load_samples
from lsp_server.edits import apply_edits
from lsp_server.settings import Settings
from training.benchmarks import InfillTask, load_tasks, resolve_benchmark
from training.evaluate import score_completions, with_test
from training.execution import run_programs

RESULTS = Path(__file__).resolve().parent / "results" / "ghost"


def ghost_document(task: InfillTask) -> tuple[str, types.Position]:
    """The task's program with its answer line emptied down to the answer's indentation, and the cursor
    after that indentation (ASCII text: code points and UTF-16 units agree)."""
    answer = task.canonical_solution
    indent = answer[: len(answer) - len(answer.lstrip(" \t"))]
    text = task.prompt + indent + ("\n" if answer.endswith("\n") else "") + task.suffix
    last = task.prompt.rsplit("\n", 1)[-1]
    return text, types.Position(line=task.prompt.count("\n"), character=len(last) + len(indent))


@dataclass
class ServerRow:
    """One task through the server: the item applied (empty: none), the document it made, the log's fields."""

    insert_text: str
    document: str
    mode: str | None
    gate: str | None
    shown: str | None


async def serve_tasks(tasks: list[InfillTask], args: argparse.Namespace, log_file: Path) -> list[ServerRow]:
    """Each task's document opened, one automatic request at the cursor, the first item applied."""
    settings = {"minConfidence": 0.0, "debounceMs": 0, "adaptiveDebounce": False, "prefetch": False}
    settings.update(json.loads(args.settings))
    options = gc.ServerOptions(log_file, settings, args.model, threads=args.threads)
    client = await gc.start(options)
    rows: list[ServerRow] = []
    try:
        await gc.wait_ready(client)
        for i, task in enumerate(tasks):
            text, position = ghost_document(task)
            uri = f"file:///parity/task{i}.py"
            gc.open_doc(client, uri, text)
            items = await gc.inline(client, uri, position)
            gc.close_doc(client, uri)
            edits = [types.TextEdit(range=items[0].range, new_text=str(items[0].insert_text))] if items else []
            line = gc.log_lines(log_file, "inline#")[-1]
            rows.append(
                ServerRow(
                    insert_text=edits[0].new_text if edits else "",
                    document=apply_edits(text, edits),
                    mode=gc.log_field(line, "mode"),
                    gate=gc.log_field(line, "gate"),
                    shown=gc.log_field(line, "shown"),
                )
            )
    finally:
        await gc.stop(client)
    return rows


def cli_samples(tasks: list[InfillTask], args: argparse.Namespace, workdir: Path) -> list[str]:
    """The tasks filled by the real ``diffill fill --tasks`` (default flags), or read from ``--cli-samples``
    when that file exists (the CLI's fills do not change with the server; it is written when it does not)."""
    task_file, out = workdir / "tasks.jsonl", args.cli_samples or workdir / "samples.jsonl"
    if args.cli_samples is not None and args.cli_samples.is_file():
        samples = load_samples(args.cli_samples)
        if all(t.task_id in samples for t in tasks):
            return [samples[t.task_id] for t in tasks]
    task_file.write_text("".join(json.dumps(asdict(t)) + "\n" for t in tasks), encoding="utf-8")
    cmd = [sys.executable, "-m", "lsp_server.cli", "fill", "--tasks", str(task_file), "--out", str(out)]
    if args.model is not None:
        cmd += ["--model", str(args.model)]
    out.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **({"OMP_NUM_THREADS": str(args.threads)} if args.threads else {})}
    subprocess.run(cmd, check=True, env=env)
    samples = load_samples(out)
    return [samples[t.task_id] for t in tasks]


def run_documents(tasks: list[InfillTask], documents: list[str]) -> list[bool]:
    programs = [with_test(doc, t.test, t.entry_point) for t, doc in zip(tasks, documents)]
    return [r.passed for r in run_programs(programs, workers=2, timeout_s=5.0)]


def report(
    tasks: list[InfillTask],
    rows: list[ServerRow],
    server: list[bool],
    cli: list[str],
    cli_passed: list[bool],
    seconds: dict[str, float],
) -> dict[str, Any]:
    n = len(tasks)
    per_task = [
        {
            "task_id": t.task_id,
            "server_passed": s,
            "cli_passed": c,
            "server_insert": r.insert_text,
            "cli_completion": comp,
            "mode": r.mode,
            "gate": r.gate,
            "canonical": t.canonical_solution,
        }
        for t, r, s, comp, c in zip(tasks, rows, server, cli, cli_passed)
    ]
    default = Settings().min_confidence
    by_default = [r.gate is not None and float(r.gate) >= default for r in rows]
    shown = [r for r, b in zip(rows, by_default) if b]
    shown_passed = sum(s for s, b in zip(server, by_default) if b)
    return {
        "tasks": n,
        "server_pass_at_1": sum(server) / n,
        "cli_pass_at_1": sum(cli_passed) / n,
        "server_items": sum(bool(r.insert_text) for r in rows),
        "differ": sum(s != c for s, c in zip(server, cli_passed)),
        "default_gate": {
            "min_confidence": default,
            "shown": len(shown),
            "coverage": len(shown) / n,
            "precision": shown_passed / max(1, len(shown)),
        },
        "seconds": seconds,
        "records": per_task,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    tasks = load_tasks(resolve_benchmark(args.benchmark))[:: args.every][: args.limit]
    workdir = Path(tempfile.mkdtemp(prefix="diffill-parity-"))
    log_file = workdir / "server.log"
    started = time.perf_counter()
    rows = asyncio.run(serve_tasks(tasks, args, log_file))
    server_s = time.perf_counter() - started
    server = run_documents(tasks, [r.document for r in rows])
    started = time.perf_counter()
    cli = cli_samples(tasks, args, workdir) if not args.no_cli else [""] * len(tasks)
    cli_s = time.perf_counter() - started
    records, _ = score_completions(tasks, cli)
    out = report(tasks, rows, server, cli, [r.passed for r in records], {"server": server_s, "cli": cli_s})
    out.update(
        benchmark=args.benchmark,
        every=args.every,
        settings=args.settings,
        server_log=str(log_file),
        machine=f"{platform.machine()}, {os.cpu_count()} cores",
        load_average=os.getloadavg(),
    )
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--benchmark", default="single-line", help="HumanEval-infilling set or jsonl file")
    p.add_argument("--every", type=int, default=10, help="take every N-th task (default 10: 104 tasks)")
    p.add_argument("--limit", type=int, default=None, help="at most this many of them")
    p.add_argument("--model", type=Path, default=None, help="checkpoint directory (default: bundled)")
    p.add_argument("--threads", type=int, default=1, help="torch threads in the server and the CLI (0: torch's)")
    p.add_argument("--cli-samples", type=Path, default=None, help="the CLI's samples: read if present, else written")
    p.add_argument("--settings", default="{}", help="extra server settings as JSON (camelCase keys)")
    p.add_argument("--no-cli", action="store_true", help="skip the CLI run (server only)")
    p.add_argument("--out", type=Path, default=RESULTS / "parity.json")
    args = p.parse_args()
    out = run(args)
    print(
        f"{out['tasks']} tasks (every {args.every}th): server pass@1 {100 * out['server_pass_at_1']:.1f}%, "
        f"CLI pass@1 {100 * out['cli_pass_at_1']:.1f}%, {out['differ']} tasks differ; server items "
        f"{out['server_items']}; default gate shows {out['default_gate']['shown']} "
        f"(precision {100 * out['default_gate']['precision']:.1f}%)"
    )
    for r in out["records"]:
        if r["server_passed"] != r["cli_passed"]:
            print(
                f"  {r['task_id']}: server {r['server_passed']} {r['server_insert']!r} | CLI {r['cli_passed']} "
                f"{r['cli_completion']!r} ({r['mode']})"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}; server log {out['server_log']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
