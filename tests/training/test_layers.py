"""Seams: the training scaffold sits below the stages, no stage library imports the simulated world above them,
and importing the scaffold or tether.policy does not import torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "tether"
STAGES = ("raters", "collect", "audit", "reward", "policy", "deploy", "shift", "outcomes", "sim", "loop")


def _imports(package: str) -> set[tuple[str, str]]:
    """(file, imported module) for every import in a package, lazy ones inside functions included."""
    found = set()
    for path in (SRC / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            found |= {(path.name, n) for n in names}
    return found


@pytest.mark.parametrize(("package", "forbidden"), [
    ("training", tuple(f"tether.{s}" for s in STAGES)),
    ("shift", ("tether.sim",)),
    ("policy", ("tether.sim", "tether.shift")),
])
def test_no_upward_imports(package: str, forbidden: tuple[str, ...]) -> None:
    bad = sorted((f, m) for f, m in _imports(package) if any(m == x or m.startswith(x + ".") for x in forbidden))
    assert not bad


def test_importing_training_and_policy_does_not_import_torch() -> None:
    code = ("import sys, tether.training, tether.policy; assert 'load_policy' in tether.policy.__all__; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
