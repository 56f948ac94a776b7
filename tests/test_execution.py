"""The runner: outcomes, details, timeouts, memory and network guards, clean-up, ordering.

The tests run in the bubblewrap sandbox where it works and unsandboxed (allowed explicitly) where it does not,
so the runner's behaviour is checked either way; tests/test_sandbox.py checks the isolation itself.
"""

from __future__ import annotations

import socket
import textwrap
import time
from pathlib import Path

import pytest

from training.execution import DETAIL_CHARS, ExecResult, run_program, run_programs
from training.sandbox import Isolation, unavailable_reason

UNSANDBOXED = unavailable_reason() is not None
MISSING = Isolation(bwrap="/nonexistent/bwrap")  # forces the unsandboxed path


def _run(program: str, timeout_s: float = 10.0, memory_mb: int = 1024) -> ExecResult:
    return run_program(program, timeout_s, memory_mb, allow_unsandboxed=UNSANDBOXED)


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a running (not zombie) process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _dies_soon(pid: int, seconds: float = 2.0) -> bool:
    """Whether ``pid`` is gone within ``seconds`` (a SIGKILL is delivered asynchronously)."""
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.parametrize(
    ("program", "status"),
    [
        ("x = 1\nassert x == 1\n", "passed"),
        ("assert 1 == 2\n", "failed"),
        ("1 / 0\n", "error"),
        ("def f(:\n", "error"),
        ("exit(0)\n", "error"),  # leaving early is not passing
        ("import os\nos._exit(0)\n", "error"),
    ],
)
def test_outcomes(program: str, status: str) -> None:
    result = _run(program, timeout_s=5)
    assert result.status == status
    assert result.passed == (status == "passed")


def test_detail_is_the_tail_of_stderr_from_the_program() -> None:
    result = _run("import sys\nsys.stderr.write('x' * 100_000)\nraise KeyError('boom')\n")
    assert result.status == "error"
    assert "KeyError: 'boom'" in result.detail
    assert len(result.detail) <= DETAIL_CHARS
    assert "runpy" not in result.detail


def test_a_program_that_never_ends_times_out() -> None:
    result = _run("while True:\n    pass\n", timeout_s=1)
    assert result.status == "timeout" and not result.passed
    assert result.detail == "timed out after 1s"


def test_unsandboxed_timeout_kills_the_process_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    program = f"import os\nopen({str(pids)!r}, 'w').write(str(os.getpid()))\nwhile True:\n    pass\n"
    result = run_program(program, timeout_s=1, allow_unsandboxed=True, isolation=MISSING)
    assert result.status == "timeout"
    assert _dies_soon(int(pids.read_text()))


def test_memory_bomb_is_stopped() -> None:
    result = _run("x = []\nwhile True:\n    x.append(bytearray(10**6))\n", timeout_s=10, memory_mb=256)
    assert not result.passed
    assert result.status == "error"
    assert "MemoryError" in result.detail


def test_no_network_even_with_a_listener() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(0.1)
        port = server.getsockname()[1]
        program = textwrap.dedent(
            f"""
            import socket
            for connect in (
                lambda: socket.create_connection(("127.0.0.1", {port}), timeout=1),
                lambda: socket.socket().connect(("127.0.0.1", {port})),
                lambda: socket.create_connection(("127.0.0.1", 9), timeout=1),
            ):
                try:
                    connect()
                except OSError:
                    continue
                raise AssertionError("connected")
            """
        )
        assert _run(program, timeout_s=5).status == "passed"
        with pytest.raises(TimeoutError):
            server.accept()


def test_nothing_persists_between_runs() -> None:
    assert _run("open('note', 'w').write('x')\n").passed
    assert _run("import os\nassert not os.path.exists('note')\n").passed


def test_unsandboxed_temporary_directory_is_removed(tmp_path: Path) -> None:
    where = tmp_path / "cwd"
    program = f"import os\nopen({str(where)!r}, 'w').write(os.getcwd())\n"
    assert run_program(program, allow_unsandboxed=True, isolation=MISSING).passed
    cwd = Path(where.read_text())
    assert cwd.name.startswith("diffill-exec-")
    assert not cwd.exists()


def test_environment_and_stdin_are_empty() -> None:
    program = "import os, sys\nassert set(os.environ) <= {'PATH', 'LANG'}, dict(os.environ)\n"
    program += "assert sys.stdin.read() == ''\n"
    assert _run(program).passed


def test_run_programs_keeps_order() -> None:
    programs = ["assert True\n", "assert False\n", "1 / 0\n", "pass\n"]
    results = run_programs(programs, workers=2, timeout_s=5, allow_unsandboxed=UNSANDBOXED)
    assert [r.status for r in results] == ["passed", "failed", "error", "passed"]


def test_run_programs_rejects_zero_workers() -> None:
    with pytest.raises(ValueError):
        run_programs(["pass"], workers=0)
