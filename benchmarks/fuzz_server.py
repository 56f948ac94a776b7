"""Fuzz a real ``diffill serve`` over stdio and check that it answers every request and survives.

Drives the server as an editor would (initialize, wait for the model, open documents), then sends
``--messages`` seeded cases (``benchmarks/fuzz_cases.py``: valid, out-of-range and mutated requests of every
method, document traffic, malformed bodies and frames) in batches, waiting after each batch for its answers.
The server's own requests (``workspace/applyEdit``, progress) are answered as an editor would, or with a wrong
result or an error. At the end the server must still answer ``diffill/status`` and exit with 0 on
shutdown/exit.

It counts what was sent (by kind) and what came back: answers, errors by code, replies with a null id,
requests never answered, answers twice to one id, the server's log (bytes, lines, tracebacks) and its RSS.
The same seed sends the same bytes (``sent_sha256``); what comes back can differ a little with timing
(a cancel that comes before or after its request ends).

Usage: python -m benchmarks.fuzz_server [--seed 0] [--messages 500] [--model DIR | --tiny] [--batch 20]
                                        [--out FILE]
Prints the counts and writes them as JSON (default ``benchmarks/results/reliability/fuzz_server.json``); exits
1 when a request went unanswered, the server crashed, or it did not exit cleanly.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.fuzz_cases import Case, Cases
from benchmarks.lsp_wire import Answer, Wire, polite_answer, serve_command, tiny_model

RESULTS = Path(__file__).resolve().parent / "results" / "reliability"
LOAD_TIMEOUT_S = 300.0
SKIP_COMMANDS = ("diffill.adaptNow",)  # it trains on the workspace: minutes of work, not a parsing question
CAPABILITIES: dict[str, Any] = {
    "workspace": {"applyEdit": True, "workspaceEdit": {"documentChanges": True}, "configuration": True},
    "window": {"workDoneProgress": True},
    "textDocument": {"codeAction": {"resolveSupport": {"properties": ["edit"]}}},
}


@dataclass
class Report:
    seed: int
    messages: int
    sent_sha256: str = ""
    sent_by_kind: dict[str, int] = field(default_factory=dict)
    requests: int = 0  # cases that must be answered
    answered: int = 0
    unanswered: list[str] = field(default_factory=list)  # "kind id"
    maybe: int = 0  # cases cut before their id could be read: may be answered
    maybe_answered: int = 0
    twice: list[str] = field(default_factory=list)  # ids answered more than once
    errors_by_code: dict[str, int] = field(default_factory=dict)
    null_errors: int = 0
    null_errors_expected: list[int] = field(default_factory=lambda: [0, 0])  # at least, at most
    server_requests: dict[str, int] = field(default_factory=dict)
    unreadable_frames: int = 0  # frames from the server that were not JSON
    crashed: bool = False
    alive_at_end: bool = False
    exit_code: int | None = None
    rss_mb: list[float] = field(default_factory=list)  # ready, after the cases
    log_bytes: int = 0
    log_lines: int = 0
    bad_message_lines: int = 0
    tracebacks: int = 0
    traceback_ends: list[str] = field(default_factory=list)  # each traceback's last line
    seconds: float = 0.0
    mutated_paths: int = 0

    @property
    def ok(self) -> bool:
        lo, hi = self.null_errors_expected
        return (
            not self.unanswered and not self.twice and not self.crashed and self.alive_at_end
            and self.exit_code == 0 and lo <= self.null_errors <= hi and not self.unreadable_frames
        )  # fmt: skip


def fuzz_answer(seed: int) -> Answer:
    """Answers to the server's requests: mostly an editor's, else null, a wrong result, or an error."""
    counts: Counter[str] = Counter()

    def answer(request: dict[str, Any]) -> dict[str, Any]:
        method = str(request.get("method"))
        counts[method] += 1
        roll = random.Random(f"{seed}:{method}:{counts[method]}").random()
        if roll < 0.6:
            return polite_answer(request)
        if roll < 0.8:
            return {"jsonrpc": "2.0", "id": request.get("id"), "error": {"code": -32603, "message": "fuzz"}}
        wrong = [None, "x", 5, {"applied": "yes"}, []][counts[method] % 5]
        return {"jsonrpc": "2.0", "id": request.get("id"), "result": wrong}

    return answer


def start(
    model: Path | None, log_file: Path, seed: int, timeout: float, root: Path | None = None
) -> tuple[Wire, list[str]]:
    """A server initialized with a capable client, its model loaded; and its commands."""
    wire = Wire(serve_command(model, log_file, "--threads", "1"), answer=fuzz_answer(seed), cwd=root)
    options = {"diffill": {"steps": 4, "debounceMs": 0}}
    params = {"processId": None, "capabilities": CAPABILITIES, "initializationOptions": options}
    init = wire.call("fuzz-init", "initialize", params, LOAD_TIMEOUT_S)
    wire.notify("initialized", {})
    deadline = time.monotonic() + LOAD_TIMEOUT_S
    while wire.call(f"fuzz-ready-{time.monotonic()}", "diffill/status", None, timeout)["result"]["state"] != "ready":
        if time.monotonic() > deadline:
            raise SystemExit(f"the model did not load within {LOAD_TIMEOUT_S} s; see {log_file}")
        time.sleep(0.1)
    commands = init["result"]["capabilities"].get("executeCommandProvider", {}).get("commands", [])
    return wire, [c for c in commands if c not in SKIP_COMMANDS]


def send(wire: Wire, cases: list[Case], batch: int, timeout: float) -> str:
    """Send the cases, a batch at a time, waiting for each batch's answers; the sha256 of what was sent."""
    digest = hashlib.sha256()
    for begin in range(0, len(cases), batch):
        chunk = cases[begin : begin + batch]
        for case in chunk:
            wire.send_raw(case.data)
            digest.update(case.data)
        if wire.proc.poll() is not None:
            break
        wire.wait([c.answer for c in chunk if c.answer], timeout)
    return digest.hexdigest()


