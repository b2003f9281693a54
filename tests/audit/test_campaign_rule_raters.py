"""A campaign can say whose judgments its 0.4 rule runs on: its audits follow it unless the audit asks for all."""

from __future__ import annotations

from pathlib import Path

from tests.collect.collect_helpers import setup_campaign

from tether.audit.cli import _with_campaign_rule
from tether.audit.config import AuditConfig
from tether.config import find_project


def test_campaign_rule_raters_reach_its_audit(project_dir: Path) -> None:
    store = find_project().store()
    setup_campaign(store, raters=0, task_types={"qa": 2}, name="people")
    setup_campaign(store, raters=0, task_types={"qa": 2}, name="with-judges", rule_raters="all")
    store.close()
    assert _with_campaign_rule(AuditConfig(), "people").rule_raters == "human"
    assert _with_campaign_rule(AuditConfig(), "with-judges").rule_raters == "all"
    assert _with_campaign_rule(AuditConfig(), None).rule_raters == "human"
    assert _with_campaign_rule(AuditConfig(rule_raters="all"), "people").rule_raters == "all"
