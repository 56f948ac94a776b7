"""The sandbox holds: each attack seen on the old runner is planted here and shown contained.

Two levels: ``_raw`` runs a plain Python program in the bwrap layer with no guard (what a program that got past
the runner's audit hook could do), and ``run_program`` runs it through the whole harness.
"""

from __future__ import annotations

import logging
import os
import platform
import secrets
import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from training.execution import MAX_PROCESSES, run_program, run_programs
from training.sandbox import (
    DEFAULT_ISOLATION,
    SECCOMP_ARCHES,
    Isolation,
    SandboxUnavailable,
    interpreter,
    run_command,
    seccomp_filter,
    unavailable_reason,
)

REASON = unavailable_reason()
needs_bwrap = pytest.mark.skipif(
    REASON is not None, reason=f"no bubblewrap sandbox here ({REASON}): apt-get install -y bubblewrap"
)
MISSING = Isolation(bwrap="/nonexistent/bwrap")


def _raw(code: str, timeout_s: float = 10.0) -> tuple[int, bool, str]:
    """Run ``code`` in the sandbox with no guard; (exit code, timed out, everything it printed once all of it died).

    stdout is a pipe: reading it to its end waits for every process that still holds it, so anything that
    survived the sandbox would get to print.
    """
    read_end, write_end = os.pipe()
    command = [interpreter(), "-I", "-S", "-c", textwrap.dedent(code)]
    try:
        outcome = run_command(
            command, isolation=DEFAULT_ISOLATION, timeout_s=timeout_s, stdout=write_end, stderr=write_end
        )
    finally:
        os.close(write_end)
    with os.fdopen(read_end, "rb") as f:
        return outcome.returncode, outcome.timed_out, f.read().decode(errors="replace")


@pytest.fixture
def listener() -> Iterator[tuple[socket.socket, int]]:
    """A TCP listener on the host's 127.0.0.1 that nothing in a sandbox should reach."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.setblocking(False)
        yield server, server.getsockname()[1]


def _never_connected(server: socket.socket) -> bool:
    try:
        server.accept()[0].close()
    except BlockingIOError:
        return True
    return False


@pytest.fixture
def victim() -> Iterator[Path]:
    """A host file the sandbox can see (read-only, through /usr); removed afterwards."""
    if not os.access("/usr", os.W_OK):
        pytest.skip("needs a writable /usr (root) to plant a visible file")
    path = Path("/usr") / f"diffill-victim-{secrets.token_hex(4)}"
    path.write_text("keep me")
    yield path
    path.unlink(missing_ok=True)


# --- refusing to run without isolation -----------------------------------------------------------


def test_refuses_without_a_sandbox_in_one_line() -> None:
    with pytest.raises(SandboxUnavailable) as info:
        run_program("assert True\n", isolation=MISSING)
    message = str(info.value)
    assert "\n" not in message
    assert "/nonexistent/bwrap not found" in message
    assert "apt-get install -y bubblewrap" in message and "--allow-unsandboxed" in message
    with pytest.raises(SandboxUnavailable):
        run_programs(["assert True\n"], isolation=MISSING)


def test_refuses_a_bwrap_that_fails_to_start(tmp_path: Path) -> None:
    """As in a container that may not create namespaces: bwrap exists, but says why it cannot run."""
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(SandboxUnavailable, match="failed to start a sandbox: bwrap: No permissions"):
        run_program("assert True\n", isolation=Isolation(bwrap=str(fake)))


def test_runs_unsandboxed_only_when_allowed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="training.execution")
    result = run_program("assert True\n", allow_unsandboxed=True, isolation=MISSING)
    assert result.passed
    assert "WITHOUT a sandbox" in caplog.text


# --- the verdict ----------------------------------------------------------------------------------


@needs_bwrap
def test_correct_passes_and_wrong_fails() -> None:
    assert run_program("def f(x):\n    return x + 1\nassert f(1) == 2\n").passed
    wrong = run_program("def f(x):\n    return x\nassert f(1) == 2\n")
    assert (wrong.passed, wrong.status) == (False, "failed")


FORGE = """
import os, sys, time

frames, guesses = [], []


def attempt(get):
    try:
        return get()
    except Exception:
        return None


def builtin_gc():
    import _imp, importlib.machinery
    return _imp.create_builtin(importlib.machinery.BuiltinImporter.find_spec("gc"))


def dead_frames(gc):  # DEBUG_SAVEALL keeps the frames of a collected cycle, whose f_back leads to live frames
    gc.set_debug(gc.DEBUG_SAVEALL)
    def cycle():
        try:
            1 / 0
        except ZeroDivisionError as e:
            e.me = e
    cycle()
    gc.collect()
    return [o for o in gc.garbage if type(o).__name__ == "frame"]


def handler_frame():  # a signal handler is handed the current frame
    import signal
    signal.signal(signal.SIGUSR1, lambda signum, frame: frames.append(frame))
    os.kill(os.getpid(), signal.SIGUSR1)


