"""`tether curate -o FILE --set NAME` says why the set holds fewer pairs than the file: repeated texts."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tether.cli import app
from tether.io import write_jsonl
from tether.io.v1 import comparison_to_v1


def test_curate_says_why_the_set_holds_fewer_pairs(project_dir: Path, synth) -> None:  # noqa: ANN001
    raters = [synth.Rater(f"c{i}", 0.92) for i in range(4)]
    clear, _ = synth.campaign(raters, n_items=30, per_item=4, seed=1, task_type="clear")
    first = sorted({c.pair_id for c in clear})[:5]  # five items asked again under new ids: the same texts
    copies = [c.model_copy(update={"pair_id": f"{c.pair_id}-again"}) for c in clear if c.pair_id in first]
    path = project_dir / "comparisons.jsonl"
    write_jsonl(path, (comparison_to_v1(c) for c in clear + copies))
    result = CliRunner().invoke(app, ["curate", str(path), "--policy", "keep", "-o", "pairs.jsonl", "--set", "cur",
                                      "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    wrote = len((project_dir / "pairs.jsonl").read_text().splitlines())
    assert f"wrote {wrote} pairs" in said
    assert (f"stored {wrote - 5} pairs as preference set 'cur'; 5 more repeat another pair's prompt, chosen and "
            f"rejected texts and objective (a set holds each once; the file keeps all {wrote})") in said
    pairs = [json.loads(line) for line in (project_dir / "pairs.jsonl").read_text().splitlines()]
    assert len({(p["prompt"], p["chosen"], p["rejected"]) for p in pairs}) == wrote - 5