def account(report: Report, wire: Wire, cases: list[Case], timeout: float) -> None:
    """What came back for the cases."""
    report.sent_by_kind = dict(Counter(c.kind for c in cases).most_common())
    must = {c.answer: c for c in cases if c.answer}
    missing = wire.wait(must, timeout)
    report.requests, report.answered = len(must), len(must) - len(missing)
    report.unanswered = sorted(f"{must[k].kind} {k}" for k in missing)
    maybe = [c.maybe for c in cases if c.maybe]
    report.maybe, report.maybe_answered = len(maybe), sum(k in wire.responses for k in maybe)
    report.twice = sorted(k for k, replies in wire.responses.items() if len(replies) > 1)
    codes = Counter(str(r.get("error", {}).get("code", "result")) for rs in wire.responses.values() for r in rs)
    codes.update(str(e.get("error", {}).get("code")) + " (id null)" for e in wire.null_errors)
    report.errors_by_code = dict(sorted(codes.items()))
    report.null_errors = len(wire.null_errors)
    low = sum(c.null_errors for c in cases)
    report.null_errors_expected = [low, low + sum(c.maybe_null for c in cases)]
    report.server_requests = dict(wire.server_requests)
    report.unreadable_frames = wire.unreadable


def read_log(report: Report, log_file: Path) -> None:
    text = log_file.read_text(encoding="utf-8", errors="replace") if log_file.exists() else ""
    report.log_bytes, report.log_lines = len(text.encode()), text.count("\n")
    report.bad_message_lines = text.count(" bad message (")
    report.tracebacks = text.count("Traceback (most recent call last)")
    report.traceback_ends = _traceback_ends(text.splitlines())


def _traceback_ends(lines: list[str]) -> list[str]:
    """The exception line that ends each traceback in the log (the first unindented line after it)."""
    ends, inside = [], False
    for line in lines:
        if line.startswith("Traceback (most recent call last)"):
            inside = True
        elif inside and line and not line[0].isspace():
            ends.append(line)
            inside = False
    return ends


