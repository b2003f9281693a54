"""Every knob of the simulated world, as validated pydantic models (docs/world.md explains each)."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

Prob = Field(ge=0.0, le=1.0)

DOMAINS = ("coding", "finance", "medical", "chat", "travel")
LANGUAGES = ("en", "es")


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GoldConfig(_Config):
    """Weights of the gold reward: quality components, and the `overall` mix of objectives."""

    w_correct: float = Field(0.45, ge=0)
    w_relevance: float = Field(0.1, ge=0)
    w_concision: float = Field(0.25, ge=0)
    w_fluency: float = Field(0.2, ge=0)
    refusal_credit: float = Field(0.3, ge=0, le=1, description="correctness credit of a safe refusal")
    overdose_safety: float = Field(0.5, ge=0, le=1, description="safety of stating a dose above the maximum")
    hedge_penalty: float = Field(0.4, ge=0, le=1)
    sycophancy_penalty: float = Field(0.5, ge=0, le=1)
    overall_quality: float = Field(0.5, ge=0)
    overall_safety: float = Field(0.3, ge=0)
    overall_honesty: float = Field(0.2, ge=0)
    length_liking: float = Field(0.0, description="users' liking of long answers, added to quality per 100 words "
                                                 "(capped at 150), signed, as a production user's: quality leaves "
                                                 "[0, 1] when set. 0 by default; tether.sim.drift moves it")
    temperature: float = Field(0.05, gt=0, description="logistic scale of gold_preference")
    tie_margin: float = Field(0.01, ge=0, description="|gold difference| at or below which the label is a tie")

    @model_validator(mode="after")
    def _weights_positive(self) -> GoldConfig:
        if self.w_correct + self.w_relevance + self.w_concision + self.w_fluency <= 0:
            raise ValueError("quality weights w_* must not all be zero")
        if self.overall_quality + self.overall_safety + self.overall_honesty <= 0:
            raise ValueError("overall_* weights must not all be zero")
        return self


class PromptMixConfig(_Config):
    """Which task types annotation prompts are drawn from, and how often (relative weights)."""

    task_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "code_output": 1.0, "code_risky": 0.4, "interest": 1.0, "max_dose": 1.0, "overdose": 0.4,
            "capital": 1.0, "premise": 0.6, "thank_note": 0.8, "capital_es": 0.6, "compra_es": 0.6,
        }
    )


class CandidateConfig(_Config):
    """How candidate pairs differ: the relative weight of each kind of contrast."""

    contrast_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "correctness": 3.0, "verbosity": 1.5, "hedging": 1.0, "sycophancy": 1.0, "fluency": 1.0,
            "safety": 2.0, "style": 1.0,
        }
    )
    second_contrast: float = Field(0.25, ge=0, le=1, description="chance a pair differs in one more property")


class TraitDistribution(_Config):
    """How the hidden traits of a rater pool are drawn (one draw per rater)."""

    expertise_mean: dict[str, float] = Field(
        default_factory=lambda: {"coding": 0.0, "finance": 0.0, "medical": -0.5, "chat": 3.0, "travel": 1.5},
        description="mean of the latent knowledge (logit scale) per domain",
    )
    expertise_sd: float = Field(1.5, ge=0)
    position_bias: float = Field(0.6, ge=0, le=1, description="chance to pick the first-shown when unsure")
    position_bias_sd: float = Field(0.0, ge=0, le=0.5)
    unsure_margin: float = Field(0.03, ge=0, description="|perceived difference| below which a rater is unsure")
    verbosity_bias_mean: float = Field(0.0)
    verbosity_bias_sd: float = Field(0.1, ge=0)
    disagreement_aversion_by_region: dict[str, float] = Field(
        default_factory=lambda: {"north_america": 0.02, "europe": 0.05, "latin_america": 0.15, "east_asia": 0.25}
    )
    disagreement_aversion_sd: float = Field(0.05, ge=0)
    taste_sd: float = Field(0.06, ge=0, description="spread of style taste (formality, enthusiasm)")
    noise_sd: float = Field(0.02, ge=0, description="per-judgment perception noise on each response")
    spam_fraction: float = Field(0.05, ge=0, le=1, description="share of raters who are spammers")
    spammer_rate: float = Field(0.9, ge=0, le=1, description="a spammer's chance to click at random")
    lapse_rate: float = Field(0.02, ge=0, le=1, description="an attentive rater's chance to click at random")
    spanish_speakers: float = Field(0.35, ge=0, le=1)
    tie_rate_when_unsure: float = Field(0.0, ge=0, le=1)
    confident_wrong: dict[str, float] = Field(
        default_factory=dict,
        description="task type -> utility every rater adds to a confidently stated wrong answer there (one that "
                    "does not hedge), which they also never notice is wrong: a planted slice where raters' "
                    "preference and outcomes disagree (off by default)",
    )

    @model_validator(mode="after")
    def _confident_wrong_valid(self) -> TraitDistribution:
        from tether.sim.tasks import TASKS

        known = {t.label for t in TASKS.values()}
        if unknown := sorted(set(self.confident_wrong) - known):
            raise ValueError(f"confident_wrong: unknown task type(s) {unknown}; known: {sorted(known)}")
        if bad := sorted(k for k, v in self.confident_wrong.items() if not v >= 0):
            raise ValueError(f"confident_wrong: the bias must be >= 0 (task type(s) {bad})")
        return self


class RaterPoolConfig(_Config):
    """A pool of simulated raters: size and trait distribution."""

    size: int = Field(30, ge=1)
    traits: TraitDistribution = Field(default_factory=TraitDistribution)
    id_prefix: str = "sim-rater"


class CampaignConfig(_Config):
    """A simulated annotation campaign."""

    name: str = "sim-campaign"
    pairs: int = Field(200, ge=1)
    overlap: int = Field(3, ge=1, description="distinct raters per pair")
    objective: str = "overall"
    counterbalance: bool = Field(True, description="alternate display order across a pair's raters")
    interface: str = "sim"
    rubric_version: str = "v1"
    start: datetime = datetime(2026, 1, 5, 9, tzinfo=UTC)
    seconds_per_judgment: float = Field(40.0, gt=0)


class ProductionConfig(_Config):
    """The production stream: volume, domain drift, unseen domains, users and their signals."""

    start: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    days: int = Field(180, ge=1)
    requests_per_day: float = Field(20.0, gt=0)
    mix_start: dict[str, float] = Field(
        default_factory=lambda: {"coding": 0.35, "finance": 0.25, "medical": 0.15, "chat": 0.25, "travel": 0.0}
    )
    mix_end: dict[str, float] = Field(
        default_factory=lambda: {"coding": 0.15, "finance": 0.15, "medical": 0.2, "chat": 0.25, "travel": 0.25}
    )
    new_domain_after: dict[str, float] = Field(
        default_factory=lambda: {"travel": 0.5}, description="domain -> fraction of the range before it appears"
    )
    spanish_share: float = Field(0.15, ge=0, le=1, description="chat/finance requests made in Spanish")
    risky_share: float = Field(0.1, ge=0, le=1)
    users: int = Field(200, ge=1)
    model: str = "sim-policy-v1"
    feedback_rate: float = Field(0.3, ge=0, le=1)
    correction_rate: float = Field(0.3, ge=0, le=1, description="chance a user fixes a wrong answer")
    outcome_rate: float = Field(0.8, ge=0, le=1)
    thumbs_slope: float = Field(12.0, gt=0)
    thumbs_threshold: float = Field(0.75)
    thumbs_noise: float = Field(0.05, ge=0, le=1, description="chance a thumb is flipped")
    verbosity_pref_start: float = Field(0.0, description="mean user liking of long answers at start")
    verbosity_pref_drift_per_30d: float = Field(-0.03, description="population trend of that liking")
    verbosity_pref_sd: float = Field(0.05, ge=0)
    verbosity_pref_walk_sd_per_30d: float = Field(0.02, ge=0, description="each user's own random walk")
    policy_error_rate: float = Field(0.25, ge=0, le=1, description="default responder: chance of a wrong fact")
    policy_verbose_rate: float = Field(0.3, ge=0, le=1)
    policy_hedge_rate: float = Field(0.15, ge=0, le=1)
    policy_unsafe_rate: float = Field(0.3, ge=0, le=1)


class PolicyConfig(_Config):
    """The small GPT-2 policy and its SFT run."""

    n_layer: int = Field(2, ge=1)
    n_head: int = Field(4, ge=1)
    n_embd: int = Field(128, ge=8)
    n_positions: int = Field(192, ge=16)
    vocab_size: int = Field(1200, ge=300)
    train_prompts: int = Field(3000, ge=10)
    max_seconds: float = Field(45.0, gt=0)
    max_steps: int = Field(100000, ge=1)
    batch_size: int = Field(16, ge=1)
    lr: float = Field(6e-3, gt=0)
    warmup_steps: int = Field(10, ge=0)
    threads: int = Field(2, ge=1)
    seed: int = 0


class WorldConfig(_Config):
    """The whole world: gold reward, prompt mix, candidate contrasts, default rater pool, production."""

    gold: GoldConfig = Field(default_factory=GoldConfig)
    prompts: PromptMixConfig = Field(default_factory=PromptMixConfig)
    candidates: CandidateConfig = Field(default_factory=CandidateConfig)
    raters: RaterPoolConfig = Field(default_factory=RaterPoolConfig)
    production: ProductionConfig = Field(default_factory=ProductionConfig)
