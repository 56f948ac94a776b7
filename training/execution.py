"""Run untrusted Python programs (benchmark completions + tests) in a throw-away subprocess.

Each program runs in a fresh ``python -I`` in a fresh temporary directory (removed afterwards), in its own
session, with an empty environment, stdin from /dev/null, output captured to size-limited files, resource
limits (address space, CPU, processes, file size) and sockets disabled. On timeout the whole process group
is killed. This guards against accidents (loops, memory bombs, stray network or file writes), not against
a program that sets out to escape: it runs as the calling user.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

STATUSES = ("passed", "failed", "timeout", "error")
DETAIL_CHARS = 400  # how much of the stderr tail an ExecResult keeps
MAX_PROCESSES = 1  # RLIMIT_NPROC: no fork or threads (not enforced for root)
MAX_FILE_MB = 16  # RLIMIT_FSIZE: largest file (stdout and stderr included) the program may write
EXIT_ASSERTION = 3  # the runner's exit code for an AssertionError, i.e. a failed test
EXIT_EXCEPTION = 4  # ... for any other uncaught exception

# Runs as the subprocess's main script: sets the limits on itself (thread-safe, unlike ``preexec_fn``),
# disables sockets, then runs program.py unchanged (its line numbers stay those of the program). A program
# that leaves early (``exit()``, ``os._exit``) never writes the marker and does not pass.
RUNNER = r"""
import json, resource, runpy, socket, sys, traceback

config = json.loads(sys.argv[1])
sys.argv = ["program.py"]
for name, (soft, hard) in config["limits"].items():
    resource.setrlimit(getattr(resource, name), (soft, hard))


class _NoNetwork(socket.socket):
    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        if fileno is None:
            raise OSError("network access is disabled in the sandbox")
        super().__init__(family, type, proto, fileno)


def _no_connection(*args, **kwargs):
    raise OSError("network access is disabled in the sandbox")


socket.socket = socket.SocketType = _NoNetwork
socket.create_connection = socket.create_server = _no_connection
del json, resource, socket



def _report(e):
    tb = e.__traceback__  # drop the runner's and runpy's frames
    while tb is not None and tb.tb_frame.f_code.co_filename != "program.py":
        tb = tb.tb_next
    traceback.print_exception(type(e), e, tb)


try:
    runpy.run_path("program.py", run_name="__main__")
except SystemExit as e:
    print(f"program exited early: SystemExit({e.code!r})", file=sys.stderr)
    sys.exit(1)
except AssertionError as e:
    _report(e)
    sys.exit(config["exit_assertion"])
except BaseException as e:
    _report(e)
    sys.exit(config["exit_exception"])
open(config["marker"], "w").close()
"""


@dataclass(frozen=True)
class ExecResult:
    """How one program ended: ``status`` is one of passed, failed (AssertionError), timeout, error."""

    passed: bool
    status: str
    detail: str = ""  # a short tail of stderr, or why it stopped
    seconds: float = 0.0


def _limits(timeout_s: float, memory_mb: int) -> dict[str, tuple[int, int]]:
    """(soft, hard) resource limits; past the soft CPU limit the program gets SIGXCPU, then SIGKILL."""
    cpu_s = math.ceil(timeout_s) + 1
    return {
        "RLIMIT_AS": (memory_mb * 1024 * 1024,) * 2,
        "RLIMIT_CPU": (cpu_s, cpu_s + 1),
        "RLIMIT_NPROC": (MAX_PROCESSES,) * 2,
        "RLIMIT_FSIZE": (MAX_FILE_MB * 1024 * 1024,) * 2,
        "RLIMIT_CORE": (0, 0),
    }


def _environment() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}


def _tail(path: Path, chars: int = DETAIL_CHARS) -> str:
    """The last ``chars`` characters of a file (read from its end, so a huge file costs nothing)."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - 4 * chars))
        return f.read().decode("utf-8", errors="replace")[-chars:].strip()


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _classify(returncode: int, finished: bool, timed_out: bool, stderr: str, timeout_s: float) -> tuple[str, str]:
    if timed_out or returncode == -signal.SIGXCPU:
        return "timeout", f"timed out after {timeout_s:g}s"
    if returncode == 0:
        return ("passed", "") if finished else ("error", "the program exited before its end")
    if returncode == EXIT_ASSERTION:
        return "failed", stderr
    if returncode < 0:
        return "error", f"killed by {signal.Signals(-returncode).name} {stderr}".strip()
    return "error", stderr or f"exit code {returncode}"


def run_program(program: str, timeout_s: float = 10.0, memory_mb: int = 1024) -> ExecResult:
    """Run ``program`` in the sandbox; it passes when it runs to its end without an exception."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="diffill-exec-") as tmp:
        work = Path(tmp)
        marker = work / f"done-{secrets.token_hex(8)}"  # an absolute path: the program may chdir
        (work / "program.py").write_text(program, encoding="utf-8")
        (work / "runner.py").write_text(RUNNER, encoding="utf-8")
        config = {
            "limits": _limits(timeout_s, memory_mb),
            "marker": str(marker),
            "exit_assertion": EXIT_ASSERTION,
            "exit_exception": EXIT_EXCEPTION,
        }
        args = [sys.executable, "-I", "-B", "runner.py", json.dumps(config)]
        with open(work / "stdout", "wb") as out, open(work / "stderr", "wb") as err:
            proc = subprocess.Popen(
                args,
                cwd=work,
                env=_environment(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                close_fds=True,
            )
            timed_out = False
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _kill_group(proc.pid)  # also kills anything the program left running in its group
                proc.wait()
        finished = marker.exists()
        status, detail = _classify(proc.returncode, finished, timed_out, _tail(work / "stderr"), timeout_s)
    return ExecResult(status == "passed", status, detail[-DETAIL_CHARS:], time.perf_counter() - start)


def run_programs(
    programs: Sequence[str],
    workers: int = 2,
    timeout_s: float = 10.0,
    memory_mb: int = 1024,
    progress: bool = False,
) -> list[ExecResult]:
    """Run many programs, ``workers`` at a time; results come back in the order of ``programs``."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    with (
        ThreadPoolExecutor(max_workers=workers) as pool,
        tqdm(total=len(programs), desc="execute", unit="prog", disable=not progress, file=sys.stderr) as bar,
    ):
        futures = [pool.submit(run_program, p, timeout_s, memory_mb) for p in programs]
        for future in futures:
            future.add_done_callback(lambda _: bar.update(1))
        return [f.result() for f in futures]
