"""tether.sim: a simulated world with a known truth (docs/world.md).

Prompts in several domains and languages, responses with controllable properties, a gold
reward per objective computable from any text, raters with hidden traits and visible
profiles, users and a drifting production stream, and a small GPT-2 policy. Importing this
package does not import torch; the policy functions load it on first use.
"""

from __future__ import annotations

from tether.lazy import lazy_exports
from tether.sim.campaign import Assignment, CampaignRun, CandidatePair
from tether.sim.config import (
    CampaignConfig,
    CandidateConfig,
    GoldConfig,
    PolicyConfig,
    ProductionConfig,
    PromptMixConfig,
    RaterPoolConfig,
    TraitDistribution,
    WorldConfig,
)
from tether.sim.gold import OBJECTIVES, UnknownPrompt, gold_label, gold_preference, gold_reward
from tether.sim.prompts import SimPrompt
from tether.sim.raters import RaterTraits, SimRater
from tether.sim.responses import Style
from tether.sim.world import World

_POLICY, __getattr__ = lazy_exports(__name__, {**{n: "policy" for n in (  # torch loads only when the policy is used
    "train_policy", "generate", "evaluate_policy", "PolicyResult")},
    "outcome_rows": "outcomes", "ResponseMix": "outcomes"})

__all__ = [
    "Assignment", "CampaignConfig", "CampaignRun", "CandidateConfig", "CandidatePair", "GoldConfig", "OBJECTIVES",
    "PolicyConfig", "ProductionConfig", "PromptMixConfig", "RaterPoolConfig", "RaterTraits", "SimPrompt",
    "SimRater", "Style", "TraitDistribution", "UnknownPrompt", "World", "WorldConfig", "gold_label",
    "gold_preference", "gold_reward", *_POLICY,
]
