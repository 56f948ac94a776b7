"""The isolation layer: run one command in a bubblewrap (``bwrap``) sandbox, and kill all of it at its time limit.

What a sandboxed command sees and may do:

- its own pid, network, IPC and UTS namespaces: no interface but its own loopback (a listener on the host's
  127.0.0.1 is unreachable), and every process it starts lives in the pid namespace, which the kernel kills
  whole when the sandbox's init dies (at the end of the command, or when we kill bwrap at the time limit), so
  ``setsid`` or double-forked grandchildren die with it;
- a read-only view of /usr (with the host's /bin, /lib* links or folders) and of the interpreter's prefix
  (for a pyenv or uv Python outside /usr), with its site-packages emptied and the extension modules that
  reach raw memory (_ctypes, CPython's test modules) hidden; no /proc, no /home, no /etc but the loader's
  cache; a fresh /dev with only the standard nodes; a private, size-capped tmpfs at /tmp as its working
  directory; nothing else;
- an unprivileged uid/gid (65534 by default), no capabilities and no_new_privs (bwrap sets it), so
  RLIMIT_NPROC binds: a fork bomb stops at the process limit the program sets itself (the runner does);
- a seccomp filter (x86_64 and aarch64) that refuses ptrace, process_vm_readv/writev and pidfd_getfd, and
  every syscall of another ABI: no process in the sandbox can read another's memory.

As root, bwrap runs privileged without a user namespace (the sandbox's uid mapped to host root would make
the kernel ignore RLIMIT_NPROC) and ``setpriv`` drops to the sandbox uid inside; the process limit then counts
that uid's processes host-wide. As any other user it runs in a new user namespace with further namespaces
disabled, and the limit counts that sandbox's processes only.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import shutil
import signal
import site
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen
from typing import IO, Any

INSTALL_HINT = "install bubblewrap (apt-get install -y bubblewrap)"
WORKDIR = "/tmp"  # the sandbox's private tmpfs, also its working directory
PROBE_TIMEOUT_S = 30.0
TOP_LEVEL = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")  # links into /usr on merged-usr systems
HIDDEN_MODULES = ("_ctypes", "_test", "_xx", "xx")  # name prefixes of extension modules the sandbox hides
ENVIRONMENT = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}

# seccomp: (AUDIT_ARCH, syscall numbers of ptrace, process_vm_readv, process_vm_writev, pidfd_getfd)
SECCOMP_ARCHES = {"x86_64": (0xC000003E, (101, 310, 311, 438)), "aarch64": (0xC00000B7, (117, 270, 271, 438))}
X32_SYSCALL_BIT = 0x40000000  # x32 syscalls share x86_64's AUDIT_ARCH
BPF_LD_W_ABS, BPF_JEQ_K, BPF_JGE_K, BPF_RET_K = 0x20, 0x15, 0x35, 0x06
SECCOMP_RET_ALLOW, SECCOMP_RET_EPERM = 0x7FFF0000, 0x00050001


class SandboxUnavailable(RuntimeError):
    """No isolation tool can run programs here (bwrap missing or unable to create its namespaces)."""


@dataclass(frozen=True)
class Isolation:
    """How programs are isolated: the bwrap binary, the unprivileged uid/gid, and the size of the private tmpfs."""

    bwrap: str = "bwrap"
    uid: int = 65534
    gid: int = 65534
    tmpfs_mb: int = 64


DEFAULT_ISOLATION = Isolation()


@dataclass(frozen=True)
class Outcome:
    """How a command ended: ``returncode`` as subprocess reports it (negative: killed by that signal)."""

    returncode: int
    timed_out: bool


def interpreter() -> str:
    """The real path of the base Python (outside any virtualenv: programs need only the standard library)."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


# --- the command --------------------------------------------------------------------------------


