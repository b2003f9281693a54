"""Layering: the store is the only module that speaks SQL; io (formats) never imports a stage."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import tether

SRC = Path(tether.__file__).parent
STAGES = ("raters", "collect", "audit", "reward", "policy", "deploy", "shift", "outcomes", "loop", "sim")


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


def test_io_does_not_import_the_stages() -> None:
    offenders = [m for m, names in _modules()
                 if _under(m, "tether.io") and any(_under(n, f"tether.{s}") for s in STAGES for n in names)]
    assert not offenders, f"tether.io imports a stage (take a hook from the caller instead): {offenders}"
