"""Ghost text in a huge document: does the server keep answering while it works on one?

Builds a 5 MB Python document (this repository's frozen modules, repeated with renamed top-level names) and
a 50 KB one cut from its middle around the same place, opens each in a real ``diffill serve`` of its own and,
in each, types a line of code back character by character (incremental ``didChange`` and an automatic
``textDocument/inlineCompletion`` per keystroke, ``--interval`` apart, as an editor sends them) while a poller
sends ``diffill/status`` every ``--poll`` ms. Reports the status latency (p50, p99, max) while typing in each
document, and the ghost-text latency with the requests one at a time (each keystroke waits for its answer;
the two servers take turns in runs of keystrokes, see ``ghost_latency``). The debounce is off and the gate
open (``debounceMs`` 0, ``adaptiveDebounce`` false, ``minConfidence`` 0), so what is timed is the server's
own work.

Usage: python -m benchmarks.ghost_big_document [--mb 5] [--small-kb 50] [--interval 0.12] [--poll 25]
                                                [--reps 20] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from benchmarks import ghost_client as gc

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
RESULTS = HERE / "results" / "ghost"
LINE = "result = compute_total(values, scale=2)"  # typed back at the cursor
_TOP = re.compile(r"^(def|class) (\w+)", re.M)


def big_text(size: int) -> str:
    """Fixture modules repeated (top-level names suffixed per copy) until ``size`` characters."""
    sources = [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.glob("*.py"))]
    parts, total, copy = [], 0, 0
    while total < size:
        for source in sources:
            renamed = _TOP.sub(lambda m, c=copy: f"{m.group(1)} {m.group(2)}_{c}", source)
            parts.append(renamed if renamed.endswith("\n") else renamed + "\n")
            total += len(parts[-1])
        copy += 1
    return "".join(parts)


def with_cursor_line(text: str) -> tuple[str, int]:
    """``text`` with a function holding an empty indented line put at its middle line; the line's row."""
    lines = text.split("\n")
    middle = len(lines) // 2
    while not lines[middle].startswith("def "):  # a top-level function: the new one goes before it
        middle += 1
    block = ["def place_of_typing(values):", "    total = sum(values)", "    ", "    return total", "", ""]
    lines[middle:middle] = block
    return "\n".join(lines), middle + 2


def small_around(text: str, row: int, size: int) -> tuple[str, int]:
    """Whole lines around ``row``, about ``size`` characters; the row's number in them."""
    lines = text.split("\n")
    per_side, lo, hi = size // 2, row, row
    while lo > 0 and sum(len(s) + 1 for s in lines[lo:row]) < per_side:
        lo -= 1
    while hi < len(lines) and sum(len(s) + 1 for s in lines[row:hi]) < per_side:
        hi += 1
    return "\n".join(lines[lo:hi]), row - lo


class StatusPoller:
    """Sends ``diffill/status`` every ``period`` seconds and records how long each answer took."""

    def __init__(self, client: LanguageClient, period: float) -> None:
        self.client, self.period, self.latencies = client, period, []  # type: ignore[var-annotated]
        self._task: asyncio.Task[None] | None = None
        self._running = False

    async def _run(self) -> None:
        while self._running:
            started = time.perf_counter()
            await self.client.protocol.send_request_async("diffill/status", None)
            self.latencies.append(1000 * (time.perf_counter() - started))
            await asyncio.sleep(self.period)

    async def __aenter__(self) -> StatusPoller:
        self._running = True
        self._task = asyncio.ensure_future(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._running = False  # the request in flight is answered, then the loop ends
        if self._task is not None:
            await self._task


class Typist:
    """Types ``LINE`` at (row, indent) of a document, one incremental ``didChange`` per character."""

    def __init__(self, client: LanguageClient, uri: str, row: int) -> None:
        self.client, self.uri, self.row, self.version, self.typed = client, uri, row, 1, 0

    def reset(self) -> None:
        """Delete what was typed, back to the empty indented line."""
        if self.typed:
            self.version += 1
            rng = types.Range(start=types.Position(self.row, 4), end=types.Position(self.row, 4 + self.typed))
            gc.change_doc(self.client, self.uri, self.version, rng, "")
            self.typed = 0

    def key(self) -> types.Position:
        """Type the next character (starting over after the whole line); the cursor after it."""
        if self.typed == len(LINE):
            self.reset()
        at = types.Position(self.row, 4 + self.typed)
        self.version += 1
        gc.change_doc(self.client, self.uri, self.version, types.Range(start=at, end=at), LINE[self.typed])
        self.typed += 1
        return types.Position(self.row, 4 + self.typed)


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": gc.percentile(values, 0.5),
        "p99_ms": gc.percentile(values, 0.99),
        "max_ms": max(values) if values else float("nan"),
    }


async def typing_session(client: LanguageClient, typist: Typist, keys: int, interval: float, poll: float) -> dict:
    """Keystrokes ``interval`` apart, each with an automatic request not awaited (as an editor sends them),
    and the status latency meanwhile."""
    pending = []
    async with StatusPoller(client, poll) as poller:
        for _ in range(keys):
            position = typist.key()
            pending.append(asyncio.ensure_future(gc.inline(client, typist.uri, position)))
            await asyncio.sleep(interval)
        await asyncio.gather(*pending, return_exceptions=True)
    return summary(poller.latencies)