def tb_frame():
    try:
        1 / 0
    except ZeroDivisionError as e:
        return e.__traceback__.tb_frame


guesses.append(attempt(lambda: open("/proc/self/cmdline", "rb").read()))
for gc in (attempt(lambda: __import__("gc")), attempt(builtin_gc)):
    if gc is not None:
        frames += attempt(lambda: dead_frames(gc)) or []
        guesses += attempt(gc.get_objects) or []
frames += [attempt(sys._getframe), attempt(tb_frame), *(attempt(sys._current_frames) or {}).values()]
attempt(handler_frame)
for frame in frames:
    while frame is not None:  # release every lock and keep every bytes object found on the way
        for value in list(frame.f_locals.values()):
            if type(value).__name__ == "lock":
                attempt(value.release)
            guesses.append(value)
        frame = frame.f_back
time.sleep(1)  # time for the runner to write the verdict, if a released lock was the one it waits on
for fd in range(3, 64):  # and write every 32-byte guess to every descriptor
    for data in [b"x" * 32, *(g for g in guesses if isinstance(g, bytes) and len(g) == 32)]:
        attempt(lambda: os.write(fd, data))
os._exit(0)
assert False, "the real result"
"""


@needs_bwrap
def test_a_forged_verdict_is_scored_failed() -> None:
    result = run_program(FORGE, timeout_s=10)
    assert not result.passed
    assert result.status == "error" and "exited before its end" in result.detail


TAMPER = """
import builtins, sys, _imp
harmless = type("Harmless", (Warning,), {})
sneaky = type("Sneaky", (str,), {"partition": lambda self, sep: ("math", "", "")})("_posixsubprocess")
builtins.ImportError = builtins.PermissionError = builtins.ValueError = harmless
builtins.type = lambda obj: str  # the guard must not look anything up that the program can replace
reachable = [_imp.create_builtin, *(v for m in list(sys.modules.values()) for v in vars(m).values())]
scopes = [getattr(f, "__globals__", None) for f in reachable]
assert not any(isinstance(g, dict) and "REFUSED" in g for g in scopes), "the guard's settings are reachable"
for attempt in (lambda: sys._getframe(), lambda: __import__(sneaky), lambda: __import__("gc")):
    try:
        attempt()
    except BaseException:
        continue
    raise AssertionError("the guard let it through")
