"""Preferences that drift: what users want changes over simulated months, and so does the gold.

    drift = PreferenceDrift()                  # launch: long, cautious answers liked; six months on: short, sure ones
    drift.gold_at(month)                       # the gold reward of that month (weights interpolated)
    drift.campaign(world, month, pairs, ...)   # raters of that month judge by its preferences
    drift.gold_pairs(world, candidates, month) # held-out truth of that month
    config = drift.users(world.config.production)   # production users whose length liking follows the same trend

Raters are recruited from the current user population, so the preferences they judge by at month t are the users'
at month t: `gold_at(t)`. Every numeric weight of `GoldConfig` moves linearly from `start` (month 0) to `end` (month
`months`) and stays there after. The default `end` is the world's own gold, so a world without drift is month
`months` of a drifting one; by the default drift, padded and hedged answers win their pairs at launch and lose them by
month 6 (most change sides between months 2 and 4). With no `PreferenceDrift` in play nothing in the world changes.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, model_validator

from tether.records import PreferencePair
from tether.sim.campaign import CampaignRun, CandidatePair
from tether.sim.config import CampaignConfig, GoldConfig, ProductionConfig, _Config
from tether.sim.raters import SimRater
from tether.sim.world import World

DAYS_PER_MONTH = 30.0


def _launch() -> GoldConfig:
    # at launch users like long answers (0.8 quality per 100 words: a padded answer beats a concise one) and barely
    # mind hedging; the world's default gold (`end`) wants them short and sure
    return GoldConfig(length_liking=0.8, hedge_penalty=0.1)


def launch_gold(strength: float = 1.0) -> GoldConfig:
    """The launch preferences of a drift `strength` times the default one: every weight `strength` of the way from
    the world's gold (the end point) to `_launch()`; 0 is no drift, 1 the default."""
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be in [0, 1], got {strength}")
    a, b = GoldConfig().model_dump(), _launch().model_dump()
    return GoldConfig(**{k: a[k] + strength * (b[k] - a[k]) for k in a})


class PreferenceDrift(_Config):
    """The gold at month 0 (`start`) and at month `months` (`end`); linear in between, constant after."""

    months: float = Field(6.0, gt=0)
    start: GoldConfig = Field(default_factory=_launch)
    end: GoldConfig = Field(default_factory=GoldConfig)

    @model_validator(mode="after")
    def _same_temperature(self) -> PreferenceDrift:
        if self.start.temperature != self.end.temperature or self.start.tie_margin != self.end.tie_margin:
            raise ValueError("start and end must share temperature and tie_margin (they scale labels, not tastes)")
        return self

    @classmethod
    def of_strength(cls, strength: float, months: float = 6.0) -> PreferenceDrift:
        """The default drift scaled: the same direction, `strength` times the change over the same `months`."""
        return cls(months=months, start=launch_gold(strength))

    def fraction(self, month: float) -> float:
        """How far the drift has gone at `month`: 0 at launch, 1 from `months` on."""
        if month < 0:
            raise ValueError(f"month must be >= 0, got {month}")
        return min(1.0, month / self.months)

    def gold_at(self, month: float) -> GoldConfig:
        """The preferences of `month`: every weight of `start` moved that far toward `end`."""
        f = self.fraction(month)
        a, b = self.start.model_dump(), self.end.model_dump()
        return GoldConfig(**{k: a[k] + f * (b[k] - a[k]) for k in a})

    def campaign(self, world: World, month: float, pairs: list[CandidatePair] | int,
                 raters: list[SimRater] | None = None, config: CampaignConfig | None = None) -> CampaignRun:
        """A campaign judged at `month` by raters holding that month's preferences (timestamps from that month)."""
        cfg = config or CampaignConfig()
        cfg = cfg.model_copy(update={"start": cfg.start + timedelta(days=DAYS_PER_MONTH * month)})
        return world.simulate_campaign(pairs, raters, cfg, gold=self.gold_at(month))

    def gold_pairs(self, world: World, candidates: list[CandidatePair], month: float,
                   objectives: tuple[str, ...] = ("overall",)) -> list[PreferencePair]:
        """The candidates labelled by the gold of `month` (its ties left out)."""
        return world.gold_pairs(candidates, objectives, gold=self.gold_at(month))

    def users(self, base: ProductionConfig) -> ProductionConfig:
        """`base` with users whose mean liking of long answers follows this drift's `length_liking` (per 30 days),
        over `months`. Pass `production_stream` a gold with `length_liking` 0 (`feedback_gold`): the users carry it.
        """
        slope = (self.end.length_liking - self.start.length_liking) / self.months
        return base.model_copy(update={"verbosity_pref_start": self.start.length_liking,
                                       "verbosity_pref_drift_per_30d": slope,
                                       "days": max(base.days, round(self.months * DAYS_PER_MONTH))})

    def feedback_gold(self, month: float) -> GoldConfig:
        """The gold production feedback is computed with at `month`: that month's, less the length liking the users
        carry themselves (`users`)."""
        return self.gold_at(month).model_copy(update={"length_liking": 0.0})