def _read_only_paths(python: str) -> list[str]:
    """Host paths the interpreter needs beyond /usr: its prefix and where its binary lives, outermost only."""
    paths = sorted({os.path.realpath(p) for p in (sys.base_prefix, sys.base_exec_prefix, os.path.dirname(python))})
    kept: list[str] = []
    for path in paths:
        if path != "/" and not any(path == k or path.startswith(k + "/") for k in ["/usr", *kept]):
            kept.append(path)
    return kept


def _hidden_paths() -> tuple[list[str], list[str]]:
    """(site-packages folders, extension modules) to hide: only the standard library is needed, and a loader can
    open an extension module such as _ctypes or _testcapi without an import event, then read raw memory."""
    folders = sorted({os.path.realpath(p) for p in site.getsitepackages([sys.base_prefix, sys.base_exec_prefix])})
    dynload = {os.path.realpath(p) for p in sys.path if p.endswith("lib-dynload")}
    modules = [str(f) for d in sorted(dynload) for f in sorted(Path(d).glob("*")) if f.name.startswith(HIDDEN_MODULES)]
    return [f for f in folders if os.path.isdir(f)], modules


def _file_system(python: str, tmpfs_mb: int) -> list[str]:
    args = ["--perms", "1777", "--size", str(tmpfs_mb * 1024 * 1024), "--tmpfs", WORKDIR, "--ro-bind", "/usr", "/usr"]
    for name in TOP_LEVEL:
        host = Path("/", name)
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            args += ["--ro-bind", str(host), str(host)]
    created: set[Path] = set()
    for path in _read_only_paths(python):
        for parent in reversed(Path(path).parents[:-1]):  # bwrap would create them 0700: closed to the uid
            if parent not in created:
                created.add(parent)
                args += ["--perms", "0755", "--dir", str(parent)]
        args += ["--ro-bind", path, path]
    folders, modules = _hidden_paths()
    for folder in folders:
        args += ["--tmpfs", folder, "--remount-ro", folder]
    for module in modules:
        args += ["--ro-bind", "/dev/null", module]
    return [*args, "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache", "--dev", "/dev", "--chdir", WORKDIR]


def _identity(isolation: Isolation) -> tuple[list[str], list[str]]:
    """(bwrap options, command prefix) that make the command run as the sandbox uid/gid with no capabilities."""
    if os.geteuid() != 0:
        ids = ["--uid", str(isolation.uid), "--gid", str(isolation.gid)]
        return ["--unshare-all", "--unshare-user", "--disable-userns", *ids], []
    # --unshare-all would add a user namespace that maps the sandbox uid to host root (see the docstring).
    unshare = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    caps = ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]  # only for setpriv, which drops them
    drop = ["setpriv", f"--reuid={isolation.uid}", f"--regid={isolation.gid}", "--clear-groups", "--inh-caps=-all"]
    return unshare + caps, [*drop, "--"]


def bwrap_command(command: Sequence[str], isolation: Isolation, seccomp_fd: int | None = None) -> list[str]:
    """The argv that runs ``command`` (its first item an absolute path) inside the sandbox."""
    options, prefix = _identity(isolation)
    env = [arg for name, value in ENVIRONMENT.items() for arg in ("--setenv", name, value)]
    seccomp = [] if seccomp_fd is None else ["--seccomp", str(seccomp_fd)]
    return [
        isolation.bwrap,
        *options,
        "--die-with-parent",
        "--new-session",
        "--hostname",
        "sandbox",
        *_file_system(command[0], isolation.tmpfs_mb),
        "--clearenv",
        *env,
        *seccomp,
        "--",
        *prefix,
        *command,
    ]


