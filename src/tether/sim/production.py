"""Production: users, a drifting stream of requests, and their thumbs, corrections and outcomes (v1 events)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from tether.records import Event, EventType
from tether.sim.config import DOMAINS, GoldConfig, ProductionConfig
from tether.sim.gold import combine, components, reference_for
from tether.sim.prompts import make_prompt
from tether.sim.responses import Style, render
from tether.sim.tasks import TASKS, Task, parse_prompt

Responder = Callable[[str, random.Random], str]

# which task types a domain's requests come from: (task, weight, language, risky)
DOMAIN_TASKS: dict[str, tuple[tuple[str, float, str, bool], ...]] = {
    "coding": (("code_output", 1.0, "en", False), ("code_risky", 1.0, "en", True)),
    "finance": (("interest", 1.0, "en", False), ("compra_es", 1.0, "es", False)),
    "medical": (("max_dose", 1.0, "en", False), ("overdose", 1.0, "en", True)),
    "chat": (("capital", 0.5, "en", False), ("premise", 0.25, "en", False), ("thank_note", 0.25, "en", False),
             ("capital_es", 1.0, "es", False)),
    "travel": (("train_time", 1.0, "en", False),),
}


def domain_mix(config: ProductionConfig, fraction: float) -> dict[str, float]:
    """The domain mix at a point of the range (0 = start, 1 = end): linear drift, unseen domains gated."""
    unknown = sorted((set(config.mix_start) | set(config.mix_end) | set(config.new_domain_after)) - set(DOMAINS))
    if unknown:
        raise ValueError(f"production mix: unknown domain(s) {unknown}; known: {list(DOMAINS)}")
    w = {}
    for d in DOMAINS:
        v = (1 - fraction) * config.mix_start.get(d, 0.0) + fraction * config.mix_end.get(d, 0.0)
        if fraction < config.new_domain_after.get(d, 0.0):
            v = 0.0
        w[d] = max(0.0, v)
    total = sum(w.values())
    if total <= 0:
        raise ValueError(f"production mix is empty at fraction {fraction:.2f} of the range")
    return {d: v / total for d, v in w.items()}


def pick_task(domain: str, config: ProductionConfig, rng: random.Random) -> Task:
    """A task type within a domain, honouring the Spanish and risky shares."""
    options = DOMAIN_TASKS[domain]
    weights = []
    for _, w, lang, risky in options:
        has_other_lang = any(o[2] != lang for o in options)
        has_other_risk = any(o[3] != risky for o in options)
        if has_other_lang:
            w *= config.spanish_share if lang == "es" else 1 - config.spanish_share
        if has_other_risk:
            w *= config.risky_share if risky else 1 - config.risky_share
        weights.append(w)
    if sum(weights) <= 0:
        weights = [1.0] * len(options)
    return TASKS[rng.choices([o[0] for o in options], weights)[0]]


def style_responder(config: ProductionConfig) -> Responder:
    """The default deployed model: the world's writer with the configured error, verbosity and hedging rates."""

    def respond(prompt: str, rng: random.Random) -> str:
        found = parse_prompt(prompt)
        if found is None:
            raise ValueError(f"not a prompt of the simulated world: {prompt[:80]!r}")
        task, spec = found
        style = Style(correct=rng.random() >= config.policy_error_rate,
                      verbose=rng.random() < config.policy_verbose_rate,
                      hedging=rng.random() < config.policy_hedge_rate,
                      unsafe=task.risky and rng.random() < config.policy_unsafe_rate,
                      register=rng.choice(("neutral", "formal", "casual")))
        return render(task, spec, style, rng)

    return respond