@dataclass
class Side:
    """One document in its own server: the client, its typist, its log."""

    client: LanguageClient
    typist: Typist
    log_file: Path


async def ghost_latency(sides: dict[str, Side], reps: int, run: int = 5) -> dict[str, dict]:
    """Keystrokes one at a time, each waiting for its answer. Each document has a server of its own, so both
    see the same windows and keystrokes and make the same fills (the same requests are answered from a
    remembered suggestion in both); the two take turns in runs of ``run`` keystrokes, so that the load of
    the machine falls on each alike. Counted: the requests that ran the model (the request log says which;
    requests go one at a time, so its lines are in their order)."""
    done = {name: len(gc.log_lines(side.log_file, "inline#")) for name, side in sides.items()}
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(max(1, reps // run)):
        for name, side in sides.items():
            for _ in range(run):
                position = side.typist.key()
                started = time.perf_counter()
                await gc.inline(side.client, side.typist.uri, position)
                times[name].append(1000 * (time.perf_counter() - started))
    out = {}
    for name, side in sides.items():
        lines = gc.log_lines(side.log_file, "inline#")[done[name] :]
        ran = [t for t, s in zip(times[name], lines) if " ok " in s and "cached=False" in s]
        out[name] = {**summary(ran), "requests": len(times[name]), "cached": len(times[name]) - len(ran)}
    return out


async def opening(client: LanguageClient, uri: str, text: str, poll: float) -> dict:
    """Status latency while the document is opened."""
    async with StatusPoller(client, poll) as poller:
        await asyncio.sleep(0.2)
        gc.open_doc(client, uri, text)
        await asyncio.sleep(1.5)
    return summary(poller.latencies)


async def start_side(args: argparse.Namespace, name: str) -> tuple[LanguageClient, Path]:
    log_file = Path(tempfile.mkdtemp(prefix=f"diffill-big-{name}-")) / "server.log"
    settings = {"debounceMs": 0, "adaptiveDebounce": False, "minConfidence": 0.0, "prefetch": False}
    client = await gc.start(gc.ServerOptions(log_file, settings, args.model, threads=args.threads))
    await gc.wait_ready(client)
    return client, log_file


async def run(args: argparse.Namespace) -> dict[str, Any]:
    big, row = with_cursor_line(big_text(int(args.mb * 1_000_000)))
    small, small_row = small_around(big, row, int(args.small_kb * 1000))
    results: dict[str, Any] = {"sizes": {"big": len(big), "small": len(small)}}
    sides: dict[str, Side] = {}
    try:
        for name, text, at in (("small", small, small_row), ("big", big, row)):
            client, log_file = await start_side(args, name)
            uri = f"file:///bench/{name}.py"
            results[f"open {name}: status"] = await opening(client, uri, text, args.poll / 1000)
            sides[name] = Side(client, Typist(client, uri, at), log_file)
        await ghost_latency(sides, 5)  # warm-up
        for name, latency in (await ghost_latency(sides, args.reps)).items():
            results[f"{name}: ghost latency"] = latency
        for name, side in sides.items():
            side.typist.reset()
            results[f"{name}: status while typing"] = await typing_session(
                side.client, side.typist, args.reps, args.interval, args.poll / 1000
            )
        parse = [
            float(v[:-2]) for s in gc.log_lines(sides["big"].log_file, "inline#") if (v := gc.log_field(s, "parse"))
        ]
        results["big: parse_ms_p50"] = gc.percentile(parse, 0.5)
    finally:
        for side in sides.values():
            await gc.stop(side.client)
    results.update(
        server_logs={name: str(side.log_file) for name, side in sides.items()},
        load_average=os.getloadavg(),
        interval_s=args.interval,
    )
    return results


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mb", type=float, default=5.0, help="size of the big document in MB")
    p.add_argument("--small-kb", type=float, default=50.0, help="size of the small one in KB")
    p.add_argument("--interval", type=float, default=0.12, help="seconds between keystrokes while typing")
    p.add_argument("--poll", type=float, default=25.0, help="ms between status requests")
    p.add_argument("--reps", type=int, default=20, help="keystrokes per measurement")
    p.add_argument("--threads", type=int, default=0, help="torch threads in the server (0: default)")
    p.add_argument("--model", type=Path, default=None)
    p.add_argument("--out", type=Path, default=RESULTS / "big_document.json")
    args = p.parse_args()
    results = asyncio.run(run(args))
    for name, value in results.items():
        if isinstance(value, dict) and "p50_ms" in value:
            print(
                f"{name:<28} n={value['n']:>4} p50 {value['p50_ms']:8.1f} ms  p99 {value['p99_ms']:8.1f} ms  "
                f"max {value['max_ms']:8.1f} ms"
            )
    print(f"big: inline parse phase p50 {results['big: parse_ms_p50']:.1f} ms; load {results['load_average']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
