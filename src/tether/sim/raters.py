"""Simulated raters: hidden traits that drive their judgments, visible profile attributes that hint at them."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from typing import Any

from tether.records import Rater
from tether.sim.config import DOMAINS, GoldConfig, RaterPoolConfig
from tether.sim.gold import combine, components, parsed

KNOWLEDGE_LEVELS = ("none", "basic", "intermediate", "expert")
TOLERANCE_LEVELS = ("low", "medium", "high")
BACKGROUNDS = {"coding": "software engineer", "finance": "accountant", "medical": "nurse"}
GENERAL_BACKGROUNDS = ("student", "teacher", "retail worker", "writer")
DISAGREEMENT = ("no, that is not right", "that is not right", "that is wrong", "you are wrong",
                "eso no es correcto")


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@dataclass(frozen=True)
class RaterTraits:
    """What drives a simulated rater's judgments; hidden from Tether (only the truth file has it)."""

    expertise: dict[str, float]  # domain -> chance to notice a wrong fact
    languages: tuple[str, ...]
    position_bias: float  # chance to pick the first-shown response when unsure
    unsure_margin: float
    verbosity_bias: float  # utility per 100 words of length
    disagreement_aversion: float  # utility lost by a response that bluntly contradicts the user
    taste_formality: float
    taste_enthusiasm: float
    noise_sd: float
    spam_rate: float  # chance a judgment is a random click
    tie_rate_when_unsure: float = 0.0
    spammer: bool = False
    confident_wrong: dict[str, float] = field(default_factory=dict)  # task type -> liking of confident wrong answers


@dataclass(frozen=True)
class SimRater:
    """A simulated rater: id, hidden traits, visible profile attributes."""

    id: str
    traits: RaterTraits
    profile: dict[str, Any]

    def to_record(self) -> Rater:
        """The rater as Tether sees it: id and visible profile attributes only."""
        return Rater(id=self.id, name=self.id, attributes=dict(self.profile))

    def truth(self) -> dict[str, Any]:
        """Hidden traits as a JSON-ready object (for scoring audits)."""
        t = self.traits
        return {"rater": self.id, "expertise": t.expertise, "languages": list(t.languages),
                "position_bias": t.position_bias, "verbosity_bias": t.verbosity_bias,
                "disagreement_aversion": t.disagreement_aversion, "taste_formality": t.taste_formality,
                "taste_enthusiasm": t.taste_enthusiasm, "noise_sd": t.noise_sd, "spam_rate": t.spam_rate,
                "spammer": t.spammer, "confident_wrong": t.confident_wrong}


def _level(x: float, cuts: tuple[float, ...], names: tuple[str, ...]) -> str:
    return names[sum(x > c for c in cuts)]


def make_pool(config: RaterPoolConfig, rng: random.Random) -> list[SimRater]:
    """Draw a pool of raters; visible attributes are noisy readings of the hidden traits."""
    d = config.traits
    regions = sorted(d.disagreement_aversion_by_region)
    raters = []
    for i in range(config.size):
        latent = {dom: rng.gauss(d.expertise_mean.get(dom, 0.0), d.expertise_sd) for dom in DOMAINS}
        expertise = {dom: _sigmoid(z) for dom, z in latent.items()}
        knowledge = {dom: _level(z + rng.gauss(0, 0.5), (-1.0, 0.5, 2.0), KNOWLEDGE_LEVELS)
                     for dom, z in latent.items()}
        pro = {dom: latent[dom] + rng.gauss(0, 0.5) for dom in BACKGROUNDS}
        best = max(pro, key=pro.__getitem__)
        background = BACKGROUNDS[best] if pro[best] > 1.0 else rng.choice(GENERAL_BACKGROUNDS)
        spammer = rng.random() < d.spam_fraction
        vb = rng.gauss(d.verbosity_bias_mean, d.verbosity_bias_sd)
        region = rng.choice(regions)
        langs = ("en", "es") if region == "latin_america" or rng.random() < d.spanish_speakers else ("en",)
        traits = RaterTraits(
            expertise=expertise,
            languages=langs,
            position_bias=min(1.0, max(0.0, rng.gauss(d.position_bias, d.position_bias_sd))),
            unsure_margin=d.unsure_margin,
            verbosity_bias=vb,
            disagreement_aversion=max(0.0, rng.gauss(d.disagreement_aversion_by_region[region],
                                                     d.disagreement_aversion_sd)),
            taste_formality=rng.gauss(0, d.taste_sd),
            taste_enthusiasm=rng.gauss(0, d.taste_sd),
            noise_sd=d.noise_sd,
            spam_rate=d.spammer_rate if spammer else d.lapse_rate,
            tie_rate_when_unsure=d.tie_rate_when_unsure,
            spammer=spammer,
            confident_wrong=dict(d.confident_wrong),
        )
        scale = d.verbosity_bias_sd or 1.0
        profile = {
            "domain_knowledge": knowledge,
            "professional_background": background,
            "technical_detail_tolerance": _level((vb - d.verbosity_bias_mean) / scale + rng.gauss(0, 0.5),
                                                 (-0.5, 0.5), TOLERANCE_LEVELS),
            "languages": list(langs),
            "region": region,
            "approval_rate": round(min(1.0, max(0.5, (0.86 if spammer else 0.97) + rng.gauss(0, 0.02))), 3),
        }
        raters.append(SimRater(f"{config.id_prefix}-{i:04d}", traits, profile))
    return raters


