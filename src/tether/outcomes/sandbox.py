"""Run untrusted programs (model-written code and its tests): one subprocess per sample, in a throw-away directory.

Isolation, strongest first, and what each gives:
- a network namespace of its own (no interface but a down loopback): no network at all. Needs root (or
  unprivileged user namespaces); where the kernel refuses, an audit hook in the child refuses sockets instead,
  which is weaker (code that reaches the C library directly is not stopped), and `Sandbox.isolation` says so;
- when started as root, an unprivileged uid of its own per worker (setuid/setgid, no groups): rlimits bind (they
  do not bind root), the sample cannot write anything a user may not, and leftover processes of that uid are
  killed after the sample, even ones that left the process group. As another user, process limits count all of
  that user's processes and leftovers are found by process group only;
- rlimits: CPU time, address space, file/output size, processes; the wall clock is the parent's;
- an audit hook: file access confined to the work directory (reads also to the Python installation), no new
  programs (exec, spawn, subprocess, ctypes). It runs in the sample's own interpreter, so it is a second line,
  not a wall; reading world-readable files through a route the hook does not see stays possible.
The whole process group is killed when the sample ends or runs out of time. Approach after openai/human-eval's
execution.py (MIT; a process per sample, a time limit, guards on dangerous calls), moved out of the harness's own
process into a separate interpreter with kernel limits.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import functools
import json
import os
import pwd
import queue
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tether.outcomes.config import SandboxConfig

Status = Literal["passed", "failed", "timeout", "error", "killed"]
STATUSES: tuple[str, ...] = ("passed", "failed", "timeout", "error", "killed")
_CHILD = Path(__file__).with_name("sandbox_child.py")
_FIRST_UID = 64000  # unassigned uids (one per worker): a sample's process limit and cleanup cover only its own
_EXIT_EARLY = 3
_REASON_CHARS = 300
_MB = 1 << 20
_PR_SET_CHILD_SUBREAPER = 36


@dataclass(frozen=True)
class RunResult:
    """What happened to one program: status, why (the last line the program wrote, or the limit it hit), time."""

    status: Status
    reason: str
    seconds: float
    stdout: str = ""
    stderr: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def _claim_uids(n: int) -> list[tuple[int, int]]:
    """n unassigned uids, each claimed by a lock file held while the sandbox lives: two sandboxes (in any
    processes) never share a uid, so neither's cleanup kills the other's samples. Returns (uid, lock fd) pairs."""
    taken = {p.pw_uid for p in pwd.getpwall()}
    claimed, uid = [], _FIRST_UID
    while len(claimed) < n:
        if uid not in taken:
            fd = os.open(Path(tempfile.gettempdir(), f"tether-sandbox-uid-{uid}.lock"), os.O_RDWR | os.O_CREAT,
                         0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
            else:
                if _processes_of(uid):  # in use by something that does not lock
                    os.close(fd)
                else:
                    claimed.append((uid, fd))
        uid += 1
    return claimed


def _processes_of(uid: int) -> list[tuple[int, bool, int]]:
    """(pid, is a zombie, parent pid) of each process of `uid`."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                if entry.stat().st_uid == uid:
                    fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
                    found.append((int(entry.name), fields[0] == "Z", int(fields[1])))
    return found


