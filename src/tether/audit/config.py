"""Settings of the annotation audit and of curation (pydantic: a bad value names its field)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

Policy = Literal["discard", "downweight", "keep"]

# The 0.4 rule: below this agreement a task type's rubric is called ambiguous and its campaign cannot scale.
AGREEMENT_FLOOR = 0.4


class AuditConfig(BaseModel):
    """What `run_audit` computes and the thresholds it judges by."""

    model_config = ConfigDict(extra="forbid")
    cli_names: ClassVar[dict[str, str]] = {"block_threshold": "threshold", "n_bootstrap": "bootstrap",
                                           "min_shared_items": "min-shared", "ai_raters": "ai-rater"}

    block_threshold: float = Field(AGREEMENT_FLOOR, description="block task types whose agreement is below this")
    min_items_to_judge: int = Field(
        20, ge=2, description="a task type needs this many items with >= 2 ratings before the 0.4 rule applies")
    rubric_basis: Literal["qualified", "all"] = Field(
        "qualified", description="judge the 0.4 rule on qualified raters (when they overlap enough) or on all")
    qualified_reliability: float = Field(
        0.5, ge=0, le=1, description="raters at or above this reliability decide the 0.4 rule (when they overlap)")
    qualification_folds: int = Field(
        5, ge=2, le=20, description="folds for qualifying raters on items held out from the rule's agreement")
    min_shared_items: int = Field(20, ge=2, description="shared items a rater pair needs for Cohen's kappa")
    n_bootstrap: int = Field(200, ge=0, description="bootstrap resamples of items for every interval")
    confidence: float = Field(0.95, gt=0, lt=1)
    seed: int = Field(0, description="seed of the bootstrap")
    n_disputed: int = Field(10, ge=0, description="most-disputed examples listed per ambiguous task type")
    gold: dict[str, Literal["a", "b", "tie"]] | None = Field(None, description="pair_id -> gold label")
    gold_prior_strength: float = Field(10.0, ge=0)
    spammer_competence: float = Field(
        0.2, ge=0, le=1, description="MACE competence below this (content-driven on < 1 item in 5): spammer")
    unknown_reliability: float = Field(
        0.5, ge=0, le=1, description="reliability of raters who share no item with others and have no gold")
    label_model_iterations: int = Field(100, ge=1)
    label_frame: Literal["canonical", "display"] = Field(
        "canonical", description="canonical (a/b/tie) or display (first/second/tie, as the rater saw them)")
    position_model: bool = Field(True, description="fit Bradley–Terry with position effects (soft labels)")
    rule_raters: Literal["human", "all"] = Field(
        "human", description="whose judgments the 0.4 rule is judged on: 'human' (AI raters are reported beside "
                             "them; a task type no human judged is judged on its AI raters) or 'all' (AI raters too)")
    ai_raters: list[str] = Field(
        default_factory=list, description="rater ids that are AI raters (repeat), besides raters with interface "
                                          "llm-judge or kind 'ai' in the store")


class CurateConfig(BaseModel):
    """How comparisons become weighted preference pairs."""

    model_config = ConfigDict(extra="forbid")

    policy: Policy = Field("downweight", description="reversed pairs (judged differently in the two display "
                                                     "orders): discard, downweight or keep")
    include_blocked: bool = Field(False, description="keep pairs of blocked task types (at weight alpha / threshold)")
    soft_labels: Literal["bradley_terry", "dawid_skene"] = Field(
        "bradley_terry", description="where p_chosen comes from: bradley_terry or dawid_skene")
    reliability: Literal["rater", "slice"] = Field(
        "slice", description="rater: one reliability per rater; slice: per rater and task type (shrunk toward the "
                             "rater's own), labels from Bradley–Terry weighted by it, p_chosen calibrated")
    weights: Literal["reliability", "posterior"] = Field(
        "posterior", description="reliability: mean rater reliability; posterior: 2 p - 1 from the item's "
                                   "calibrated slice posterior (moves with agreement even at full overlap)")
    low_agreement_share: float = Field(
        2 / 3, gt=0, le=1, description="an item whose majority holds less than this share is flagged")
