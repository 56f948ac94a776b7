"""A recorded typing session replayed against a real server: what the debounce saves and what it costs.

``record`` writes a seeded, human-like session as a JSON trace (``benchmarks/fixtures/typing_session.json``):
a function of a held-out module (this repository's ``window.py``, frozen in ``benchmarks/fixtures/``)
typed back one character at a time, with per-character intervals drawn around a typist's speed, faster
inside words, longer at spaces and punctuation, thinking pauses at line ends and now and then inside a line,
and typos deleted again. A line break comes with its indentation, as an editor's auto-indent inserts it.

``replay`` plays the trace against a fresh ``diffill serve`` per debounce setting (fixed waits and the
adaptive debounce): each event is an incremental ``didChange`` and an automatic
``textDocument/inlineCompletion`` at the new cursor, sent at the recorded time without waiting for earlier
answers (superseded requests are left to the server's newest-wins rule). It reports, per setting:

- **generations**: requests that ran on the model (read from the request log: ``ok``/``gated`` ones not
  answered from a remembered suggestion, and ``stopped`` ones that had started, ``ran=True``);
- **shown**: answers with an item that arrived before the next keystroke (ghost text the user could see);
- **after a pause**: for keystrokes followed by at least ``--pause`` seconds of rest, the latency from the
  keystroke to ghost text (p50, p90) and how many of those pauses got ghost text at all.

The gate is open (``minConfidence`` 0) so that every generation's answer counts as ghost text.

Usage: python -m benchmarks.ghost_typing_replay record [--seed 0] [--median 0.13] [--trace FILE]
       python -m benchmarks.ghost_typing_replay replay [--trace FILE] [--fixed 0 150 300] [--out FILE] [--merge]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import random
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types

from benchmarks import ghost_client as gc
from lsp_server.edits import LineIndex

HERE = Path(__file__).resolve().parent
TRACE = HERE / "fixtures" / "typing_session.json"
SOURCE = HERE / "fixtures" / "window.py"
FUNCTIONS = ("cut_suffix",)
RESULTS = HERE / "results" / "ghost"


# --- recording ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Typist:
    """How fast and how steadily the simulated user types (seconds)."""

    median_s: float = 0.13  # a character inside a word
    spread: float = 0.35  # lognormal sigma
    boundary: float = 1.6  # a space or punctuation takes this much longer
    line_pause_p: float = 0.35  # chance of a thinking pause after a line
    pause_p: float = 0.05  # chance of a pause before any other character
    pause_s: tuple[float, float] = (0.7, 2.5)
    typo_p: float = 0.015  # chance of a wrong character, deleted again


def _cut_functions(source: str, names: tuple[str, ...]) -> tuple[str, list[tuple[int, str]]]:
    """``source`` without the named top-level functions (their lines; the blank lines around them stay, so
    each is typed on an empty line), and (where, text) of each cut, in order."""
    cuts, out, cursor = [], [], 0
    for name in names:
        start = re.search(rf"^def {re.escape(name)}\(", source, re.M)
        if start is None:
            raise SystemExit(f"{name} not found")
        following = re.search(r"^(def |class |@)", source[start.end() :], re.M)
        end = start.end() + following.start() if following else len(source)
        body = source[start.start() : end].rstrip("\n") + "\n"
        out.append(source[cursor : start.start()])
        cuts.append((sum(len(p) for p in out), body))
        cursor = start.start() + len(body)
    out.append(source[cursor:])
    return "".join(out), cuts


def _interval(rng: random.Random, typist: Typist, ch: str) -> float:
    gap = rng.lognormvariate(math.log(typist.median_s), typist.spread)
    if not (ch.isalnum() or ch == "_"):
        gap *= typist.boundary
    if rng.random() < typist.pause_p:
        gap += rng.uniform(*typist.pause_s)
    return gap


def _typed_line(rng: random.Random, typist: Typist, content: str, offset: int, now: float) -> tuple[list, float]:
    """Events typing ``content`` at ``offset`` from time ``now`` (typos deleted again); and the time after."""
    events: list[dict[str, Any]] = []
    for ch in content:
        if rng.random() < typist.typo_p:
            events.append({"t": round(now, 3), "offset": offset, "delete": 0, "insert": rng.choice("etaoinsr")})
            now += _interval(rng, typist, "x") * 2
            events.append({"t": round(now, 3), "offset": offset, "delete": 1, "insert": ""})
            now += _interval(rng, typist, "x")
        events.append({"t": round(now, 3), "offset": offset, "delete": 0, "insert": ch})
        offset += 1
        now += _interval(rng, typist, ch)
    return events, now


def record(seed: int, typist: Typist | None = None) -> dict[str, Any]:
    """The trace: the initial text and the events (time, offset, characters deleted, text inserted)."""
    typist, rng = typist or Typist(), random.Random(seed)
    initial, cuts = _cut_functions(SOURCE.read_text(encoding="utf-8"), FUNCTIONS)
    events: list[dict[str, Any]] = []
    now, shift = 1.0, 0
    for where, body in cuts:
        offset = where + shift
        for i, line in enumerate(body.split("\n")):
            content = line.lstrip(" ")
            if i:  # the line break, with this line's indentation (auto-indent)
                indent = "\n" + line[: len(line) - len(content)]
                events.append({"t": round(now, 3), "offset": offset, "delete": 0, "insert": indent})
                offset += len(indent)
                now += _interval(rng, typist, "\n")
                now += rng.uniform(*typist.pause_s) if rng.random() < typist.line_pause_p else 0.0
            typed, now = _typed_line(rng, typist, content, offset, now)
            events += typed
            offset += len(content)
        now += rng.uniform(*typist.pause_s)
        shift += len(body)
    return {
        "source": SOURCE.name,
        "functions": list(FUNCTIONS),
        "seed": seed,
        "typist": typist.__dict__,
        "initial": initial,
        "events": events,
    }


# --- replaying ----------------------------------------------------------------------------------


@dataclass
class Sent:
    t: float  # when the keystroke was sent (seconds since the start)
    answered: float | None = None
    items: int = 0


async def replay_one(trace: dict[str, Any], settings: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    log_file = Path(tempfile.mkdtemp(prefix="diffill-replay-")) / "server.log"
    full = {"minConfidence": 0.0, "prefetch": False, **settings}
    client = await gc.start(gc.ServerOptions(log_file, full, args.model, threads=args.threads))
    uri, text, version = "file:///replay/window.py", trace["initial"], 1
    sent: list[Sent] = []
    try:
        await gc.wait_ready(client)
        gc.open_doc(client, uri, text)
        await asyncio.sleep(1.0)
        tasks = []
        start = time.perf_counter()
        for event in trace["events"]:
            delay = event["t"] - (time.perf_counter() - start)
            if delay > 0:
                await asyncio.sleep(delay)
            index = LineIndex(text)
            a, b = event["offset"], event["offset"] + event["delete"]
            version += 1
            gc.change_doc(client, uri, version, index.range(a, b), event["insert"])
            text = text[:a] + event["insert"] + text[b:]
            cursor = LineIndex(text).position(a + len(event["insert"]))
            record = Sent(time.perf_counter() - start)
            sent.append(record)
            tasks.append(asyncio.ensure_future(_ask(client, uri, cursor, record, start)))
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await gc.stop(client)
    return _measure(trace, sent, log_file, args.pause)


async def _ask(client: Any, uri: str, cursor: types.Position, record: Sent, start: float) -> None:
    items = await gc.inline(client, uri, cursor)
    record.answered, record.items = time.perf_counter() - start, len(items)


def _measure(trace: dict[str, Any], sent: list[Sent], log_file: Path, pause: float) -> dict[str, Any]:
    lines = gc.log_lines(log_file, "inline#")
    generations = sum(
        1
        for s in lines
        if (" ok " in s and "cached=False" in s) or " gated " in s or (" stopped " in s and "ran=True" in s)
    )
    times = [e["t"] for e in trace["events"]]
    gaps = [b - a for a, b in itertools.pairwise(times)] + [math.inf]
    shown = sum(1 for r, gap in zip(sent, gaps) if r.items and r.answered is not None and r.answered - r.t < gap)
    pauses = [(r, gap) for r, gap in zip(sent, gaps) if gap >= pause]
    latencies = [
        1000 * (r.answered - r.t) for r, gap in pauses if r.items and r.answered is not None and r.answered - r.t < gap
    ]
    debounce = [float(v[:-2]) for s in lines if (v := gc.log_field(s, "debounce"))]
    return {
        "keystrokes": len(sent),
        "generations": generations,
        "shown": shown,
        "pauses": len(pauses),
        "pauses_with_ghost_text": len(latencies),
        "after_pause_p50_ms": gc.percentile(latencies, 0.5),
        "after_pause_p90_ms": gc.percentile(latencies, 0.9),
        "debounce_p50_ms": gc.percentile(debounce, 0.5),
        "server_log": str(log_file),
    }


async def replay(args: argparse.Namespace) -> dict[str, Any]:
    trace = json.loads(args.trace.read_text(encoding="utf-8"))
    configs = {f"fixed {ms} ms": {"adaptiveDebounce": False, "debounceMs": ms} for ms in args.fixed}
    configs["adaptive"] = {"adaptiveDebounce": True, "debounceMs": 0}
    results = {}
    for name, settings in configs.items():
        results[name] = await replay_one(trace, settings, args)
        r = results[name]
        print(
            f"{name:<16} generations {r['generations']:>4}/{r['keystrokes']}  shown {r['shown']:>4}  pauses "
            f"{r['pauses_with_ghost_text']:>3}/{r['pauses']} with ghost text, after a pause p50 "
            f"{r['after_pause_p50_ms']:7.1f} ms p90 {r['after_pause_p90_ms']:7.1f} ms",
            flush=True,
        )
    return {"trace": str(args.trace), "results": results, "load_average": os.getloadavg()}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="write the trace")
    rec.add_argument("--seed", type=int, default=0)
    rec.add_argument("--median", type=float, default=Typist.median_s, help="median seconds per character")
    rec.add_argument("--trace", type=Path, default=TRACE)
    rep = sub.add_parser("replay", help="replay the trace against real servers")
    rep.add_argument("--trace", type=Path, default=TRACE)
    rep.add_argument("--fixed", type=int, nargs="*", default=[0, 150, 300], help="fixed debounces (ms)")
    rep.add_argument("--pause", type=float, default=0.6, help="a rest of at least this many seconds is a pause")
    rep.add_argument("--threads", type=int, default=0)
    rep.add_argument("--model", type=Path, default=None)
    rep.add_argument("--out", type=Path, default=RESULTS / "typing_replay.json")
    rep.add_argument("--merge", action="store_true", help="add to --out's results instead of replacing them")
    args = p.parse_args()
    if args.command == "record":
        trace = record(args.seed, Typist(median_s=args.median))
        args.trace.write_text(json.dumps(trace, indent=0) + "\n", encoding="utf-8")
        ev = trace["events"]
        print(f"wrote {args.trace}: {len(ev)} events over {ev[-1]['t']:.1f} s")
        return 0
    out = asyncio.run(replay(args))
    if args.merge and args.out.is_file():  # keep the settings measured before that were not measured again
        before = json.loads(args.out.read_text(encoding="utf-8"))
        if before.get("trace") == out["trace"]:
            out["results"] = {**before["results"], **out["results"]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