def _become_subreaper() -> None:
    """Orphaned forks of a sample become our children (not init's), so we reap them: a zombie still counts
    against its uid's process limit, and some container inits reap slowly or never."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _open_to_others(path: Path, need: int) -> bool:
    """Whether a user other than the owner (and not in its group) can reach `path` with permission bits `need`."""
    path = path.resolve()
    try:
        return all(p.stat().st_mode & stat.S_IXOTH for p in path.parents) and path.stat().st_mode & need == need
    except OSError:
        return False


@functools.cache
def interpreter_for_others() -> str | None:
    """A Python an unprivileged uid can run, stdlib included: this one, else the system's python3 (this
    interpreter may live under a private home, e.g. pyenv in /root). None when there is none."""
    candidates = [sys.executable, shutil.which("python3"), "/usr/bin/python3"]
    for exe in dict.fromkeys(c for c in candidates if c):
        if not _open_to_others(Path(exe), stat.S_IXOTH):
            continue
        try:
            stdlib = subprocess.run([exe, "-I", "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
                                    capture_output=True, text=True, timeout=30, check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            continue
        if _open_to_others(Path(stdlib) / "os.py", stat.S_IROTH):
            return exe
    return None


def _kill_all(pgid: int, uid: int | None) -> None:
    """SIGKILL the process group and, with a uid of its own, every process of that uid (forks that left it)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    if uid is None:
        return
    me = os.getpid()
    for _ in range(200):  # a fork bomb may still be forking while we kill; its uid is capped at `processes`
        left = [(pid, zombie, parent) for pid, zombie, parent in _processes_of(uid) if not zombie or parent == me]
        if not left:
            return
        for pid, zombie, _parent in left:
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                if zombie:
                    os.waitpid(pid, os.WNOHANG)  # only this uid's orphans: other workers' children are not ours
                else:
                    os.kill(pid, signal.SIGKILL)
        time.sleep(0.005)