"""


@needs_bwrap
def test_the_guard_holds_against_tampering() -> None:
    result = run_program(TAMPER)
    assert result.passed, result.detail  # the program's own assertions: everything was refused


@needs_bwrap
def test_leaving_early_any_way_is_not_passing() -> None:
    programs = ["import os\nos._exit(0)\n", "exit(0)\n", "raise SystemExit\n", "import _thread\n_thread.exit()\n"]
    assert not any(r.passed for r in run_programs(programs, timeout_s=10))


# --- processes ------------------------------------------------------------------------------------


@needs_bwrap
def test_fork_bomb_is_bounded() -> None:
    code, _, out = _raw(
        f"""
        import os, resource, time
        resource.setrlimit(resource.RLIMIT_NPROC, ({MAX_PROCESSES}, {MAX_PROCESSES}))  # as the runner does
        started = 0
        for _ in range(4 * {MAX_PROCESSES}):
            try:
                pid = os.fork()
            except OSError:
                break
            if pid == 0:
                time.sleep(30)
                os._exit(0)
            started += 1
        print("started", started)
        """
    )
    assert code == 0
    assert int(out.split()[-1]) < MAX_PROCESSES
    bomb = run_program("import os\nwhile True:\n    os.fork()\n", timeout_s=5)
    assert not bomb.passed and "os.fork" in bomb.detail


SETSID_GRANDCHILD = """
import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(3)  # past the time limit, or past the end of the program
        print("ALIVE", flush=True)
    os._exit(0)
{ending}
"""


@needs_bwrap
@pytest.mark.parametrize("ending", ["while True:\n    pass", "print('done', flush=True)"])
def test_setsid_grandchild_dies_with_the_sandbox(ending: str) -> None:
    _, timed_out, out = _raw(SETSID_GRANDCHILD.format(ending=ending), timeout_s=1)
    assert timed_out == ending.startswith("while")
    assert "ALIVE" not in out


@needs_bwrap
def test_runs_as_an_unprivileged_user_without_proc() -> None:
    code, _, out = _raw("import os\nprint(os.getuid(), os.getgid(), os.getgroups(), os.path.exists('/proc'))")
    assert (code, out.strip()) == (0, f"{DEFAULT_ISOLATION.uid} {DEFAULT_ISOLATION.gid} [] False")


@needs_bwrap
@pytest.mark.skipif(not Path("/usr/bin/perl").exists(), reason="needs perl to make raw syscalls")
def test_no_process_can_read_another_s_memory() -> None:
    """ptrace, process_vm_readv/writev and pidfd_getfd are refused (perl's syscall() reaches them directly)."""
    read_end, write_end = os.pipe()
    script = 'for $nr (@ARGV) { $r = syscall($nr, 0, 0, 0, 0, 0, 0); print "$r $!\\n"; }'
    numbers = [str(n) for n in SECCOMP_ARCHES[platform.machine()][1]]
    try:
        outcome = run_command(
            ["/usr/bin/perl", "-e", script, *numbers], isolation=DEFAULT_ISOLATION, timeout_s=10,
            stdout=write_end, stderr=write_end,
        )  # fmt: skip
    finally:
        os.close(write_end)
    with os.fdopen(read_end) as f:
        lines = f.read().splitlines()
    assert outcome.returncode == 0
    assert lines == ["-1 Operation not permitted"] * len(numbers)
    _, _, out = _raw("try:\n    import ctypes\nexcept ImportError:\n    print('no ctypes')\n")
    assert out.strip() == "no ctypes"


def test_seccomp_filter_only_for_known_architectures() -> None:
    assert seccomp_filter("sparc") is None
    program = seccomp_filter("x86_64")
    assert program is not None and len(program) % 8 == 0


# --- files ----------------------------------------------------------------------------------------


@needs_bwrap
def test_visible_files_cannot_be_deleted_or_overwritten(victim: Path) -> None:
    code, _, out = _raw(
        f"""
        import os
        for attempt in (lambda: os.remove({str(victim)!r}), lambda: open({str(victim)!r}, "w").write("gone"),
                        lambda: os.rename({str(victim)!r}, "/tmp/stolen")):
            try:
                attempt()
                print("CHANGED")
            except OSError as e:
                print(type(e).__name__)
        """
    )
    assert code == 0 and "CHANGED" not in out
    assert victim.read_text() == "keep me"
    assert not run_program(f"import os\nos.remove({str(victim)!r})\n").passed
    assert victim.read_text() == "keep me"


@needs_bwrap
def test_files_written_outside_the_workdir_are_refused_or_vanish(tmp_path: Path) -> None:
    """/usr and the interpreter are read-only; the host's /tmp is not there (a path under it lands in the
    private tmpfs, which goes away with the sandbox)."""
    big = 16 * 1024 * 1024
    prefix = Path(interpreter()).parents[1] / f"diffill-escape-{secrets.token_hex(4)}"
    targets = [Path("/usr") / f"diffill-escape-{secrets.token_hex(4)}", prefix, tmp_path / "escape" / "big"]
    program = f"""
import os
for target in {[str(t) for t in targets]!r}:
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as f:
        f.write(bytes({big}))
"""
    try:
        _raw(program)
        run_program(program)
        assert not any(t.exists() for t in targets)
        assert list(tmp_path.iterdir()) == []
    finally:
        for t in targets:
            t.unlink(missing_ok=True)


@needs_bwrap
def test_the_workdir_is_private_fresh_and_capped() -> None:
    assert run_program("open('note', 'w').write('x')\nopen('/tmp/other', 'w').write('y')\n").passed
    assert run_program("import os\nassert os.getcwd() == '/tmp'\nassert os.listdir('.') == ['program.py']\n").passed
    _, _, out = _raw(
        f"""
        try:
            with open("/tmp/fill", "wb") as f:
                for _ in range({2 * DEFAULT_ISOLATION.tmpfs_mb}):
                    f.write(bytes(1024 * 1024))
        except OSError as e:
            print(e.strerror)
        """
    )
    assert "No space left on device" in out


# --- network --------------------------------------------------------------------------------------


CONNECT = """
import _socket, importlib, socket, sys
port = {port}


def child():
    import subprocess
    code = f"import socket; socket.create_connection(('127.0.0.1', {{port}}), 2)"
    subprocess.run([sys.executable, "-I", "-S", "-c", code], check=True, capture_output=True)


attempts = {{
    "_socket": lambda: _socket.socket().connect(("127.0.0.1", port)),
    "reload": lambda: importlib.reload(socket).create_connection(("127.0.0.1", port), timeout=2),
    "child": child,
}}
results = []
for name, attempt in attempts.items():
    try:
        attempt()
        results.append(f"{{name}} CONNECTED")
    except Exception as e:
        results.append(f"{{name}} {{type(e).__name__}}")
print("\\n".join(results))
assert not any(r.endswith("CONNECTED") for r in results), results
"""


@needs_bwrap
def test_a_host_listener_is_unreachable(listener: tuple[socket.socket, int]) -> None:
    server, port = listener
    code, _, out = _raw(CONNECT.format(port=port))
    assert code == 0, out
    assert [line.split()[0] for line in out.splitlines()] == ["_socket", "reload", "child"]
    assert run_program(CONNECT.format(port=port)).passed  # ran to its end: nothing connected
    assert _never_connected(server)
