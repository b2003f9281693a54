"""Helpers for the io tests: the bundled data, the CLI, and a store snapshot for all-or-nothing checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from typer.testing import CliRunner

from tether.cli import app
from tether.io.v1 import comparisons_to_v1, pairs_to_v1
from tether.store import Store
from tether.store.models import RaterRow

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data"
SAMPLES = Path(__file__).resolve().parents[1] / "data" / "io"


def run(*args: str, ok: bool = True) -> Any:
    """Run `tether ARGS` in-process; with ok=True, fail the test on a non-zero exit."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, result.output
    return result


def said(result: Any, text: str) -> bool:
    """Whether the CLI output holds `text` (rich wraps long lines anywhere, so whitespace is ignored)."""
    return "".join(text.split()) in "".join(result.output.split())


def item_line(path: Path, n: int) -> int:
    """The line on which item `n` of an indent=4 JSON array starts (counted independently of the reader)."""
    starts = [i for i, line in enumerate(path.read_text().splitlines(), start=1) if line == "    {"]
    return starts[n]


def _rater_ids(store: Store) -> list[str]:
    # Store.raters() is not used here: it reads Core rows through .scalars() (reported to the lead).
    with store.engine.connect() as conn:
        return list(conn.execute(select(RaterRow.id).order_by(RaterRow.id)).scalars())


def snapshot(store: Store) -> dict[str, Any]:
    """Everything an import can change: counts, and every stored comparison and pair as v1 objects."""
    return {
        "stats": store.stats(),
        "comparisons": list(comparisons_to_v1(store.iter_comparisons())),
        "pairs": list(pairs_to_v1(store.iter_pairs())),
        "sets": store.preference_sets(),
        "raters": _rater_ids(store),
    }


def write_lines(path: Path, rows: list[Any]) -> Path:
    """Write rows as JSON Lines (a str row is written as it is: for broken lines)."""
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path
