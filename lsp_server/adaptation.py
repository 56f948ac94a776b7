"""Learning the workspace from the server: ``diffill adapt`` as a low-priority subprocess, watched and paused.

The server never imports ``training``: it starts the adapter as its own process (niceness 19, one torch
thread), reads the JSON status file the adapter rewrites every second, stops it (SIGSTOP) while the model
generates and lets it go on (SIGCONT) when the model is idle, so ghost text never competes with training.
Results live in the user's cache directory, keyed by the workspace folder; a finished one is found again at
the next start, and is stale once enough of the workspace's files have changed since.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from diffill.retrieval.files import changed_share, file_hashes

log = logging.getLogger(__name__)

STALE_SHARE = 0.25  # re-adapt once this share of the workspace's files changed
MINUTES = 12.0  # training time of a background adaptation
MODEL, STATUS, LOG = "model", "status.json", "adapt.log"


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/diffill/adapted`` (``~/.cache/diffill/adapted``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "diffill" / "adapted"


def folder_key(folder: Path) -> str:
    """A cache key for a workspace folder: its name and a hash of its absolute path."""
    resolved = folder.resolve()
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:12]
    return f"{resolved.name or 'root'}-{digest}"


@dataclass
class AdaptationState:
    """Where learning one workspace stands (the wire's ``Adaptation``)."""

    state: str = "idle"  # idle | running | ready | failed
    workspace: str | None = None
    progress: float | None = None
    model: str | None = None
    message: str | None = None


def read_meta(model: Path) -> dict | None:
    """An adapted model directory's ``adaptation.json`` (None when absent or unreadable)."""
    try:
        meta = json.loads((model / "adaptation.json").read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


class Adapter:
    """One workspace folder's adaptation: its cache directory, its subprocess, its state."""

    def __init__(self, folder: Path, base: Path, minutes: float = MINUTES, root: Path | None = None) -> None:
        self.folder = folder.resolve()
        self.base = base.resolve()
        self.minutes = minutes
        self.dir = (root or cache_root()) / folder_key(self.folder)
        self.process: subprocess.Popen | None = None
        self.paused = False
        self.state = AdaptationState(workspace=str(self.folder))
        if self.finished() is not None:
            self.state = AdaptationState("ready", str(self.folder), 1.0, str(self.model_dir))

    @property
    def model_dir(self) -> Path:
        return self.dir / MODEL

    def finished(self) -> Path | None:
        """The adapted model of this folder and base, if one is complete."""
        meta = read_meta(self.model_dir)
        if meta is None or Path(meta.get("base", "")).resolve() != self.base:
            return None
        return self.model_dir

    def stale(self) -> bool:
        """Whether enough of the folder changed since the finished adaptation learned it (or there is none)."""
        meta = read_meta(self.model_dir)
        if meta is None:
            return True
        before = meta.get("manifest", {}).get("files", {})
        return changed_share(before, file_hashes(self.folder)) >= STALE_SHARE

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start (or resume) the adapter subprocess; a finished model is replaced only when it completes."""
        if self.running:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        _clean_partial(self.dir)
        command = [
            sys.executable,
            "-c",
            "import sys; from training.adapt.cli import main; sys.exit(main())",
            str(self.folder),
            "--out",
            str(self.model_dir),
            "--model",
            str(self.base),
            "--minutes",
            str(self.minutes),
            "--threads",
            "1",
            "--nice",
            "19",
            "--status-file",
            str(self.dir / STATUS),
        ]
        if (self.dir / f".{MODEL}.adapt-state").exists():
            command.append("--resume")
        (self.dir / STATUS).unlink(missing_ok=True)
        with open(self.dir / LOG, "ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=out, stdin=subprocess.DEVNULL)
        self.paused = False
        self.state = AdaptationState("running", str(self.folder), 0.0, None, "starting")
        log.info("adapting to %s (pid %d, %s)", self.folder, self.process.pid, self.dir)

    def poll(self) -> bool:
        """Read the status file and the process; True when the state changed."""
        before = (self.state.state, self.state.progress, self.state.message)
        if self.process is not None:
            status = self._status()
            code = self.process.poll()
            if code is None:
                self.state.progress = status.get("progress", self.state.progress)
                self.state.message = status.get("message", self.state.message)
            else:
                self.process = None
                if code == 0 and self.finished() is not None:
                    self.state = AdaptationState("ready", str(self.folder), 1.0, str(self.model_dir))
                else:
                    message = status.get("message") or f"the adapter exited with status {code} (see {self.dir / LOG})"
                    self.state = AdaptationState("failed", str(self.folder), None, None, message)
        return before != (self.state.state, self.state.progress, self.state.message)

    def _status(self) -> dict:
        try:
            status = json.loads((self.dir / STATUS).read_text())
        except (OSError, ValueError):
            return {}
        return status if isinstance(status, dict) else {}

    def pause(self, paused: bool) -> None:
        """Stop the subprocess while the model generates; let it go on after."""
        if not self.running or paused == self.paused:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGSTOP if paused else signal.SIGCONT)
        self.paused = paused

    def cancel(self) -> None:
        """End a running adaptation: its resumable state stays, its output is never half-written."""
        if not self.running:
            return
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGCONT)
            self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        _clean_partial(self.dir)
        model = self.finished()
        self.state = AdaptationState(
            "ready" if model else "idle",
            str(self.folder),
            1.0 if model else None,
            str(model) if model else None,
            "cancelled",
        )


def _clean_partial(folder: Path) -> None:
    """Remove what a killed export may have left (the model directory itself is replaced by a rename)."""
    for leftover in folder.glob(f".{MODEL}.export-*"):
        shutil.rmtree(leftover, ignore_errors=True)
