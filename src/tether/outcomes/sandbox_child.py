"""The sandbox's child process: cut the network, set the limits, leave root, then run the sample's program.

Run as a script (`python -I sandbox_child.py SPEC`) by `tether.outcomes.sandbox`; it imports only the standard
library, and everything privileged happens before the untrusted code is compiled. It writes one line to the
marker descriptor when set up (which isolation it got) and `done` once the program ran to its end, so a program
that leaves early (os._exit, sys.exit) never reads as passed.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
EXIT_EARLY = 3  # the program called sys.exit before its tests finished

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
# Events that change the file system at a path (first argument) or start another program; a spawned program
# would run without this process's audit hook, so spawning is refused outright.
_PATH_EVENTS = frozenset({"os.remove", "os.rmdir", "os.mkdir", "os.rename", "os.symlink", "os.link", "os.chmod",
                          "os.chown", "os.truncate", "os.utime", "os.chdir", "shutil.rmtree", "os.mkfifo",
                          "os.mknod"})
_SPAWN_EVENTS = frozenset({"os.exec", "os.posix_spawn", "os.spawn", "os.system", "subprocess.Popen", "pty.spawn",
                           "ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata"})
_SOCKET_EVENTS = frozenset({"socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg",
                            "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr"})


def _unshare_network(as_root: bool) -> bool:
    """A new, empty network namespace (no interface but a down loopback); False where the kernel refuses."""
    libc = ctypes.CDLL(None, use_errno=True)
    flags = CLONE_NEWNET if as_root else CLONE_NEWUSER | CLONE_NEWNET
    return libc.unshare(flags) == 0


def _set_limits(spec: dict) -> None:
    cpu, memory, output, processes = spec["cpu"], spec["memory"], spec["output"], spec["processes"]
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU at the soft limit, SIGKILL a second later
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (output, output))
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))


def _guard(workdir: str, readable: tuple[str, ...], block_sockets: bool):  # noqa: ANN202
    """An audit hook confining file access to the work directory (reads also to the Python installation) and,
    without a network namespace, refusing sockets. In-process only: weaker than the kernel's checks."""
    root = workdir.rstrip(os.sep) + os.sep

    def inside(path: object, prefixes: tuple[str, ...]) -> bool:
        if isinstance(path, int) or path is None:  # an open descriptor: checked when it was opened
            return True
        full = os.path.realpath(os.fsdecode(path))
        return any(full == p.rstrip(os.sep) or full.startswith(p) for p in prefixes)

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = args
            writes = (mode is not None and any(c in str(mode) for c in "wax+")) or bool((flags or 0) & _WRITE_FLAGS)
            if not inside(path, (root,) if writes else (root, *readable)):
                raise PermissionError(f"tether sandbox: access outside the work directory refused: {path}")
        elif event in ("os.listdir", "os.scandir"):
            if not inside(args[0] if args and args[0] is not None else ".", (root, *readable)):
                raise PermissionError(f"tether sandbox: access outside the work directory refused: {args[0]}")
        elif event in _PATH_EVENTS:
            if not inside(args[0], (root,)) or (event in ("os.rename", "os.link", "os.symlink")
                                                and not inside(args[1], (root,))):
                raise PermissionError(f"tether sandbox: change outside the work directory refused: {event}")
        elif event in _SPAWN_EVENTS:
            raise PermissionError(f"tether sandbox: {event} refused (a new program would escape the sandbox)")
        elif block_sockets and event in _SOCKET_EVENTS:
            raise PermissionError(f"tether sandbox: network access refused ({event})")

    return hook


def main() -> None:
    spec = json.loads(sys.argv[1])
    marker = spec["marker_fd"]
    as_root = os.geteuid() == 0
    network = "namespace" if spec["network_namespace"] and _unshare_network(as_root) else "audit-hook"
    _set_limits(spec)
    if spec["uid"] is not None:
        os.setgroups([])
        os.setgid(spec["gid"])
        os.setuid(spec["uid"])
    # die with the harness (set after setuid, which clears it); its forks are bounded by the CPU limit only
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != spec["parent"]:
        os._exit(EXIT_EARLY)
    workdir = spec["dir"]
    os.chdir(workdir)
    os.umask(0o077)
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # Python ignores it; the output limit should stop the sample
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.write(marker, (json.dumps({"network": network, "uid": os.getuid()}) + "\n").encode())
    path = os.path.join(workdir, spec["program"])
    with open(path, encoding="utf-8") as f:
        source = f.read()
    # the Python installation (sys.path[0] is this script's folder: not the program's business)
    readable = tuple(dict.fromkeys(os.path.realpath(p) + os.sep for p in
                                   (sys.prefix, sys.base_prefix, sys.exec_prefix, *filter(None, sys.path[1:]))))
    sys.addaudithook(_guard(os.path.realpath(workdir), readable, network != "namespace"))
    sys.argv = [path]
    sys.path[0] = workdir
    globs = {"__name__": "__main__", "__file__": path, "__builtins__": __builtins__}
    del spec
    try:
        exec(compile(source, path, "exec"), globs)  # noqa: S102 - running the sample is the point
    except SystemExit as exc:
        sys.stderr.write(f"SystemExit: the program called sys.exit({exc.code!r}) before its tests finished\n")
        sys.stderr.flush()
        os._exit(EXIT_EARLY)
    sys.stdout.flush()
    sys.stderr.flush()
    os.write(marker, b"done\n")
    os._exit(0)


if __name__ == "__main__":
    main()
