"""The code sandbox stops or refuses what it must, with the right reason, and leaves the host as it was."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tether.outcomes.config import SandboxConfig
from tether.outcomes.sandbox import Sandbox, _processes_of

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox uses Linux rlimits and /proc")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(wall_seconds=4, cpu_seconds=1, workers=2)) as s:
        yield s


def _no_leftovers(sandbox: Sandbox) -> bool:
    return all(not [p for p, zombie, _ in _processes_of(uid) if not zombie] for uid in sandbox.uids)


def test_a_finished_program_passes_and_its_output_comes_back(sandbox: Sandbox) -> None:
    r = sandbox.run("print('hello')\nassert sum(range(4)) == 6")
    assert (r.status, r.passed, r.stdout) == ("passed", True, "hello\n")


def test_a_failing_assert_fails_and_other_exceptions_are_errors(sandbox: Sandbox) -> None:
    failed = sandbox.run("assert 1 == 2, 'one is not two'")
    assert (failed.status, failed.reason) == ("failed", "AssertionError: one is not two")
    error = sandbox.run("undefined_name + 1")
    assert error.status == "error" and error.reason.startswith("NameError")


def test_leaving_early_is_not_passing(sandbox: Sandbox) -> None:
    assert sandbox.run("import sys\nsys.exit(0)\nassert False").status == "failed"
    early = sandbox.run("import os\nos._exit(0)\nassert False")
    assert early.status == "failed" and "before its tests finished" in early.reason


def test_an_infinite_loop_times_out(sandbox: Sandbox) -> None:
    r = sandbox.run("while True:\n    pass")
    assert r.status == "timeout"
    assert "CPU time over 1 s" in r.reason or "wall time over 4 s" in r.reason
    assert _no_leftovers(sandbox)


def test_a_memory_bomb_is_stopped_by_the_memory_limit() -> None:
    # time limits far above what filling 512 MB costs: on a loaded machine the page faults alone passed the module
    # sandbox's 1 s of CPU (user + sys) first, and the memory limit is what this test is about
    with Sandbox(SandboxConfig(wall_seconds=60, cpu_seconds=30, workers=1)) as sandbox:
        r = sandbox.run("blocks = []\nwhile True:\n    blocks.append(bytearray(50 * 2**20))")
    assert r.status == "killed" and r.reason.startswith("memory over 512 MB")


def test_a_fork_bomb_hits_the_process_limit_and_leaves_nothing_behind(sandbox: Sandbox) -> None:
    if not sandbox.uids:
        pytest.skip("not root: the process limit counts the caller's own processes")
    r = sandbox.run("import os\nwhile True:\n    os.fork()")
    seen = (r.status, r.reason, r.stderr[-500:])
    assert r.status == "killed" and r.reason.startswith("process limit (32) reached"), seen
    assert _no_leftovers(sandbox)
    assert subprocess.run(["true"]).returncode == 0  # the host can still start processes


def test_a_process_that_leaves_the_group_is_killed_too(sandbox: Sandbox, tmp_path: Path) -> None:
    if not sandbox.uids:
        pytest.skip("not root: leftovers are found by process group only")
    # a forked child starts its own session (out of the sample's process group) and sleeps on
    r = sandbox.run("import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\n")
    assert r.status == "passed"
    assert _no_leftovers(sandbox)


def test_a_network_connection_is_refused(sandbox: Sandbox) -> None:
    r = sandbox.run("import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=3)")
    assert r.status == "error"
    assert "Network is unreachable" in r.reason or "network access refused" in r.reason
    if "own empty network namespace" in sandbox.isolation:
        local = sandbox.run("import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=3)")
        assert local.status == "error" and "unreachable" in local.reason  # not even the host's loopback


def test_writing_outside_the_work_directory_is_refused(sandbox: Sandbox, tmp_path: Path) -> None:
    target = tmp_path / "escaped.txt"
    os.chmod(tmp_path, 0o777)  # writable by anyone: only the sandbox stands in the way
    r = sandbox.run(f"open({str(target)!r}, 'w').write('x')")
    assert r.status == "error" and "outside the work directory refused" in r.reason
    assert not target.exists()
    inside = sandbox.run("open('scratch.txt', 'w').write('x')\nassert open('scratch.txt').read() == 'x'")
    assert inside.status == "passed"  # its own directory is writable


def test_starting_another_program_is_refused(sandbox: Sandbox, tmp_path: Path) -> None:
    target = tmp_path / "touched"
    os.chmod(tmp_path, 0o777)
    r = sandbox.run(f"import subprocess\nsubprocess.run(['touch', {str(target)!r}])")
    assert r.status == "error" and "refused" in r.reason
    assert not target.exists()


def test_huge_output_is_cut_off_at_the_limit(sandbox: Sandbox) -> None:
    r = sandbox.run("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)")
    assert r.status == "killed" and r.reason == "output over 1000000 bytes"
    assert len(r.stdout) <= 1_000_000


def test_isolation_says_what_this_machine_gives() -> None:
    with Sandbox(SandboxConfig(workers=1)) as s:
        text = s.isolation
    assert text.startswith("network: ")
    assert "own empty network namespace" in text or "audit hook" in text
    if os.geteuid() == 0:
        assert "unprivileged uid" in text or "ROOT" in text


def test_run_many_runs_every_program_once(sandbox: Sandbox) -> None:
    programs = [(i, f"assert {i} % 3 != 0") for i in range(8)]
    got = dict(sandbox.run_many(programs))
    assert {i: r.passed for i, r in got.items()} == {i: i % 3 != 0 for i in range(8)}


def test_limits_come_from_tether_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tether.config import ConfigError, stage_config

    (tmp_path / "tether.toml").write_text('[project]\nname = "p"\n\n[outcomes]\ntimeout = 3\nprocesses = 8\n')
    monkeypatch.chdir(tmp_path)
    cfg = stage_config(SandboxConfig, "outcomes", {"processes": 4})
    assert (cfg.wall_seconds, cfg.processes, cfg.cpu_seconds) == (3, 4, 5)
    (tmp_path / "tether.toml").write_text('[project]\nname = "p"\n\n[outcomes]\nmemory = 1\n')
    with pytest.raises(ConfigError, match=r"\[outcomes\]: key 'memory_mb'"):
        stage_config(SandboxConfig, "outcomes")


def test_without_a_network_namespace_the_hook_refuses_sockets_and_says_it_is_weaker() -> None:
    with Sandbox(SandboxConfig(workers=1), network_namespace=False) as s:
        assert "NO network namespace" in s.isolation and "weaker" in s.isolation
        r = s.run("import socket\nsocket.socket().connect(('127.0.0.1', 22))")
        assert r.status == "error" and "network access refused (socket.connect)" in r.reason
        dns = s.run("import socket\nsocket.getaddrinfo('example.com', 80)")
        assert dns.status == "error" and "network access refused" in dns.reason