@dataclass(frozen=True)
class Judgment:
    """One simulated judgment in display terms, with the hidden reason behind it."""

    picked_first: bool | None  # None = tie
    confidence: float
    unsure: bool
    spam: bool
    noticed: tuple[bool, bool]  # whether a wrong fact in the first / second shown response was noticed


def style_features(text: str) -> tuple[float, float]:
    """(formality in {-1, 0, 1}, enthusiasm in [0, 1]): what taste reacts to."""
    lower = text.lower()
    formality = 1.0 if "kind regards" in lower or "greatly appreciated" in lower else \
        -1.0 if lower.startswith("hey") or "thanks a ton" in lower else 0.0
    return formality, min(3, text.count("!")) / 3


def disagrees(text: str) -> bool:
    """Whether a response bluntly contradicts the user (what disagreement-averse raters punish)."""
    lower = text.lower()
    return any(m in lower for m in DISAGREEMENT)


def perceive(rater: SimRater, prompt: str, text: str, objective: str, gold: GoldConfig,
             rng: random.Random) -> tuple[float, bool]:
    """A rater's utility for one response, and whether they noticed its wrong fact."""
    task, _ = parsed(prompt)
    t = rater.traits
    c = components(prompt, text, gold)
    noticed = True
    wrong = c.correct < 1.0 and task.kind != "risky"
    lure = t.confident_wrong.get(task.label, 0.0) if wrong and not c.hedging else 0.0
    if wrong:
        # the planted slice: a confident wrong answer is never noticed, and gains `lure`
        noticed = rng.random() < t.expertise.get(task.domain, 0.5) and lure == 0
        if not noticed:  # an unnoticed wrong fact looks right, and so does its unsafe dose
            c = replace(c, correct=1.0, safety=1.0 if not c.harmful else c.safety)
    value = combine(c, gold)[objective] + lure
    formality, enthusiasm = style_features(text)
    value += t.verbosity_bias * min(c.words, 150) / 100
    value -= t.disagreement_aversion * disagrees(text)
    value += t.taste_formality * formality + t.taste_enthusiasm * enthusiasm
    value += rng.gauss(0.0, t.noise_sd)
    return value, noticed


def judge(rater: SimRater, prompt: str, first: str, second: str, objective: str, gold: GoldConfig,
          rng: random.Random) -> Judgment:
    """Judge two responses in the order shown; `picked_first` is in display terms."""
    t = rater.traits
    if rng.random() < t.spam_rate:
        return Judgment(rng.random() < 0.5, round(rng.uniform(0.5, 1.0), 3), False, True, (False, False))
    task, _ = parsed(prompt)
    if task.language not in t.languages:  # cannot read it: every judgment is a guess
        u1 = u2 = 0.0
        n1 = n2 = False
    else:
        u1, n1 = perceive(rater, prompt, first, objective, gold, rng)
        u2, n2 = perceive(rater, prompt, second, objective, gold, rng)
    diff = u1 - u2
    if abs(diff) < t.unsure_margin:
        if rng.random() < t.tie_rate_when_unsure:
            return Judgment(None, 0.5, True, False, (n1, n2))
        return Judgment(rng.random() < t.position_bias, 0.5, True, False, (n1, n2))
    return Judgment(diff > 0, round(min(1.0, 0.5 + abs(diff)), 3), False, False, (n1, n2))
