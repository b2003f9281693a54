"""Who is an AI rater: interface llm-judge, a Rater record of kind 'ai', or the audit config; the rest are human."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tether.audit import AuditConfig, run_audit
from tether.audit.rater_kind import judged_by_ai
from tether.cli import app
from tether.records import Choice, Comparison, Rater, Side

runner = CliRunner()


def _comparisons() -> list[Comparison]:
    """Two people who agree, and 'bot' (no AI interface) that always picks the first shown."""
    out = []
    for i in range(24):
        truth = Choice.A if i % 2 else Choice.B
        for rater, order in (("ann", Side.A), ("bea", Side.B), ("bot", Side.A), ("bot", Side.B)):
            choice = Choice(order.value) if rater == "bot" else truth
            out.append(Comparison(prompt=f"p{i}", response_a=f"a{i}", response_b=f"b{i}", shown_first=order,
                                  choice=choice, rater=rater, interface="tether-web"))
    return out


def test_config_names_ai_raters_and_the_rule_leaves_them_out():
    cs = _comparisons()
    assert not any(judged_by_ai(c) for c in cs) and judged_by_ai(cs[2], ["bot"])
    as_human = run_audit(cs, AuditConfig(n_bootstrap=0)).to_dict()
    as_ai = run_audit(cs, AuditConfig(n_bootstrap=0, ai_raters=["bot"])).to_dict()
    assert as_human["ai_raters"] == [] and as_ai["ai_raters"] == ["bot"]
    assert as_ai["raters"]["bot"]["kind"] == "ai" and as_ai["raters"]["ann"]["kind"] == "human"
    # as a person, bot drags the rule's alpha down; as an AI rater it is reported beside the people
    assert as_human["task_types"]["default"]["alpha_all"] < as_ai["task_types"]["default"]["alpha_all"] == 1.0
    assert set(as_ai["agreement"]["by_rater_kind"]) == {"human", "ai", "all"}
    assert as_ai["agreement"]["by_rater_kind"]["ai"]["n_items"] == 0  # one AI rater: no pair to agree within
    # the same flag either way: the display-order test does not look at the kind
    assert as_human["raters"]["bot"]["flags"] == as_ai["raters"]["bot"]["flags"] != []


def test_store_rater_kind_and_cli_option_mark_ai_raters(project_dir: Path):
    from tether.config import find_project

    store = find_project().store()
    try:
        store.add_comparisons(_comparisons())
        store.upsert_raters([Rater(id="bot", attributes={"kind": "ai"}), Rater(id="ann")])
    finally:
        store.close()
    result = runner.invoke(app, ["audit", "--json", "a.json", "--bootstrap", "0"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    d = json.loads((project_dir / "a.json").read_text())
    assert d["ai_raters"] == ["bot"] and "AI raters: bot." in result.output
    result = runner.invoke(app, ["audit", "--json", "b.json", "--bootstrap", "0", "--ai-rater", "bea"],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert json.loads((project_dir / "b.json").read_text())["ai_raters"] == ["bea", "bot"]
