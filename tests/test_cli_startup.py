"""Registering every command must not import the demo's stages (the simulated world, scikit-learn, the guards):
every `tether` process registers `demo`, and that import cost ~1.9 s of each command's start-up."""

from __future__ import annotations

import subprocess
import sys

PROBE = ("import sys; import tether.cli; "
         "print(' '.join(m for m in ('tether.demo', 'tether.demo.stages', 'scipy.stats') if m in sys.modules))")


def test_start_up_registers_the_demo_without_its_stages() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["tether.demo"]


def test_the_stages_load_on_first_use() -> None:
    import tether.demo

    assert tether.demo.run_demo.__module__ == "tether.demo.stages"
