"""Run the ingestion API in a child process (uvicorn) — for durability tests and load benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`uvicorn --factory tether.deploy.api:app_from_env` on 127.0.0.1:`port` over `database_url`."""

    def __init__(self, database_url: str, port: int | None = None, workers: int = 1,
                 uvicorn_args: Sequence[str] = ()) -> None:
        """`uvicorn_args`: more uvicorn options (`--http h11 --loop asyncio`: the pure-Python stack)."""
        self.database_url = database_url
        self.uvicorn_args = list(uvicorn_args)
        self.port = port or free_port()
        self.workers = workers
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> ServerProcess:
        """Start and wait until the OpenAPI spec answers (importing the stack takes over 30 s on a loaded machine)."""
        env = {**os.environ, "TETHER_DATABASE_URL": self.database_url}
        cmd = [sys.executable, "-m", "uvicorn", "--factory", "tether.deploy.api:app_from_env",
               "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
               "--workers", str(self.workers), *self.uvicorn_args]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                if httpx.get(self.url + "/openapi.json", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not answer on {self.url} within {timeout}s")

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flush — what a crash looks like."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        """Terminate gracefully (SIGTERM), then SIGKILL if it hangs."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