def _tail(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip()[:_REASON_CHARS] if lines else ""


def _read(f, limit: int) -> str:  # noqa: ANN001
    f.seek(0)
    return f.read(limit).decode("utf-8", errors="replace")


class Sandbox:
    """Runs programs under `config`'s limits; `run` one, `run_many` across `config.workers` at once.

    `isolation` says in words what this machine allows (a network namespace or only the audit hook; a uid of its
    own or not)."""

    def __init__(self, config: SandboxConfig | None = None, *, network_namespace: bool = True) -> None:
        """`network_namespace=False` skips the namespace and relies on the audit hook alone (what a machine
        without namespaces gets; for tests and comparison)."""
        self.config = config or SandboxConfig()
        self._want_namespace = network_namespace
        self.workers = self.config.workers or os.cpu_count() or 1
        self.python = sys.executable
        self._own_uid = False
        if os.geteuid() == 0:
            other = interpreter_for_others()
            self._own_uid = other is not None
            self.python = other or sys.executable
        self._uids: queue.Queue[int | None] = queue.Queue()
        self._locks: list[int] = []
        self._all_uids: list[int] = []
        self._closed = False
        if self._own_uid:
            _become_subreaper()
            claimed = _claim_uids(self.workers)
            self._locks = [fd for _, fd in claimed]
            for uid, _ in claimed:
                self._uids.put(uid)
            self._all_uids = [uid for uid, _ in claimed]
        else:
            for _ in range(self.workers):
                self._uids.put(None)
        self._network: str | None = None

    @property
    def uids(self) -> list[int]:
        """The unprivileged uids samples run as (one per worker; empty when not started as root)."""
        return list(self._all_uids)

    def close(self) -> None:
        """Give back the uids (their lock files); the sandbox cannot run after this."""
        self._closed = True
        for fd in self._locks:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._locks = []

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    @property
    def isolation(self) -> str:
        """What isolates a sample here, in words (learned from the first run; probes with one if none ran)."""
        if self._network is None:
            self.run("pass")
        net = ("network: own empty network namespace" if self._network == "namespace" else
               "network: NO network namespace available here; sockets are refused by an in-process audit hook "
               "(weaker: code calling the C library directly is not stopped)")
        if self._own_uid:
            user = "user: an unprivileged uid per worker (rlimits bind; leftovers of the uid are killed)"
        elif os.geteuid() == 0:
            user = ("user: ROOT (no Python that another user can run was found): process limits do not bind and "
                    "leftovers are found by process group only")
        else:
            user = ("user: the caller's own (not root: process limits count all of this user's processes, "
                    "leftovers are found by process group only)")
        return (f"{net}; {user}; limits: {self.config.wall_seconds:g} s wall, {self.config.cpu_seconds} s CPU, "
                f"{self.config.memory_mb} MB, {self.config.processes} processes, {self.config.output_bytes} bytes of "
                f"output; python: {self.python}; files: audit hook confines access to the work directory and "
                "refuses new programs")

    def run(self, program: str) -> RunResult:
        """Run one Python program to its end (or its limit) in a fresh directory; passed means it finished."""
        if self._closed:
            raise RuntimeError("this sandbox is closed (its uids may now belong to another)")
        uid = self._uids.get()
        try:
            return self._run(program, uid)
        finally:
            self._uids.put(uid)

    def run_many(self, programs: Iterable[tuple[object, str]]) -> Iterator[tuple[object, RunResult]]:
        """(key, program) pairs run `workers` at a time; yields (key, result) as each finishes."""
        with ThreadPoolExecutor(self.workers, thread_name_prefix="sandbox") as pool:
            futures = {pool.submit(self.run, program): key for key, program in programs}
            try:
                for future in as_completed(futures):
                    yield futures[future], future.result()
            finally:
                for future in futures:
                    future.cancel()

    def _run(self, program: str, uid: int | None) -> RunResult:
        c = self.config
        workdir = tempfile.mkdtemp(prefix="tether-sandbox-")
        try:
            Path(workdir, "program.py").write_text(program, encoding="utf-8")
            if uid is not None:
                os.chown(workdir, uid, uid)
            with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
                    tempfile.TemporaryFile() as marker:
                spec = {"dir": workdir, "program": "program.py", "cpu": c.cpu_seconds, "memory": c.memory_mb * _MB,
                        "output": c.output_bytes, "processes": self._process_limit(uid), "uid": uid, "gid": uid,
                        "marker_fd": marker.fileno(), "network_namespace": self._want_namespace, "parent": os.getpid()}
                env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": workdir, "TMPDIR": workdir}
                start = time.monotonic()
                proc = subprocess.Popen(  # noqa: S603 - the child script is ours; the sample runs inside it
                    [self.python, "-I", str(_CHILD), json.dumps(spec)], stdin=subprocess.DEVNULL, stdout=out,
                    stderr=err, pass_fds=(marker.fileno(),), start_new_session=True, cwd=workdir, env=env)
                wall_out = False
                try:
                    code = proc.wait(timeout=c.wall_seconds)
                except subprocess.TimeoutExpired:
                    wall_out = True
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    code = proc.wait()
                seconds = time.monotonic() - start
                _kill_all(proc.pid, uid)
                marks = _read(marker, 4096).splitlines()
                stdout, stderr = _read(out, c.output_bytes), _read(err, c.output_bytes)
                sizes = (out.seek(0, os.SEEK_END), err.seek(0, os.SEEK_END))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if marks and self._network is None:
            self._network = json.loads(marks[0])["network"]
        status, reason = self._judge(code, wall_out, "done" in marks[1:], stderr, max(sizes))
        return RunResult(status, reason, seconds, stdout, stderr)

    def _process_limit(self, uid: int | None) -> int:
        # RLIMIT_NPROC counts every process of the real uid: without a uid of its own, the caller's count is added
        return self.config.processes + (0 if uid is not None else len(_processes_of(os.getuid())))

    def _judge(self, code: int, wall_out: bool, finished: bool, stderr: str, largest: int) -> tuple[Status, str]:
        c = self.config
        last = _tail(stderr)
        if wall_out:
            return "timeout", f"wall time over {c.wall_seconds:g} s"
        if code == -signal.SIGXCPU:
            return "timeout", f"CPU time over {c.cpu_seconds} s"
        if code == -signal.SIGKILL:
            return "timeout", f"CPU time over {c.cpu_seconds} s (killed at the hard limit) or killed by the system"
        if code == -signal.SIGXFSZ or largest >= c.output_bytes:
            return "killed", f"output over {c.output_bytes} bytes"
        if code == 0 and finished:
            return "passed", ""
        if "MemoryError" in last or "Cannot allocate memory" in last:
            return "killed", f"memory over {c.memory_mb} MB ({last})"
        if "Resource temporarily unavailable" in last and ("fork" in stderr or "BlockingIOError" in last):
            return "killed", f"process limit ({c.processes}) reached ({last})"
        if code == _EXIT_EARLY or code == 0:
            return "failed", last or "exited before its tests finished"
        if code < 0:
            return "killed", f"killed by signal {signal.Signals(-code).name}"
        if last.startswith("AssertionError"):
            return "failed", last
        return "error", last or f"exit code {code}"