def seccomp_filter(machine: str | None = None) -> bytes | None:
    """A classic-BPF seccomp program (struct sock_filter[]) refusing cross-process memory access and foreign
    ABIs with EPERM; None on an architecture this module does not know."""
    arch = SECCOMP_ARCHES.get(machine or platform.machine())
    if arch is None:
        return None
    audit_arch, denied = arch
    program = [(BPF_LD_W_ABS, 0, 0, 4), (BPF_JEQ_K, 1, 0, audit_arch), (BPF_RET_K, 0, 0, SECCOMP_RET_EPERM)]
    program.append((BPF_LD_W_ABS, 0, 0, 0))  # the syscall number
    program.append((BPF_JGE_K, len(denied) + 1, 0, X32_SYSCALL_BIT))  # never true on aarch64
    program += [(BPF_JEQ_K, len(denied) - i, 0, nr) for i, nr in enumerate(denied)]
    program += [(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW), (BPF_RET_K, 0, 0, SECCOMP_RET_EPERM)]
    return b"".join(struct.pack("=HBBI", *op) for op in program)


@contextlib.contextmanager
def _seccomp_fd() -> Iterator[int | None]:
    """A pipe holding the seccomp program for bwrap to read (``--seccomp FD``), closed afterwards."""
    program = seccomp_filter()
    if program is None:
        yield None
        return
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, program)
        os.close(write_end)
        yield read_end
    finally:
        os.close(read_end)


# --- running it ---------------------------------------------------------------------------------


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _popen(command: Sequence[str], isolation: Isolation | None, pass_fds: Sequence[int], **kwargs: Any) -> Popen[bytes]:
    if isolation is None:
        return subprocess.Popen(list(command), pass_fds=tuple(pass_fds), **kwargs)
    with _seccomp_fd() as seccomp:
        fds = (*pass_fds, *([] if seccomp is None else [seccomp]))
        argv = bwrap_command(command, isolation, seccomp)
        return subprocess.Popen(argv, pass_fds=fds, **kwargs)


def run_command(
    command: Sequence[str],
    *,
    isolation: Isolation | None,
    timeout_s: float,
    stdout: IO[bytes] | int,
    stderr: IO[bytes] | int,
    pass_fds: Sequence[int] = (),
    cwd: str | Path | None = None,
) -> Outcome:
    """Run ``command`` (in the sandbox unless ``isolation`` is None) in a new session with an empty stdin; at
    ``timeout_s`` kill its whole process group, and with it the sandbox's pid namespace.

    Sandboxed, bwrap's exit status 128+N (the command died of signal N) is reported as -N.
    """
    proc = _popen(
        command,
        isolation,
        pass_fds,
        cwd=cwd,
        env=dict(ENVIRONMENT),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
        close_fds=True,
    )
    timed_out = False
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        _kill_group(proc.pid)  # at the time limit, and anything the command left in its group
        proc.wait()
    code = proc.returncode
    return Outcome(128 - code if isolation is not None and code > 128 else code, timed_out)


# --- is it there? ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _probe(isolation: Isolation) -> str | None:
    """Why the sandbox cannot run here (one line), or None when a check ran inside as the sandbox uid."""
    if shutil.which(isolation.bwrap) is None:
        return f"{isolation.bwrap} not found"
    expected = (isolation.uid, False, sys.version)  # the same Python, not one the loader found instead
    check = f"import os, sys; sys.exit((os.getuid(), os.path.exists('/proc'), sys.version) != {expected!r})"
    command = [interpreter(), "-I", "-S", "-c", check]
    with tempfile.TemporaryFile() as out:
        try:
            outcome = run_command(command, isolation=isolation, timeout_s=PROBE_TIMEOUT_S, stdout=out, stderr=out)
        except OSError as e:
            return f"{isolation.bwrap} failed to start: {e}"
        out.seek(0)
        lines = out.read().decode(errors="replace").strip().splitlines()
    if outcome.returncode == 0 and not outcome.timed_out:
        return None
    why = lines[-1] if lines else ("timed out" if outcome.timed_out else f"exit code {outcome.returncode}")
    return f"{isolation.bwrap} failed to start a sandbox: {why}"


def unavailable_reason(isolation: Isolation = DEFAULT_ISOLATION) -> str | None:
    """None when ``isolation`` works on this machine, else why not (checked once per process and setting)."""
    return _probe(isolation)
