"""The language server's memory as documents are opened and never closed, then all closed.

Starts ``diffill serve`` (the bundled model unless --model), opens ``--small`` documents of ``--small-kb`` KB
and then ``--large`` documents of ``--large-mb`` MB (real standard-library code, each one unique), asks for
ghost text in each (Invoked: several candidates, each remembered for typing through), and records the
server's RSS (``VmRSS`` of /proc/PID/status) after every batch of ``--batch`` documents; then closes every
document and records it once more. Documents belong to the client (the server keeps what is open, as LSP
wants); what this watches is everything else that grows with them: the "other MB" column is the RSS growth
since the model was ready less the open documents' text as Python holds it ("str MB": 1, 2 or 4 bytes a
character, so a file with one emoji costs 4 bytes a character).

Usage: python -m benchmarks.server_memory [--model DIR | --tiny] [--small 200] [--small-kb 100] [--large 4]
                                          [--large-mb 2.4] [--batch 20] [--steps 4] [--server-root DIR]
                                          [--label TEXT] [--out FILE]
``--server-root`` runs the server of another checkout (e.g. ``git archive`` of an older commit) to compare.
Prints a table and writes it as JSON (default ``benchmarks/results/reliability/server_memory.json``).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import sysconfig
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.lsp_wire import Wire, serve_command, tiny_model

RESULTS = Path(__file__).resolve().parent / "results" / "reliability"
MARKER = "def bench_{i}(a, b):\n    return "  # the cursor goes after this, in the middle of the document


@dataclass
class Row:
    documents: int
    open_mb: float  # text the client has open (UTF-8 MB)
    str_mb: float  # the same text as Python holds it (1, 2 or 4 bytes a character): the server's share of it
    rss_mb: float
    other_mb: float  # RSS growth since the model was ready, beyond the documents' text
    answered: int
    seconds: float


def stdlib_code(limit_bytes: int) -> str:
    """Standard-library modules, concatenated up to ``limit_bytes``."""
    parts, size = [], 0
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        parts.append(text)
        size += len(text.encode())
        if size >= limit_bytes:
            break
    return "".join(parts)


def document(code: str, i: int, size: int) -> tuple[str, dict[str, int]]:
    """A unique document of about ``size`` bytes and the cursor after the ``return`` of its marker function."""
    start = (i * 7919) % max(1, len(code) - size)
    body = code[start : start + size]
    half = body.find("\ndef ", len(body) // 2) + 1 or body.rfind("\n", 0, len(body) // 2) + 1  # not in a string
    head = f"# document {i}\n" + body[:half]
    marker = MARKER.format(i=i)
    line = head.count("\n") + marker.count("\n")
    text = head + marker + "\n" + body[half:]
    return text, {"line": line, "character": len(marker.rsplit("\n", 1)[1])}


def open_and_ask(wire: Wire, i: int, text: str, position: dict[str, int]) -> str:
    uri = f"file:///bench/memory/doc_{i}.py"
    item = {"uri": uri, "languageId": "python", "version": 1, "text": text}
    wire.notify("textDocument/didOpen", {"textDocument": item})
    params = {"textDocument": {"uri": uri}, "position": position, "context": {"triggerKind": 1}}
    return wire.request(f"inline-{i}", "textDocument/inlineCompletion", params)


def start(args: argparse.Namespace, log_file: Path) -> Wire:
    wire = Wire(serve_command(args.model, log_file, "--threads", str(args.threads)), cwd=args.server_root)
    options = {"diffill": {"steps": args.steps, "debounceMs": 0, "prefetch": False}}
    wire.call("init", "initialize", {"processId": None, "capabilities": {}, "initializationOptions": options})
    wire.notify("initialized", {})
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        state = wire.call(f"status-{time.monotonic()}", "diffill/status")["result"]["state"]
        if state in ("ready", "failed"):
            if state == "failed":
                raise SystemExit("the model failed to load; see the server log")
            return wire
        time.sleep(0.2)
    raise SystemExit("the model did not load within 300 s")


def run(args: argparse.Namespace, log_file: Path) -> dict[str, Any]:
    wire = start(args, log_file)
    rss0 = wire.rss_kib() / 1024
    rows = [Row(0, 0.0, 0.0, rss0, 0.0, 0, 0.0)]
    print_row(rows[0])
    code = stdlib_code(int(max(args.small_kb * 1024, args.large_mb * 2**20)) * 2)
    sizes = [int(args.small_kb * 1024)] * args.small + [int(args.large_mb * 2**20)] * args.large
    started, opened, held, answered, pending = time.monotonic(), 0.0, 0.0, 0, []
    for i, size in enumerate(sizes):
        text, position = document(code, i, size)
        opened += len(text.encode()) / 2**20
        held += sys.getsizeof(text) / 2**20
        pending.append(open_and_ask(wire, i, text, position))
        if len(pending) == args.batch or i == len(sizes) - 1:
            missing = wire.wait(pending, timeout=600)
            answered += len(pending) - len(missing)
            pending = []
            rss = wire.rss_kib() / 1024
            elapsed = time.monotonic() - started
            rows.append(Row(i + 1, round(opened, 1), round(held, 1), rss, rss - rss0 - held, answered, elapsed))
            print_row(rows[-1])
    for i in range(len(sizes)):
        wire.notify("textDocument/didClose", {"textDocument": {"uri": f"file:///bench/memory/doc_{i}.py"}})
    wire.call("after-close", "diffill/status")
    closed_rss = wire.rss_kib() / 1024
    code_exit = wire.close()
    return {
        "rows": [asdict(r) for r in rows],
        "rss_after_close_mb": closed_rss,
        "exit_code": code_exit,
        "documents": len(sizes),
        "small_kb": args.small_kb,
        "large_mb": args.large_mb,
        "steps": args.steps,
        "model": str(args.model or "bundled"),
        "machine": platform.node(),
        "python": platform.python_version(),
    }


def print_row(row: Row) -> None:
    print(
        f"{row.documents:>9} {row.open_mb:>9.1f} {row.str_mb:>9.1f} {row.rss_mb:>9.1f} {row.other_mb:>9.1f} "
        f"{row.answered:>8} {row.seconds:>8.1f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="checkpoint directory (default: the bundled model)")
    parser.add_argument("--small", type=int, default=200, help="documents of --small-kb KB")
    parser.add_argument("--small-kb", type=float, default=100.0)
    parser.add_argument("--large", type=int, default=4, help="documents of --large-mb MB, opened after the small")
    parser.add_argument("--large-mb", type=float, default=2.4)
    parser.add_argument("--batch", type=int, default=20, help="documents between two RSS readings")
    parser.add_argument("--steps", type=int, default=4, help="denoising steps per request (memory barely depends)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads of the server")
    parser.add_argument("--tiny", action="store_true", help="build and serve a tiny random model (fast requests)")
    parser.add_argument(
        "--server-root",
        type=Path,
        default=None,
        help="run the server from this checkout (e.g. an older commit's, to compare)",
    )
    parser.add_argument("--label", default="", help="a note stored with the results (e.g. before/after)")
    parser.add_argument("--out", type=Path, default=RESULTS / "server_memory.json")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="diffill-memory-"))
    log_file = scratch / "server.log"
    if args.tiny:
        args.model = tiny_model(scratch / "tiny-model")
    print(f"server log: {log_file}")
    print(
        f"{'documents':>9} {'UTF-8 MB':>9} {'str MB':>9} {'RSS MB':>9} {'other MB':>9} {'answered':>8} {'seconds':>8}"
    )
    result = run(args, log_file)
    result["label"] = args.label
    print(f"after closing every document: RSS {result['rss_after_close_mb']:.1f} MB; exit code {result['exit_code']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
