"""Writing shards atomically and recording progress so an interrupted build can resume.

Each split (train, val) gets its own numbered shards of `shard_size` examples. A shard is written to a
temporary name in the output dir, fsynced and renamed into place; progress.json is updated the same way
after every shard. It records, per split, the shards written and a cursor (file index, examples of that
file already written): on resume, examples before the cursor are skipped and the rest regenerated, which
gives the same shards as an uninterrupted run because every file's examples are deterministic.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from training.corpus.errors import CorpusError
from training.corpus.examples import Example
from training.corpus.stats import ShardStats

SPLITS = ("train", "val")
PROGRESS = "progress.json"
OUTPUT_FILE = re.compile(
    r"^((train|val)-\d{5}\.jsonl\.gz|progress\.json|stats\.json|licenses\.json|config\.json)(\.tmp-\d+)?$"
)
TEMPORARY = re.compile(r"\.tmp-\d+$")  # a write in flight, or one a killed build left behind
PROGRESS_VERSION = 1


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str, data: bytes) -> None:
    """Write `data` to `path` via a temporary file in the same dir, fsync, then rename over."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(os.path.dirname(path) or ".")


def write_json(path: str, value: Any) -> None:
    atomic_write(path, (json.dumps(value, indent=2, sort_keys=False) + "\n").encode("utf-8"))


def gzip_lines(lines: Sequence[str]) -> bytes:
    """Deterministic gzip of JSON lines (no file name, mtime 0)."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, filename="", compresslevel=6) as f:
        for line in lines:
            f.write(line.encode("utf-8"))
            f.write(b"\n")
    return buffer.getvalue()


class SplitWriter:
    """Buffers one split's examples in file order and writes a shard whenever `shard_size` are ready."""

    def __init__(
        self,
        out_dir: str,
        split: str,
        shard_size: int,
        state: dict[str, Any] | None = None,
        on_flush: Callable[[], None] | None = None,
    ) -> None:
        state = state or {}
        self.on_flush = on_flush
        self.out_dir = out_dir
        self.split = split
        self.shard_size = shard_size
        self.shards = [ShardStats(**s) for s in state.get("shards", [])]
        self.cursor: tuple[int, int] = tuple(state.get("cursor", (0, 0)))  # type: ignore[assignment]
        self.resume_cursor = self.cursor
        self._empty_before_cursor = int(state.get("empty_chunks_before_cursor", 0))
        self._empty_pending: list[tuple[int, int]] = []  # (file index, chunks without spans) since cursor
        self.buffer: list[tuple[int, int, Example]] = []

    def add(self, file_index: int, examples: Sequence[Example], empty_chunks: int) -> None:
        """Queue a file's examples, skipping those already written before a resume."""
        if file_index < self.resume_cursor[0]:
            return  # written (and counted) before the resume
        if empty_chunks:
            self._empty_pending.append((file_index, empty_chunks))
        for k, example in enumerate(examples):
            if (file_index, k) < self.resume_cursor:
                continue
            self.buffer.append((file_index, k, example))
            if len(self.buffer) >= self.shard_size:
                self.flush()

    def flush(self) -> None:
        """Write the buffered examples (if any) as the next shard."""
        if not self.buffer:
            return
        name = f"{self.split}-{len(self.shards):05d}.jsonl.gz"
        atomic_write(os.path.join(self.out_dir, name), gzip_lines([e.line for _, _, e in self.buffer]))
        kinds: Counter[str] = Counter(k for _, _, e in self.buffer for k in e.kinds)
        self.shards.append(
            ShardStats(
                name=name,
                examples=len(self.buffer),
                text_bytes=sum(e.text_bytes for _, _, e in self.buffer),
                spans=sum(len(e.kinds) for _, _, e in self.buffer),
                kinds=dict(sorted(kinds.items())),
            )
        )
        last_file, last_k, _ = self.buffer[-1]
        self.cursor = (last_file, last_k + 1)
        self.buffer = []
        self._empty_before_cursor += sum(n for f, n in self._empty_pending if f < last_file)
        self._empty_pending = [(f, n) for f, n in self._empty_pending if f >= last_file]
        if self.on_flush is not None:
            self.on_flush()

    @property
    def empty_chunks(self) -> int:
        """Chunks of this split's files that got no span (they are not written)."""
        return self._empty_before_cursor + sum(n for _, n in self._empty_pending)

    def state(self) -> dict[str, Any]:
        return {
            "shards": [asdict(s) for s in self.shards],
            "cursor": list(self.cursor),
            "empty_chunks_before_cursor": self._empty_before_cursor,
        }


