"""tether.audit: can the labels be trusted? Agreement, rater reliability, position bias, curation.

    result = run_audit(comparisons, AuditConfig())     # before any training
    result.blocked_task_types                          # the 0.4 rule
    store.add_audit_run(audit_run(result, comparisons))   # campaigns read the latest run that covered them
    pairs = curate(result, CurateConfig(policy="downweight")).pairs

`AuditResult.to_dict()` (`tether audit --json`) has stable keys, among them
`agreement.by_task_type.<task_type>.<metric>.{value,ci_low,ci_high}` (metrics:
krippendorff_alpha_nominal (primary), krippendorff_alpha_ordinal, fleiss_kappa, gwet_ac1,
cohens_kappa with its `pairs`), `agreement.by_rater_kind.{human,ai,all}.{value,ci_low,ci_high,n_items}`
(between-rater alpha per rater kind, `tether.audit.rater_kind`), `ai_raters`, `rule_raters`,
`raters.<rater>.{reliability,kind,flags,human_majority.{rate,alpha,n_items}}`,
`position.by_rater.<rater>.{rate,p_value,wilson_low,wilson_high,swap_consistency,favoured_first,
favoured_second}`, `task_types.<task_type>.{status,alpha,alpha_all,alpha_qualified,basis,qualification,
excluded_raters,dissenting_raters,rule_raters,message,disputed}` (the 0.4 rule, `tether.audit.rubric`; status: ok,
unreliable-raters, ambiguous (blocked), self-consistency, insufficient), `blocked_task_types` and
`position.bradley_terry.<objective>.{position_identified,tie_identified,notes}`.
"""

from tether.audit.audit import AuditResult, TaskVerdict, run_audit
from tether.audit.config import AuditConfig, CurateConfig
from tether.audit.curate import CurationResult, curate
from tether.audit.labels import LabelTable, build_table
from tether.audit.runs import audit_run

__all__ = [
    "AuditConfig",
    "AuditResult",
    "CurateConfig",
    "CurationResult",
    "LabelTable",
    "TaskVerdict",
    "audit_run",
    "build_table",
    "curate",
    "run_audit",
]
