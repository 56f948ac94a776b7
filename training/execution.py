"""Run untrusted Python programs (benchmark completion + tests) in a sandbox; score them by a verdict they cannot forge.

Isolation (``training.sandbox``): each program runs in a bubblewrap sandbox: no network, no /proc, a read-only
view of the interpreter, a private size-capped tmpfs, an unprivileged uid, no cross-process memory access
(seccomp), its own pid namespace (the whole process tree dies at the time limit, ``setsid`` grandchildren
included), plus rlimits on address space, CPU time, processes and file size. Where bwrap is missing or cannot
start, nothing runs unless the caller passes ``allow_unsandboxed=True`` (then the limits and the guard below
still apply, but not the isolation).

The verdict: a program passes only when the parent reads, from a pipe, a 32-byte nonce that the program never
sees. A marker file, an exit code, or a nonce the program can find in its argv, environment or memory can be
forged (write it, then ``os._exit(0)`` before the failing assertion), so only trusted code can reach the nonce,
and only after the program has run to its end:

- the nonce and the program arrive on a file descriptor that the runner reads and closes before any program
  code runs: nothing in argv, the environment or a file, and no /proc to look in;
- the nonce is a local of the runner's main thread, which never runs program code: it starts the program in a
  worker thread and blocks on a lock that the worker releases only after ``exec`` returned without an exception
  (every exception path ends in ``os._exit`` with a failure code), then writes the nonce and exits. Off the main
  thread the program cannot install a signal handler (a handler receives the current frame, and audit hooks do
  not see that); after starting the worker the main thread allocates nothing the cyclic GC tracks, so no
  finalizer of the program's objects runs on it;
- an audit hook (``sys.addaudithook``: it cannot be removed) refuses every way we know to a frame, an object or
  raw memory of the runner: ``sys._getframe``, ``sys._current_frames``, ``tb_frame``/``gi_frame``/``cr_frame``/
  ``ag_frame``, settrace/setprofile, ``gc.get_objects``/``get_referrers``/``get_referents`` and the gc module
  itself (``DEBUG_SAVEALL`` hands out dead frames whose ``f_back`` leads to live ones), every ``ctypes`` event,
  new code objects (``code.__new__``, ``marshal.loads``: crafted bytecode reads memory), forks, exec and spawns,
  sockets, setrlimit, further audit hooks, and imports outside the standard library. Built-in modules are
  imported up front and ``_imp.create_builtin`` removed (it makes a module with no import event); in the
  sandbox, _ctypes, CPython's test modules and site-packages are hidden from the file system and seccomp stops
  any process from reading another's memory.

Residual risk: the verdict rests on an in-process guard. A program that exploits a memory-safety bug in
CPython, or finds an introspection path the hook does not know, could still reach the lock or the nonce and be
scored passed; the sandbox still holds it to its namespaces and limits, so the harm is one wrong score.
Unsandboxed, the program runs as the caller and the guard is all there is (its /proc checks are best effort).
Programs that need what is refused (gc, logging, traceback formatting, subprocess, asyncio, threads beyond the
process limit, packages outside the standard library) score as errors. A completion can still game a weak test
(return an object equal to everything): that is the benchmark's tests, not the verdict.
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from typing import IO

from tqdm import tqdm

from training.sandbox import (
    DEFAULT_ISOLATION,
    INSTALL_HINT,
    Isolation,
    SandboxUnavailable,
    interpreter,
    run_command,
    unavailable_reason,
)

STATUSES = ("passed", "failed", "timeout", "error")
DETAIL_CHARS = 400  # how much of the stderr tail an ExecResult keeps
MAX_PROCESSES = 32  # RLIMIT_NPROC, threads included (see training.sandbox for what it counts)
MAX_FILE_MB = 16  # RLIMIT_FSIZE: largest file (stdout and stderr included) the program may write
NONCE_BYTES = 32
EXIT_EARLY = 1  # the runner's exit code when the program raised SystemExit
EXIT_ASSERTION = 3  # ... for an AssertionError, i.e. a failed test
EXIT_EXCEPTION = 4  # ... for any other exception, including a syntax error
UNSANDBOXED_FLAG = "--allow-unsandboxed"

log = logging.getLogger(__name__)

# The runner: ``python -I -S -B -c RUNNER CONFIG_FD VERDICT_FD``. CONFIG_FD holds the nonce then a JSON config.
RUNNER = r'''
import os, sys

FRAME_ATTRIBUTES = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})
REFUSED = {
    "sys._getframe": ValueError,  # what frame-walking code (typing, namedtuple) expects of a short stack
    "sys.addaudithook": RuntimeError,  # a RuntimeError makes Python drop the new hook silently
}
REFUSED |= dict.fromkeys((
    "sys._current_frames", "sys._current_exceptions", "sys.settrace", "sys.setprofile",
    "sys._settraceallthreads", "sys._setprofileallthreads", "sys.monitoring.register_callback",
    "gc.get_objects", "gc.get_referrers", "gc.get_referents", "code.__new__", "marshal.load", "marshal.loads",
    "os.fork", "os.forkpty", "os.exec", "os.posix_spawn", "os.spawn", "os.system", "os.startfile", "pty.spawn",
    "subprocess.Popen", "os.unshare", "os.setns", "resource.setrlimit", "resource.prlimit",
    "builtins.breakpoint", "cpython.PyInterpreterState_New",
), PermissionError)
REFUSED_PREFIXES = ("ctypes.", "socket.")
DENIED_MODULES = frozenset({
    "ctypes", "_ctypes", "_ctypes_test", "_posixsubprocess", "_testcapi", "_testinternalcapi", "_testbuffer",
    "_testmultiphase", "_testsinglephase", "_testimportmultiple", "_testclinic", "_xxsubinterpreters",
    "_xxinterpchannels", "_xxtestfuzz", "_interpreters", "_interpchannels", "_interpqueues", "xxsubtype",
    "gc",  # gc.set_debug(DEBUG_SAVEALL) puts dead frames in gc.garbage, and f_back leads to live ones
})
# Runner functions that program code could reach would hand it these globals (REFUSED is a mutable dict), so
# the guard and the worker keep what they use in closures, and _imp gets a function with globals of its own.


def preload_builtins():
    """Import every allowed built-in module now, then take away _imp.create_builtin: it makes a module with no
    import event, which would get gc or _posixsubprocess past the guard."""
    import _imp
    for name in sys.builtin_module_names:
        if name not in sys.modules and name not in DENIED_MODULES:
            __import__(name)
    scope = {"__builtins__": {"ImportError": ImportError}}
    exec("def refuse(spec):\n    raise ImportError('the sandbox does not allow creating built-in modules')", scope)
    _imp.create_builtin = scope["refuse"]


def guard_factory(unsandboxed):
    allowed = frozenset(sys.stdlib_module_names) - DENIED_MODULES
    refused, prefixes, frame_attributes = dict(REFUSED), REFUSED_PREFIXES, FRAME_ATTRIBUTES
    type_, str_, int_, texts = type, str, int, (str, bytes)
    realpath, fsdecode = os.path.realpath, os.fsdecode
    ImportError_, AttributeError_, PermissionError_ = ImportError, AttributeError, PermissionError

    def guard(event, args):
        if event == "import":
            name = args[0]
            if type_(name) is not str_ or name.partition(".")[0] not in allowed:
                raise ImportError_(f"the sandbox does not allow importing {name}")
        elif event == "object.__getattr__":
            if args[1] in frame_attributes:
                raise AttributeError_(f"the sandbox does not allow reading {args[1]}")
        elif event in refused:
            raise refused[event](f"the sandbox does not allow {event}")
        elif event.startswith(prefixes):
            raise PermissionError_(f"the sandbox does not allow {event}")
        elif unsandboxed and event in ("open", "os.chdir") and type_(args[0]) is not int_:
            path = args[0]  # best effort: /proc/self/mem holds the nonce, and only the sandbox hides /proc
            if type_(path) not in texts or ".." in fsdecode(path).split("/") or (
                realpath(fsdecode(path)) + "/"
            ).startswith("/proc/"):
                raise PermissionError_("the sandbox does not allow opening this path")

    return guard


def compile_program(source, exit_exception):
    try:
        with open("program.py", "w", encoding="utf-8") as f:  # for the source lines in tracebacks
            f.write(source)
    except OSError:
        pass
    try:
        return compile(source, "program.py", "exec", dont_inherit=True)
    except BaseException as e:
        sys.__excepthook__(type(e), e.with_traceback(None), None)
        os._exit(exit_exception)


def report(e):
    """Print the traceback without the runner's frame, with the C printer (which reads no audited attribute)."""
    try:
        tb = e.__traceback__
        e.with_traceback(tb.tb_next if tb is not None else None)
        sys.__excepthook__(type(e), e, e.__traceback__)
    except BaseException:
        pass


def flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass


def candidate(code, namespace, codes, go, done):
    """The worker: run the program; release ``done`` only if it ran to its end, else exit with a failure code."""
    exec_, exit_, report_, flush_, print_, sys_ = exec, os._exit, report, flush, print, sys
    early, assertion, exception = codes["early"], codes["assertion"], codes["exception"]
    begin, finish = go.acquire, done.release

    def run():
        begin()
        try:
            exec_(code, namespace)
        except SystemExit as e:
            try:
                print_(f"program exited early: SystemExit({e.code!r})", file=sys_.stderr)
            except BaseException:
                pass
            flush_()
            exit_(early)
        except AssertionError as e:
            report_(e)
            flush_()
            exit_(assertion)
        except BaseException as e:
            report_(e)
            flush_()
            exit_(exception)
        else:
            flush_()
            finish()

    return run


def main():
    import _thread, builtins, json, resource, site, types, typing  # types reads tb_frame: import before the guard
    site.setquit()  # exit() and quit(), as without -S
    os.environ.pop("PWD", None)  # bwrap's --chdir sets it
    config_fd, verdict_fd = int(sys.argv[1]), int(sys.argv[2])
    with open(config_fd, "rb") as f:
        raw = f.read()
    nonce, config = raw[:NONCE_BYTES], json.loads(raw[NONCE_BYTES:])
    del raw
    codes = config["exit"]
    code = compile_program(config["program"], codes["exception"])
    module = types.ModuleType("__main__")
    module.__builtins__ = builtins
    sys.modules["__main__"] = module
    sys.argv = ["program.py"]
    go, done = _thread.allocate_lock(), _thread.allocate_lock()
    go.acquire()
    done.acquire()
    _thread.start_new_thread(candidate(code, module.__dict__, codes, go, done), ())  # before the process limit
    for name, (soft, hard) in config["limits"].items():
        resource.setrlimit(getattr(resource, name), (soft, hard))
    preload_builtins()
    sys.pycache_prefix = "/nonexistent"  # later imports compile from source: no marshal.loads needed
    sys.addaudithook(guard_factory(config["unsandboxed"]))
    # From here on the main thread allocates nothing the cyclic GC tracks, so no collection (and no finalizer
    # of the program's objects) runs on it: program code never runs on the main thread.
    start, wait, write, exit_, failed = go.release, done.acquire, os.write, os._exit, codes["exception"]
    del config, code, module
    start()
    try:
        wait()
        write(verdict_fd, nonce)
        exit_(0)
    except BaseException:
        exit_(failed)