class ShardSet:
    """The train and val writers plus progress.json."""

    def __init__(
        self, out_dir: str, shard_size: int, identity: dict[str, Any], inputs: str, saved: dict[str, Any] | None = None
    ) -> None:
        self.out_dir = out_dir
        self.identity = identity
        self.inputs = inputs
        splits = (saved or {}).get("splits", {})
        self.writers = {s: SplitWriter(out_dir, s, shard_size, splits.get(s), on_flush=self._flushed) for s in SPLITS}
        self._complete = False

    def _flushed(self) -> None:
        self.save(complete=self._complete)

    def skip_before(self) -> dict[str, int]:
        """Per split: files before this index have all their examples written (none need recomputing)."""
        return {s: w.resume_cursor[0] for s, w in self.writers.items()}

    def add(self, split: str, file_index: int, examples: Sequence[Example], empty_chunks: int) -> None:
        self.writers[split].add(file_index, examples, empty_chunks)

    def finish(self) -> dict[str, list[ShardStats]]:
        for writer in self.writers.values():
            writer.flush()
        self._complete = True
        self.save(complete=True)
        return {s: w.shards for s, w in self.writers.items()}

    def save(self, complete: bool) -> None:
        progress = {
            "version": PROGRESS_VERSION,
            "identity": self.identity,
            "inputs": self.inputs,
            "complete": complete,
            "splits": {s: w.state() for s, w in self.writers.items()},
        }
        write_json(os.path.join(self.out_dir, PROGRESS), progress)

    @property
    def empty_chunks(self) -> int:
        return sum(w.empty_chunks for w in self.writers.values())


def _our_files(out_dir: str) -> list[str]:
    return sorted(n for n in os.listdir(out_dir) if OUTPUT_FILE.match(n))


def open_output(
    out_dir: str, shard_size: int, identity: dict[str, Any], inputs: str, resume: bool, overwrite: bool
) -> ShardSet:
    """Prepare the output dir: start fresh, or pick up the saved progress when resuming.

    A plain run refuses a dir that holds a corpus (finished or interrupted) with one line that says how to
    continue it (``--resume``) or start over (``--overwrite``). Leftover temporaries of a killed run are
    removed on the way.
    """
    os.makedirs(out_dir, exist_ok=True)
    progress_path = os.path.join(out_dir, PROGRESS)
    ours = _our_files(out_dir)
    saved = None
    if resume and os.path.exists(progress_path):
        saved = _read_progress(progress_path, out_dir)
        _check_resumable(saved, identity, inputs, out_dir)
    elif ours and not overwrite and not (resume and all(TEMPORARY.search(n) for n in ours)):
        raise CorpusError(_occupied(out_dir, progress_path, resume))
    listed = {s["name"] for split in (saved or {}).get("splits", {}).values() for s in split["shards"]}
    for name in ours:  # stale shards, temporaries, old results
        if name not in listed and name != PROGRESS:
            os.remove(os.path.join(out_dir, name))
    shards = ShardSet(out_dir, shard_size, identity, inputs, saved)
    shards.save(complete=False)
    return shards


def _occupied(out_dir: str, progress_path: str, resume: bool) -> str:
    """Why a run may not write into ``out_dir``, and what to pass instead."""
    if resume:
        return f"cannot resume {out_dir}: it has no {PROGRESS}; pass --overwrite to start over"
    try:
        with open(progress_path, encoding="utf-8") as f:
            complete = bool(json.load(f).get("complete"))
    except (OSError, ValueError, AttributeError):
        complete = False
    if complete:
        return f"{out_dir} already holds a corpus; pass --overwrite to replace it (--resume only rewrites its stats)"
    return f"{out_dir} holds an interrupted corpus build; pass --resume to continue it or --overwrite to start over"


def _read_progress(path: str, out_dir: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
    except (OSError, ValueError) as err:
        raise CorpusError(f"cannot resume {out_dir}: {PROGRESS} is unreadable; pass --overwrite to start over") from err
    if not isinstance(saved, dict):
        raise CorpusError(f"cannot resume {out_dir}: {PROGRESS} is not a progress record; pass --overwrite")
    return saved


def _check_resumable(saved: dict[str, Any], identity: dict[str, Any], inputs: str, out_dir: str) -> None:
    if saved.get("version") != PROGRESS_VERSION:
        raise CorpusError(f"{out_dir}/{PROGRESS} is from another version; rebuild with --overwrite")
    if saved.get("identity") != identity:
        changed = sorted(k for k in identity if saved.get("identity", {}).get(k) != identity[k])
        raise CorpusError(f"cannot resume {out_dir}: the config changed ({', '.join(changed)}); use --overwrite")
    if saved.get("inputs") != inputs:
        raise CorpusError(f"cannot resume {out_dir}: the input files changed since it started; use --overwrite")
    for split in saved.get("splits", {}).values():
        for shard in split["shards"]:
            if not os.path.isfile(os.path.join(out_dir, shard["name"])):
                raise CorpusError(f"cannot resume {out_dir}: shard {shard['name']} is missing; use --overwrite")