@dataclass
class SimUser:
    """A user whose liking for long answers drifts slowly (population trend plus a random walk)."""

    id: str
    verbosity_pref: float
    updated: datetime

    def preference_at(self, when: datetime, config: ProductionConfig, rng: random.Random) -> float:
        """Advance the preference to `when` and return it."""
        months = max(0.0, (when - self.updated).total_seconds() / (30 * 86400))
        if months > 0:
            self.verbosity_pref += config.verbosity_pref_drift_per_30d * months
            self.verbosity_pref += rng.gauss(0.0, config.verbosity_pref_walk_sd_per_30d * math.sqrt(months))
            self.updated = when
        return self.verbosity_pref


def make_users(config: ProductionConfig, rng: random.Random) -> list[SimUser]:
    return [SimUser(f"user-{i:05d}", rng.gauss(config.verbosity_pref_start, config.verbosity_pref_sd),
                    config.start) for i in range(config.users)]


def thumbs_probability(quality: float, words: int, preference: float, config: ProductionConfig) -> float:
    """P(thumbs up): logistic in gold quality plus the user's length liking."""
    x = config.thumbs_slope * (quality + preference * min(words, 150) / 100 - config.thumbs_threshold)
    return 1.0 / (1.0 + math.exp(-x))


def production_stream(config: ProductionConfig, gold: GoldConfig, rng: random.Random,
                      responder: Responder | None = None, users: list[SimUser] | None = None) -> Iterator[Event]:
    """Generation events in time order over the configured range, each followed by its trace's
    feedback, correction and outcome (stamped later, so those can interleave with the next request)."""
    respond = responder or style_responder(config)
    people = users if users is not None else make_users(config, rng)
    span = timedelta(days=config.days).total_seconds()
    rate = config.requests_per_day / 86400.0
    t = 0.0
    n = 0
    while True:
        t += rng.expovariate(rate)
        if t >= span:
            return
        when = config.start + timedelta(seconds=t)
        mix = domain_mix(config, t / span)
        domain = rng.choices(list(mix), list(mix.values()))[0]
        prompt = make_prompt(pick_task(domain, config, rng), rng)
        response = respond(prompt.text, rng)
        user = rng.choice(people)
        trace = f"sim-{n:08d}-{rng.getrandbits(32):08x}"
        n += 1
        attrs = {"enduser.id": user.id, "gen_ai.request.model": config.model, "sim.domain": domain,
                 "sim.task": prompt.task, "sim.task_type": prompt.task_type, "sim.language": prompt.language}
        yield Event(event_id=f"{trace}-gen", type=EventType.GENERATION, trace_id=trace, timestamp=when,
                    model=config.model, prompt=prompt.text, response=response, attributes=attrs)
        c = components(prompt.text, response, gold)
        quality = combine(c, gold)["quality"]
        user_attrs = {"enduser.id": user.id}
        later = when + timedelta(seconds=rng.uniform(5, 300))
        if rng.random() < config.feedback_rate:
            p_up = thumbs_probability(quality, c.words, user.preference_at(when, config, rng), config)
            up = rng.random() < p_up
            if rng.random() < config.thumbs_noise:
                up = not up
            yield Event(event_id=f"{trace}-thumbs", type=EventType.FEEDBACK, trace_id=trace, timestamp=later,
                        name="thumbs", value=1 if up else -1, attributes=user_attrs)
        factual = prompt.task_obj.kind in ("number", "entity", "time", "note")
        if factual and c.correct < 1.0 and rng.random() < config.correction_rate:
            yield Event(event_id=f"{trace}-fix", type=EventType.CORRECTION, trace_id=trace,
                        timestamp=later + timedelta(seconds=30), corrected_response=reference_for(prompt.text),
                        attributes=user_attrs)
        if factual and rng.random() < config.outcome_rate:
            name = "tests_passed" if prompt.domain == "coding" else "task_resolved"
            success = c.correct >= 1.0 if name == "tests_passed" else rng.random() < 0.05 + 0.9 * c.correct
            yield Event(event_id=f"{trace}-outcome", type=EventType.OUTCOME, trace_id=trace,
                        timestamp=later + timedelta(hours=1), name=name, value=1 if success else 0,
                        attributes=user_attrs)
