"""Seams the import-linter contract (pyproject.toml, run by the README's test command) does not express."""

from __future__ import annotations

import subprocess
import sys


def test_importing_training_and_policy_does_not_import_torch() -> None:
    code = ("import sys, tether.training, tether.policy; assert 'load_policy' in tether.policy.__all__; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
