"""Latency of the language server as an editor sees it: request sent to response read, over stdio.

Starts ``diffill serve`` (the bundled model unless --model), opens real Python modules and times, N times
each: single-line ghost text (``textDocument/inlineCompletion``, Automatic, on an emptied line inside a
function) cold and while typing, a 3-hole fill (``diffill/fill``) and a 20-line rewrite (``diffill/fill``
with a range).

- Ghost text, cold: each request is in another file than the one before, so none can build on the context
  states the previous request left (``lsp_server/reuse.py``): every one pays a full encoder pass.
- Ghost text while typing: the emptied line is typed back one character at a time (``didChange``, then a
  request at the new cursor; when the line is complete it is emptied again), as an editor sends them with
  no debounce. These requests reuse the previous one's states, and a keystroke that types what the last
  suggestion showed is answered from it (``lsp_server/suggestions.py``).
- Ghost text after the cursor rested: in another file each time, the cursor comes to rest on the emptied
  line (``diffill/prefetch``, as the editor plugins send it; the bench waits for the server to finish it,
  as a user's pause would), then the first character of the line is typed and the request timed.

Each ghost-text case also counts its requests that started from earlier states (``warm`` in the log) and
those answered from a remembered suggestion (``cached``), with the p50 of each kind. So that no suggestion
from an earlier round is remembered, each file is closed and opened again before a round (a cold request,
a rest, a line typed again).

Usage: python benchmarks/server_latency.py [--model DIR] [--device cpu] [--dtype int8] [--steps 16] [--threads 1]
                                           [--reps 20] [--file PY] [--out FILE]
Prints p50/p95 in milliseconds and writes them as JSON; the server's own log (per-request phase timings)
goes to a temporary file whose path is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import sys
import tempfile
import time
import tokenize
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from benchmarks.ghost_client import wait_ready

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"  # frozen copies of modules of this repository, so the workload never drifts
DEFAULT_FILE = FIXTURES / "window.py"
COLD_FILES = ("infill.py", "denoise.py", "context_cache.py", "jobs.py")  # other modules for cold ghost text
URI = "file:///bench/{name}.py"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ghost_case(text: str) -> tuple[str, types.Position, str]:
    """Empty one indented line in the middle of a function body: the cursor sits after its indentation.

    Returns the text, the cursor and the line's code (what typing it back would add)."""
    lines = text.split("\n")
    strings = _string_rows(text)
    for row in range(len(lines) // 2, len(lines)):
        line, prev = lines[row], lines[row - 1]
        indent = line[: len(line) - len(line.lstrip())]
        if row in strings or prev.rstrip().endswith(":"):
            continue
        if indent and line.strip() and not line.strip().startswith(("#", '"', "'")):
            lines[row] = indent
            return "\n".join(lines), types.Position(line=row, character=len(indent)), line.strip()
    raise SystemExit("no indented line to empty in the second half of the file")


def _string_rows(text: str) -> set[int]:
    """0-based rows that a string literal spans (docstrings), where the server offers no ghost text."""
    rows: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.STRING:
            rows.update(range(token.start[0] - 1, token.end[0]))
    return rows


def holes_case(text: str, holes: int = 3) -> str:
    """Replace the code of ``holes`` indented lines, spread over the file, with ``???``."""
    lines = text.split("\n")
    rows = [i for i, s in enumerate(lines) if s.startswith("    ") and s.strip() and not s.strip().startswith("#")]
    for row in rows[len(rows) // (holes + 1) :: max(1, len(rows) // (holes + 1))][:holes]:
        lines[row] = lines[row][: len(lines[row]) - len(lines[row].lstrip())] + "???"
    return "\n".join(lines)


def rewrite_range(text: str, lines: int = 20) -> types.Range:
    """Whole lines from the middle of the file."""
    start = max(0, len(text.split("\n")) // 2 - lines // 2)
    begin, end = types.Position(line=start, character=0), types.Position(line=start + lines, character=0)
    return types.Range(start=begin, end=end)


async def start_server(args: argparse.Namespace, log_file: Path) -> LanguageClient:
    cmd = [sys.executable, "-m", "lsp_server.cli", "serve", "--log-file", str(log_file), "--threads", str(args.threads)]
    if args.model:
        cmd += ["--model", str(args.model)]
    cmd += ["--device", args.device, "--dtype", args.dtype, "--compile", args.compile]
    client = LanguageClient("diffill-bench", "0")
    client.feature("diffill/statusChanged")(lambda params: None)
    await client.start_io(*cmd)
    options = {"diffill": {"steps": args.steps, "debounceMs": 0}}
    await client.initialize_async(
        types.InitializeParams(capabilities=types.ClientCapabilities(), initialization_options=options)
    )
    client.initialized(types.InitializedParams())
    return client


def open_doc(client: LanguageClient, name: str, text: str) -> str:
    uri = URI.format(name=name)
    item = types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=item))
    return uri


async def timed(
    reps: int, call: Callable[[], Awaitable[int]], prepare: Callable[[], Awaitable[object]] | None = None
) -> dict[str, float]:
    """Run ``call`` (which returns how many items/edits came back) ``reps`` times after one warm-up;
    ``prepare`` runs, untimed, before each call."""
    if prepare is not None:
        await prepare()
    await call()
    times, empty = [], 0
    for _ in range(reps):
        if prepare is not None:
            await prepare()
        started = time.perf_counter()
        count = await call()
        times.append(1000 * (time.perf_counter() - started))
        empty += count == 0
    return {
        "n": reps,
        "p50_ms": percentile(times, 0.5),
        "p95_ms": percentile(times, 0.95),
        "mean_ms": sum(times) / len(times),
        "empty": empty,
        "times_ms": times,
    }


def log_lines(log_file: Path, marker: str) -> list[str]:
    """The server log's lines that contain ``marker``."""
    return [s for s in log_file.read_text(encoding="utf-8").splitlines() if marker in s]


async def wait_for(done: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit("the server did not log the prefetch in time")
        await asyncio.sleep(0.01)


async def counted_warm(log_file: Path, timing: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    """``timing``'s result with ``warm`` and ``cached``: how many of its ghost-text requests (warm-up
    included) started from the states an earlier request or prefetch left, and how many were answered from
    a remembered suggestion; and the p50 of the timed ones of each kind."""
    before = len(log_lines(log_file, "inline#"))
    result = await timing
    lines = log_lines(log_file, "inline#")[before:]
    cached = ["cached=True" in s for s in lines[-len(result["times_ms"]) :]]
    kinds = {"cached": [t for t, c in zip(result["times_ms"], cached) if c]}
    kinds["model"] = [t for t, c in zip(result["times_ms"], cached) if not c]
    return {
        **result,
        "warm": sum("warm=True" in s for s in lines),
        "cached": sum("cached=True" in s for s in lines),
        "requests": len(lines),
        **{f"p50_{k}_ms": percentile(v, 0.5) for k, v in kinds.items() if v},
    }


def reopen(client: LanguageClient, uri: str, text: str) -> None:
    """Close a document and open it again: the server forgets the suggestions it remembered there."""
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)
        )
    )


