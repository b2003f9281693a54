"""Seams the import-linter contract (pyproject.toml, run by the README's test command) does not express:
the store is the only module that speaks SQL, and the training scaffold and tether.policy import without torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import tether

SRC = Path(tether.__file__).parent


def _modules() -> Iterator[tuple[str, set[str]]]:
    """(module, every name it imports) for each module of tether, found with `ast` (imports inside functions too)."""
    for path in sorted(SRC.rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        yield ".".join(("tether", *path.relative_to(SRC).with_suffix("").parts)), names


def _under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_only_the_store_imports_sqlalchemy() -> None:
    offenders = [m for m, names in _modules()
                 if not _under(m, "tether.store") and any(_under(n, "sqlalchemy") for n in names)]
    assert not offenders, f"outside tether.store, these modules import sqlalchemy (move their SQL): {offenders}"


def test_importing_training_and_policy_does_not_import_torch() -> None:
    code = ("import sys, tether.training, tether.policy; assert 'load_policy' in tether.policy.__all__; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


STAGES = ("io", "audit", "audit.models", "raters", "collect", "reward", "policy", "deploy", "shift", "sim", "training")


def test_every_stage_exports_its_api() -> None:
    """`import tether.<stage>` lists its entry points in `__all__`, and each of them resolves."""
    import importlib

    for stage in STAGES:
        module = importlib.import_module(f"tether.{stage}")
        assert module.__all__, stage
        missing = [n for n in module.__all__ if not hasattr(module, n)]
        assert not missing, (stage, missing)