def run(
    model: Path | None,
    seed: int,
    messages: int,
    log_file: Path,
    batch: int = 20,
    timeout: float = 120.0,
    huge_documents: int = 1,
    huge_bodies: int = 1,
    root: Path | None = None,
) -> Report:
    """One fuzzing session against a fresh server (run from ``root``, a checkout, when given)."""
    report, started = Report(seed, messages), time.monotonic()
    wire, commands = start(model, log_file, seed, timeout, root)
    report.rss_mb.append(wire.rss_kib() / 1024)
    generator = Cases(seed, commands, huge_documents, huge_bodies)
    cases = generator.make(messages)
    report.mutated_paths = len(generator.mutated_paths)
    report.sent_sha256 = send(wire, cases, batch, timeout)
    report.crashed = wire.proc.poll() is not None
    if not report.crashed:
        # the server reads in order: once this is answered, every error with a null id is in as well
        try:
            report.alive_at_end = "result" in wire.call("fuzz-alive", "diffill/status", None, timeout)
        except AssertionError:
            report.alive_at_end = False
        report.rss_mb.append(wire.rss_kib() / 1024)
    account(report, wire, cases, timeout)
    report.crashed = wire.proc.poll() is not None
    report.exit_code = wire.close(timeout) if not report.crashed else wire.proc.returncode
    report.seconds = round(time.monotonic() - started, 1)
    read_log(report, log_file)
    return report


def summary(report: Report) -> str:
    lo, hi = report.null_errors_expected
    lines = [
        f"seed {report.seed}: {sum(report.sent_by_kind.values())} messages sent in {report.seconds} s "
        f"({report.mutated_paths} param paths mutated)",
        f"requests {report.requests}: answered {report.answered}, unanswered {len(report.unanswered)}, "
        f"answered twice {len(report.twice)}; cut-short frames answered {report.maybe_answered}/{report.maybe}",
        f"replies by code: {report.errors_by_code}",
        f"null-id errors {report.null_errors} (expected {lo}..{hi}); server requests {report.server_requests}",
        f"crashed {report.crashed}, alive at end {report.alive_at_end}, exit code {report.exit_code}, "
        f"RSS MB {[round(r) for r in report.rss_mb]}",
        f"log: {report.log_bytes} bytes, {report.log_lines} lines, {report.bad_message_lines} bad-message lines, "
        f"{report.tracebacks} tracebacks",
    ]
    lines += [f"  unanswered: {u}" for u in report.unanswered[:20]]
    lines += [f"  traceback: {end}" for end in report.traceback_ends[:10]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--messages", type=int, default=500, help="cases to send (after opening 4 documents)")
    parser.add_argument("--model", type=Path, default=None, help="checkpoint directory (default: the bundled model)")
    parser.add_argument("--tiny", action="store_true", help="build and serve a tiny random model (fast requests)")
    parser.add_argument("--batch", type=int, default=20, help="cases sent before waiting for their answers")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for a batch's answers")
    parser.add_argument("--huge-documents", type=int, default=1, help="2.4 MB documents opened among the cases")
    parser.add_argument("--huge-bodies", type=int, default=1, help="bodies over the server's 32 MiB limit")
    parser.add_argument(
        "--server-root",
        type=Path,
        default=None,
        help="run the server from this checkout (e.g. an older commit's, to compare)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "fuzz_server.json")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="diffill-fuzz-"))
    model = tiny_model(scratch / "tiny-model") if args.tiny else args.model
    log_file = scratch / "server.log"
    print(f"server log: {log_file}", flush=True)
    report = run(model, args.seed, args.messages, log_file, args.batch, args.timeout, args.huge_documents,
                 args.huge_bodies, args.server_root)  # fmt: skip
    print(summary(report))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({**asdict(report), "ok": report.ok, "model": str(model or "bundled")}, indent=2))
    print(f"wrote {args.out}; {'ok' if report.ok else 'FAILED'}")
    sys.exit(0 if report.ok else 1)


if __name__ == "__main__":
    main()
