"""Ghost-text latency through the real server with and without a background adaptation running.

Starts ``diffill serve`` on a workspace folder, times cold ghost-text requests (each in a document opened
for it and closed after, so that nothing remembered or reused answers it: every request is a model run),
then starts learning the workspace (``diffill.adaptNow``) and times the same requests while the adapter
process trains, with a pause between requests (``--gap``) in which it does, and reports p50/p95 of both and
how far the adaptation got meanwhile.
The server stops the adapter (SIGSTOP) while it generates, so the target is that ghost text is at most 10%
slower. The adaptation's cache goes to a temporary folder, so nothing adapted earlier is reused.

Usage: python -m benchmarks.ghost_under_adaptation data/repo-bench/mistune/workspace --out FILE.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from benchmarks.ghost_client import close_doc, inline, open_doc, percentile, stop
from benchmarks.server_latency import FIXTURES, ghost_case

FILES = ("window.py", "infill.py", "denoise.py", "context_cache.py", "jobs.py")


async def start(workspace: Path, log_file: Path, minutes: float, threads: int) -> LanguageClient:
    cmd = [sys.executable, "-m", "lsp_server.cli", "serve", "--log-file", str(log_file), "--threads", str(threads)]
    client = LanguageClient("diffill-adapt-bench", "0")
    client.feature("diffill/statusChanged")(lambda params: None)
    await client.start_io(*cmd)
    settings = {
        "adapt": "manual",
        "adaptMinutes": minutes,
        "minConfidence": 0,
        "adaptiveDebounce": False,
        "prefetch": False,
    }
    params = types.InitializeParams(
        capabilities=types.ClientCapabilities(),
        initialization_options={"diffill": settings},
        root_uri=workspace.resolve().as_uri(),
    )
    await client.initialize_async(params)
    client.initialized(types.InitializedParams())
    return client


async def status(client: LanguageClient) -> Any:
    return await client.protocol.send_request_async("diffill/status", None)


async def timed_round(
    client: LanguageClient, docs: list[tuple[str, str, types.Position]], reps: int, gap: float, tag: str
) -> list[float]:
    """``reps`` cold ghost requests, cycling through the documents, each in a fresh document; milliseconds."""
    out = []
    for i in range(reps):
        name, text, position = docs[i % len(docs)]
        uri = f"file:///bench/{tag}{i}/{name}"
        open_doc(client, uri, text)
        started = time.perf_counter()
        await inline(client, uri, position)
        out.append(1000 * (time.perf_counter() - started))
        close_doc(client, uri)
        await asyncio.sleep(gap)  # the user between two requests: the adapter trains then
    return out


def summary(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(values, 0.5), 1), "p95_ms": round(percentile(values, 0.95), 1), "n": len(values)}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="diffill-adapt-bench-"))
    os.environ["XDG_CACHE_HOME"] = str(tmp / "cache")  # the server's adapter writes here, not to ~/.cache
    client = await start(args.workspace, tmp / "server.log", args.minutes, args.threads)
    try:
        while (await status(client)).state != "ready":
            await asyncio.sleep(0.2)
        docs = []
        for name in FILES:
            text, position, _ = ghost_case((FIXTURES / name).read_text(encoding="utf-8"))
            docs.append((name, text, position))
        await timed_round(client, docs, len(docs), 0.1, "warm")  # warm-up: first-call costs of each shape
        idle = await timed_round(client, docs, args.reps, args.gap, "idle")
        answer = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="diffill.adaptNow", arguments=[])
        )
        while (current := await status(client)).adaptation.progress in (None, 0, 0.0):  # training has begun
            if current.adaptation.state != "running":
                raise SystemExit(f"adaptation did not run: {current.adaptation}")
            await asyncio.sleep(0.5)
        before = current.adaptation.progress
        busy = await timed_round(client, docs, args.reps, args.gap, "busy")
        after = (await status(client)).adaptation
    finally:
        await stop(client)
    result = {
        "workspace": str(args.workspace),
        "threads": args.threads,
        "adapt_minutes": args.minutes,
        "gap_s": args.gap,
        "started": answer,
        "idle": summary(idle),
        "while_adapting": summary(busy),
        "adaptation_progress": [before, after.progress],
        "adaptation_state": after.state,
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }
    result["slowdown_p50"] = round(result["while_adapting"]["p50_ms"] / result["idle"]["p50_ms"] - 1, 3)
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workspace", type=Path, help="the workspace folder the server learns")
    p.add_argument("--reps", type=int, default=20, help="requests per round")
    p.add_argument("--gap", type=float, default=1.0, help="seconds between two requests (the adapter trains then)")
    p.add_argument("--minutes", type=float, default=12.0, help="adaptation training time (long enough to last)")
    p.add_argument("--threads", type=int, default=0, help="the server's torch threads (0: torch's default)")
    p.add_argument("--out", type=Path, required=True, help="results JSON")
    args = p.parse_args()
    result = asyncio.run(run(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
