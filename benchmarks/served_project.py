"""A fresh Tether project with an ingestion key, served by `tether serve` on 127.0.0.1, its log kept in a file.

Shared by the benchmarks that need the real server process (`schemathesis_run.py`, `pii_fields.py`)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tether.deploy.process import free_port

TETHER = [str(Path(sys.executable).with_name("tether"))]  # the console script of this interpreter


def tether(project: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run a tether CLI command in the project folder; its output, or RuntimeError with it."""
    r = subprocess.run([*TETHER, *args], cwd=project, capture_output=True, text=True,
                       env={**os.environ, "COLUMNS": "200", **(env or {})})
    if r.returncode != 0:
        raise RuntimeError(f"tether {' '.join(args)}: exit {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r.stdout + r.stderr


def new_project(folder: Path) -> str:
    """`tether init` in folder; returns a new ingestion key for the project's tenant."""
    folder.mkdir(parents=True, exist_ok=True)
    tether(folder, "init")
    out = tether(folder, "keys", "create")
    key = re.search(r"\btk_[\w-]+", out)
    if key is None:
        raise RuntimeError(f"no key in the output of `tether keys create`: {out}")
    return key.group(0)


class Served:
    """`tether serve --port P` in the project folder; stdout and stderr go to `log`."""

    def __init__(self, project: Path, log: Path) -> None:
        self.project, self.log = project, log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Served:
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen([*TETHER, "serve", "--port", str(self.port)], cwd=self.project,
                                         stdout=fh, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120  # the first start imports the whole stack
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tether serve exited {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/openapi.json", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"tether serve did not answer on {self.url} within 120 s")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # uvicorn's graceful stop: the log is complete
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