main()
'''.replace("NONCE_BYTES", str(NONCE_BYTES))


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


def _tail(f: IO[bytes], chars: int = DETAIL_CHARS) -> str:
    """The last ``chars`` characters of a file (read from its end, so a huge file costs nothing)."""
    f.seek(0, os.SEEK_END)
    f.seek(max(0, f.tell() - 4 * chars))
    return f.read().decode("utf-8", errors="replace")[-chars:].strip()


def _read_available(fd: int, limit: int = 4096) -> bytes:
    """What is in the pipe now, without waiting for writers that might still hold it open."""
    os.set_blocking(fd, False)
    chunks: list[bytes] = []
    while sum(map(len, chunks)) < limit:
        try:
            chunk = os.read(fd, limit)
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _classify(returncode: int, verified: bool, timed_out: bool, stderr: str, timeout_s: float) -> tuple[str, str]:
    if timed_out or returncode == -signal.SIGXCPU:
        return "timeout", f"timed out after {timeout_s:g}s"
    if returncode == 0:
        return ("passed", "") if verified else ("error", "the program exited before its end")
    if returncode == EXIT_ASSERTION:
        return "failed", stderr
    if returncode < 0:
        return "error", f"killed by {signal.Signals(-returncode).name} {stderr}".strip()
    return "error", stderr or f"exit code {returncode}"


def use_sandbox(allow_unsandboxed: bool = False, isolation: Isolation = DEFAULT_ISOLATION, warn: bool = True) -> bool:
    """Whether programs will run sandboxed; raises SandboxUnavailable when not and ``allow_unsandboxed`` is off."""
    reason = unavailable_reason(isolation)
    if reason is None:
        return True
    if not allow_unsandboxed:
        raise SandboxUnavailable(
            f"refusing to run generated programs without a sandbox ({reason}): {INSTALL_HINT} "
            f"or pass {UNSANDBOXED_FLAG} to run them unisolated"
        )
    if warn:
        log.warning("running generated programs WITHOUT a sandbox (%s): they can reach your files and network", reason)
    return False


def _config(program: str, timeout_s: float, memory_mb: int, sandboxed: bool) -> dict[str, object]:
    return {
        "program": program,
        "limits": _limits(timeout_s, memory_mb),
        "exit": {"early": EXIT_EARLY, "assertion": EXIT_ASSERTION, "exception": EXIT_EXCEPTION},
        "unsandboxed": not sandboxed,
    }


def run_program(
    program: str,
    timeout_s: float = 10.0,
    memory_mb: int = 1024,
    *,
    allow_unsandboxed: bool = False,
    isolation: Isolation = DEFAULT_ISOLATION,
) -> ExecResult:
    """Run ``program``; it passes when it runs to its end without an exception (see the module docstring)."""
    sandbox = isolation if use_sandbox(allow_unsandboxed, isolation) else None
    return _run(program, timeout_s, memory_mb, sandbox)


def _run(program: str, timeout_s: float, memory_mb: int, sandbox: Isolation | None) -> ExecResult:
    nonce = secrets.token_bytes(NONCE_BYTES)
    start = time.perf_counter()
    with ExitStack() as stack:
        source, out, err = (stack.enter_context(tempfile.TemporaryFile()) for _ in range(3))
        source.write(nonce + json.dumps(_config(program, timeout_s, memory_mb, sandbox is not None)).encode())
        source.seek(0)
        cwd = None if sandbox else stack.enter_context(tempfile.TemporaryDirectory(prefix="diffill-exec-"))
        read_end, write_end = os.pipe()
        try:
            command = [interpreter(), "-I", "-S", "-B", "-c", RUNNER, str(source.fileno()), str(write_end)]
            fds = (source.fileno(), write_end)
            outcome = run_command(
                command, isolation=sandbox, timeout_s=timeout_s, stdout=out, stderr=err, pass_fds=fds, cwd=cwd
            )
        finally:
            os.close(write_end)
            verdict = _read_available(read_end)
            os.close(read_end)
        verified = secrets.compare_digest(verdict, nonce)
        status, detail = _classify(outcome.returncode, verified, outcome.timed_out, _tail(err), timeout_s)
    return ExecResult(status == "passed", status, detail[-DETAIL_CHARS:], time.perf_counter() - start)


def run_programs(
    programs: Sequence[str],
    workers: int = 2,
    timeout_s: float = 10.0,
    memory_mb: int = 1024,
    progress: bool = False,
    *,
    allow_unsandboxed: bool = False,
    isolation: Isolation = DEFAULT_ISOLATION,
) -> list[ExecResult]:
    """Run many programs, ``workers`` at a time; results come back in the order of ``programs``."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    sandbox = isolation if use_sandbox(allow_unsandboxed, isolation) else None  # refuse before starting anything
    with (
        ThreadPoolExecutor(max_workers=workers) as pool,
        tqdm(total=len(programs), desc="execute", unit="prog", disable=not progress, file=sys.stderr) as bar,
    ):
        futures = [pool.submit(_run, p, timeout_s, memory_mb, sandbox) for p in programs]
        for future in futures:
            future.add_done_callback(lambda _: bar.update(1))
        return [f.result() for f in futures]