class Typist:
    """Types a line's code back one character at a time (``didChange`` with the whole text, then a request)."""

    def __init__(self, client: LanguageClient, uri: str, text: str, cursor: types.Position, code: str) -> None:
        self.client, self.uri, self.code = client, uri, code
        self.lines = text.split("\n")
        self.row, self.indent = cursor.line, self.lines[cursor.line]
        self.typed, self.version = 0, 1

    def next_keystroke(self) -> types.Position:
        if self.typed == len(self.code):  # a complete line is emptied again, in the document opened again
            self.empty()
        self.typed += 1
        return self._send()

    def empty(self) -> types.Position:
        """Empty the line again, in the document closed and opened again; the cursor after its indentation."""
        self.typed, self.version = 0, 1
        self.lines[self.row] = self.indent
        reopen(self.client, self.uri, "\n".join(self.lines))
        return types.Position(line=self.row, character=len(self.indent))

    def _send(self) -> types.Position:
        self.lines[self.row] = self.indent + self.code[: self.typed]
        self.version += 1
        change = types.TextDocumentContentChangeWholeDocument(text="\n".join(self.lines))
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=self.uri, version=self.version),
                content_changes=[change],
            )
        )
        return types.Position(line=self.row, character=len(self.indent) + self.typed)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    source = args.file.read_text(encoding="utf-8")
    log_file = Path(tempfile.mkdtemp(prefix="diffill-bench-")) / "server.log"
    client = await start_server(args, log_file)
    try:
        status = await wait_ready(client)
        ghost_text, cursor, code = ghost_case(source)
        ghost_uri = open_doc(client, "ghost", ghost_text)
        cold, resting = [], []
        for name in COLD_FILES:
            text, position, line = ghost_case((FIXTURES / name).read_text(encoding="utf-8"))
            cold.append((open_doc(client, f"cold-{name}", text), position, text))
            rest_uri = open_doc(client, f"rest-{name}", text)
            resting.append((rest_uri, Typist(client, rest_uri, text, position, line)))
        typist = Typist(client, ghost_uri, ghost_text, cursor, code)
        turn = 0
        holes_uri = open_doc(client, "holes", holes_case(source))
        rewrite_uri = open_doc(client, "rewrite", source)
        region = rewrite_range(source)

        async def ghost(uri: str, position: types.Position) -> int:
            params = types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=position,
                context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
            )
            result = await client.text_document_inline_completion_async(params)
            return len(result.items) if isinstance(result, types.InlineCompletionList) else len(result or [])

        async def next_cold() -> None:
            nonlocal turn
            turn += 1
            uri, _, text = cold[turn % len(cold)]
            reopen(client, uri, text)

        async def ghost_cold() -> int:
            uri, position, _ = cold[turn % len(cold)]
            return await ghost(uri, position)

        async def ghost_typing() -> int:
            return await ghost(ghost_uri, typist.next_keystroke())

        async def rest_cursor() -> None:
            """In the next file, empty the line, rest the cursor there and wait for the prefetch to run."""
            nonlocal turn
            turn += 1
            uri, rest = resting[turn % len(resting)]
            cursor = rest.empty()
            done = len(log_lines(log_file, "prefetch#"))
            params = {"textDocument": {"uri": uri}, "position": client.protocol._converter.unstructure(cursor)}
            client.protocol.notify("diffill/prefetch", params)
            await wait_for(lambda: len(log_lines(log_file, "prefetch#")) > done)

        async def ghost_after_rest() -> int:
            uri, rest = resting[turn % len(resting)]
            return await ghost(uri, rest.next_keystroke())

        async def fill(uri: str, rng: types.Range | None) -> int:
            params: dict[str, Any] = {"textDocument": {"uri": uri}}
            if rng is not None:
                params["range"] = client.protocol._converter.unstructure(rng)
            return len((await client.protocol.send_request_async("diffill/fill", params)).edits)

        results = {
            "ghost text, cold": await counted_warm(log_file, timed(args.reps, ghost_cold, next_cold)),
            "ghost text, typing": await counted_warm(log_file, timed(args.reps, ghost_typing)),
            "ghost text, after rest": await counted_warm(log_file, timed(args.reps, ghost_after_rest, rest_cursor)),
            "3-hole fill": await timed(args.reps, lambda: fill(holes_uri, None)),
            "20-line rewrite": await timed(args.reps, lambda: fill(rewrite_uri, region)),
        }
        return {
            "model": status.model,
            "device": status.device,
            "dtype": args.dtype,
            "compile": args.compile,
            "steps": args.steps,
            "threads": args.threads,
            "file": str(args.file),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "server_log": str(log_file),
            "results": results,
        }
    finally:
        await client.shutdown_async(None)
        client.exit(None)
        await client.stop()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=None, help="checkpoint directory (default: bundled)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--dtype", default="auto", help="weights dtype, as for diffill serve (auto, bfloat16, int8, ...)")
    p.add_argument(
        "--compile",
        default="off",
        help="torch.compile in the server, as for diffill serve (GPU: reduce-overhead records CUDA graphs)",
    )
    p.add_argument("--steps", type=int, default=16, help="denoising steps")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads in the server (0: torch's default)")
    p.add_argument("--reps", type=int, default=20, help="timed requests per case (after one warm-up)")
    p.add_argument("--file", type=Path, default=DEFAULT_FILE, help="the Python file to open")
    p.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = p.parse_args()
    report = asyncio.run(run(args))
    print(f"model {report['model']} on {report['device']} ({report['machine']}), steps {args.steps}")
    print(
        f"{'case':<24} {'n':>4} {'p50 ms':>9} {'p95 ms':>9} {'mean ms':>9} {'empty':>6} {'warm':>6} "
        f"{'cached':>7} {'p50 model':>10}"
    )
    for name, r in report["results"].items():
        warm = f"{r['warm']}/{r['requests']}" if "warm" in r else "-"
        cached = f"{r['cached']}/{r['requests']}" if "cached" in r else "-"
        model = f"{r['p50_model_ms']:.1f}" if "p50_model_ms" in r else "-"
        print(
            f"{name:<24} {r['n']:>4} {r['p50_ms']:>9.1f} {r['p95_ms']:>9.1f} {r['mean_ms']:>9.1f} {r['empty']:>6} "
            f"{warm:>6} {cached:>7} {model:>10}"
        )
    print(f"server log: {report['server_log']}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
