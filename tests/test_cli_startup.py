"""A `tether` process started for one command imports what that command needs, not the demo's stack."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = ("import sys; sys.argv = {argv!r}; import tether.cli; "
         "print(' '.join(m for m in ('tether.demo', 'scipy.stats') if m in sys.modules))")


@pytest.mark.parametrize(("argv", "demo"), [
    (["/venv/bin/tether", "shift", "drift", "--help"], False),
    (["/venv/bin/tether", "reward", "train", "--help"], False),
    (["/venv/bin/tether", "demo", "--help"], True),
    (["/venv/bin/tether", "--help"], True),  # the top-level help lists every command
    (["/venv/bin/tether"], True),
    (["pytest", "shift"], True),  # imported by something else (tests, the docs hook): everything
])
def test_start_up_imports(argv: list[str], demo: bool) -> None:
    out = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, check=True)
    loaded = out.stdout.split()
    assert ("tether.demo" in loaded) is demo
    if not demo:
        assert "scipy.stats" not in loaded  # (reward.evaluate, imported by tether.collect, loads it on use)
