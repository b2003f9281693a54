"""Six simulated months of drifting preferences, a reward model trained once beside the loop that keeps it current.

Launch (month 0): one campaign judged by the raters of that month, audited and curated; its model is the first
champion (judged on its own checks) and the naive pipeline's model for good. Then production runs in `tick_days`
segments: the champion picks the served answer (best of `candidates` written answers), users of that time give
thumbs by their preferences of that time (`tether.sim.drift`), and a tick (cron) runs exactly as `tether loop tick`
does: a batch it opened is labelled by the next tick, which audits, curates, keeps a share of prompts out (half of
them to fit the temperature, half to judge), retrains a challenger on the labels of the last `window_days` and
challenges the champion with `tether.loop.challenge.challenge`; otherwise it evaluates the cadence and negative
feedback triggers (`tether.loop.triggers`) and, when one fires, samples production prompts of the window into a
batch. Both arms are scored monthly on the same candidate pairs, labelled by the gold of that month.

What differs from `tether.loop.tick`: records live in memory rather than in the store, the batch is sampled
uniformly from the window (the tick's sampler embeds prompts with MiniLM, too slow for the demo's budget), the drift
and outcome-AUC triggers are not evaluated (the prompt mix is held still here; drift of prompts is guard 5's), and
the challenger trains on a window of recent labels, where the tick trains on the champion's pairs plus the new.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np

from tether.audit import curate, run_audit
from tether.demo.guards.probe import NgramReward
from tether.loop.challenge import ChallengeConfig, ChallengeResult, challenge
from tether.loop.config import LoopConfig
from tether.loop.triggers import Evidence, cadence, negative_feedback
from tether.records import Event, EventType, PreferencePair, Promotion, content_hash
from tether.sim import World
from tether.sim.campaign import CandidatePair, make_pair
from tether.sim.config import CampaignConfig
from tether.sim.drift import DAYS_PER_MONTH, PreferenceDrift
from tether.sim.gold import parsed
from tether.sim.production import production_stream
from tether.sim.prompts import SimPrompt
from tether.sim.raters import SimRater
from tether.sim.responses import REGISTERS, Style, render
from tether.sim.tasks import TASKS

MONTH = round(DAYS_PER_MONTH)


@dataclass(frozen=True)
class Sizes:
    """How big one run is: the demo row uses the defaults, the study larger ones."""

    launch_pairs: int = 800        # candidate pairs of the launch campaign
    batch_pairs: int = 400         # production prompts a loop batch sends to the raters
    eval_pairs: int = 600          # candidate pairs the arms are scored on (gold of each month)
    months: int = 6
    tick_days: int = 3             # how often cron runs the tick (a divisor of 30: ticks fall on month ends)
    cadence_days: float = 14.0
    window_days: float = 14.0      # the triggers' window, and the production prompts a batch samples from
    train_days: float = 42.0       # the challenger trains on the labels of this many days back
    judge_days: float = 42.0       # fresh held-out pairs: those of the batches of this many days back
    heldout_fraction: float = 0.5  # of a batch's prompts: half calibrate the temperature, half judge
    requests_per_day: float = 30.0
    candidates: int = 3            # answers written per request; the champion serves its best
    overlap: int = 3
    l2: float = 3e-3
    n_boot: int = 500


@dataclass
class Labelled:
    """One labelled batch: when it was judged, and its curated pairs split by prompt."""

    day: float
    train: list[PreferencePair]
    calibration: list[PreferencePair]
    judge: list[PreferencePair]

    @property
    def size(self) -> int:
        return len(self.train) + len(self.calibration) + len(self.judge)


class ProbeModel:
    """The n-gram probe as the reward-model interface `evaluate` and `challenge` call: one `overall` head."""

    objectives = ("overall",)

    def __init__(self, name: str, probe: NgramReward, pairs: int, day: float) -> None:
        self.name, self.probe, self.pairs, self.day = name, probe, pairs, day

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> dict[str, np.ndarray]:
        return {"overall": self.probe.score(prompts, responses)}


@dataclass
class Decision:
    day: float
    challenger: str
    promoted: bool
    summary: str
    failed: list[str]
    accuracy_gain: float | None
    gain_interval: tuple[float, float] | None
    pairs: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {"day": self.day, "challenger": self.challenger, "promoted": self.promoted, "summary": self.summary,
                "failed": self.failed, "accuracy_gain": self.accuracy_gain, "gain_interval": self.gain_interval,
                "pairs": self.pairs}


@dataclass
class SixMonths:
    """What a run measured: gold accuracy per month of each arm, and the loop's ticks and decisions."""

    months: list[int]
    static: list[float]
    loop: list[float]
    eval_pairs: list[int]
    ticks: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)
    negative_feedback: list[float] = field(default_factory=list)  # share of thumbs down, per month
    champion: ProbeModel | None = None

    @property
    def static_drop(self) -> float:
        return self.static[0] - self.static[-1]

    @property
    def loop_max_gap(self) -> float:
        return max(abs(a - self.loop[0]) for a in self.loop)


def split(pairs: Sequence[PreferencePair], fraction: float, seed: int) -> tuple[list, list, list]:
    """(train, calibration, judge) by prompt, stable: a prompt's side depends on its text and the seed only.
    Held-out pairs keep their hard label only: the gate's calibration error is judged against the labelled winner, and
    a temperature fitted to the audit's softer `p_chosen` leaves the probe underconfident by that measure."""
    out: tuple[list, list, list] = ([], [], [])
    for p in pairs:
        u = int(content_hash(str(seed), p.prompt)[:8], 16) / 0xFFFFFFFF
        side = 0 if u >= fraction else 1 if u < fraction / 2 else 2
        out[side].append(p if side == 0 else p.model_copy(update={"p_chosen": None}))
    return out


def label(drift: PreferenceDrift, world: World, raters: list[SimRater], cands: list[CandidatePair], day: float,
          name: str, sizes: Sizes, seed: int) -> Labelled:
    """Raters of `day` judge the candidates; the audit's curation (blocked task types out, reversals downweighted)
    turns their judgments into weighted pairs."""
    run = drift.campaign(world, day / DAYS_PER_MONTH, cands, raters,
                         CampaignConfig(name=name, overlap=sizes.overlap, pairs=len(cands)))
    with warnings.catch_warnings():  # the position model's tie parameter: no simulated rater ever ties
        warnings.simplefilter("ignore")
        pairs = curate(run_audit(run.comparisons)).pairs
    return Labelled(day, *split(pairs, sizes.heldout_fraction, seed))


def gate(champion: ProbeModel | None, challenger: ProbeModel, batches: Sequence[Labelled], day: float, sizes: Sizes,
         seed: int) -> tuple[ChallengeResult, dict[str, int]]:
    """`tether.loop.challenge.challenge` on the fresh held-out pairs (those of the batches of the last `judge_days`,
    which neither model trained on), temperature fitted on their calibration half."""
    recent = [b for b in batches if b.day >= day - sizes.judge_days]
    judged = [p for b in recent for p in b.judge]
    calibration = [p for b in recent for p in b.calibration]
    cfg = ChallengeConfig(n_boot=sizes.n_boot, seed=seed)
    verdict = challenge(champion, challenger, judged, cfg, calibration_pairs=calibration)
    return verdict, {"train": challenger.pairs, "calibration": len(calibration), "judge": len(judged)}


def decision(day: float, challenger: ProbeModel, verdict: ChallengeResult, pairs: dict[str, int]) -> Decision:
    diff = verdict.difference
    return Decision(round(day, 2), challenger.name, verdict.passed, verdict.summary(),
                    [c.name for c in verdict.failed], diff.get("accuracy"),
                    (diff["accuracy_lo"], diff["accuracy_hi"]) if "accuracy_lo" in diff else None, pairs)


def best_of(serving: list[ProbeModel], k: int) -> Callable[[str, random.Random], str]:
    """The served policy: write `k` answers (each verbose, hedged, wrong, unsafe at its own rate), serve the one
    the champion scores highest (`serving[0]`, read at each request, so a promotion changes what is served)."""

    def respond(prompt: str, rng: random.Random) -> str:
        task, spec = parsed(prompt)
        answers = [render(task, spec, Style(correct=rng.random() >= 0.25, verbose=rng.random() < 0.5,
                                            hedging=rng.random() < 0.3, unsafe=task.risky and rng.random() < 0.3,
                                            register=rng.choice(REGISTERS)), rng) for _ in range(k)]
        return answers[int(np.argmax(serving[0].score([prompt] * k, answers)["overall"]))]

    return respond


def _prompt_of(event: Event) -> SimPrompt:
    a = event.attributes
    return SimPrompt(event.prompt or "", a["sim.task"], a["sim.domain"], a["sim.task_type"], a["sim.language"],
                     TASKS[a["sim.task"]].risky)


def _negative_share(events: Sequence[Event]) -> float:
    """Share of thumbs that were down."""
    thumbs = [float(e.value or 0) for e in events if e.type is EventType.FEEDBACK and e.name == "thumbs"]
    return sum(v < 0 for v in thumbs) / max(1, len(thumbs))


def six_months(seed: int, sizes: Sizes = Sizes(), drift: PreferenceDrift | None = None) -> SixMonths:
    """Run both arms for `sizes.months` months on world `seed` (see the module docstring)."""
    drift = drift or PreferenceDrift(months=sizes.months)
    world = World(seed)
    raters = world.rater_pool()
    eval_cands = world.candidate_pairs(sizes.eval_pairs)
    truth = {m: drift.gold_pairs(world, eval_cands, m) for m in range(sizes.months + 1)}
    batches = [label(drift, world, raters, world.candidate_pairs(sizes.launch_pairs), 0, "launch", sizes, seed)]
    static = ProbeModel("launch", NgramReward(l2=sizes.l2, max_iter=100).fit(batches[0].train), len(batches[0].train), 0)
    run = SixMonths(list(range(sizes.months + 1)), [], [], [len(truth[m]) for m in truth])
    verdict, pairs = gate(None, static, batches, 0, sizes, seed)
    run.decisions.append(decision(0, static, verdict, pairs))
    # the launch model serves from day 0 whatever its own checks said: there is nothing else to serve
    serving, promoted_at = [static], 0
    cfg = LoopConfig(cadence_days=sizes.cadence_days, window_days=sizes.window_days, min_window=20)
    base = world.config.production  # the prompt mix held still: only preferences drift here
    users_cfg = drift.users(base.model_copy(update={"mix_end": base.mix_start, "new_domain_after": {},
                                                   "requests_per_day": sizes.requests_per_day}))
    users = world.users(users_cfg)
    respond = best_of(serving, sizes.candidates)
    events: list[Event] = []
    month_events: list[Event] = []
    pending: tuple[int, list[CandidatePair]] | None = None
    rng = random.Random(f"{seed}/loop")
    start, end_day = users_cfg.start, round(sizes.months * DAYS_PER_MONTH)
    for day in range(0, end_day + 1, sizes.tick_days):
        if day and day % MONTH == 0:
            run.negative_feedback.append(_negative_share(month_events))
            month_events = []
        if day % MONTH == 0:  # month ends are tick days: score both arms before the tick
            run.static.append(static.probe.accuracy(truth[day // MONTH]))
            run.loop.append(serving[0].probe.accuracy(truth[day // MONTH]))
        if day == end_day:
            break
        if day:
            tick, pending, promoted = _tick(day, pending, serving, promoted_at, events, batches, cfg, sizes, drift,
                                            world, raters, rng, run, seed)
            promoted_at = day if promoted else promoted_at
            run.ticks.append(tick)
        seg = users_cfg.model_copy(update={"start": start + timedelta(days=day), "days": sizes.tick_days})
        month = (day + sizes.tick_days / 2) / DAYS_PER_MONTH
        new = list(production_stream(seg, drift.feedback_gold(month), world.rng("production"), respond, users))
        events.extend(new)
        month_events.extend(new)
    run.labels = {"static": batches[0].size, "loop": sum(b.size for b in batches)}
    run.champion = serving[0]
    return run


def _tick(day: int, pending: tuple[int, list[CandidatePair]] | None, serving: list[ProbeModel], promoted_at: int,
          events: list[Event], batches: list[Labelled], cfg: LoopConfig, sizes: Sizes, drift: PreferenceDrift,
          world: World, raters: list[SimRater], rng: random.Random, run: SixMonths, seed: int
          ) -> tuple[dict[str, Any], tuple[int, list[CandidatePair]] | None, bool]:
    """One tick, as `tether.loop.tick` does it: finish the open batch, else evaluate the triggers and maybe open one."""
    if pending is not None:  # the batch the last tick opened is labelled: audit, retrain, challenge
        opened, cands = pending
        batches.append(label(drift, world, raters, cands, opened, f"batch-{day}", sizes, seed))
        recent = [p for b in batches if b.day >= day - sizes.train_days for p in b.train]
        challenger = ProbeModel(f"day-{day}", NgramReward(l2=sizes.l2, max_iter=100).fit(recent), len(recent), day)
        verdict, pairs = gate(serving[0], challenger, batches, day, sizes, seed)
        run.decisions.append(decision(day, challenger, verdict, pairs))
        if verdict.passed:
            serving[0] = challenger
        return {"day": day, "state": "retrained", "promoted": verdict.passed}, None, verdict.passed
    start = world.config.production.start
    now = start + timedelta(days=day)
    champion = Promotion(role="reward", action="promote", path=serving[0].name,
                         created_at=start + timedelta(days=promoted_at))
    ev = Evidence(now, champion, events, [], [], [])
    fired = [t for t in (cadence(ev, cfg), negative_feedback(ev, cfg)) if t.fired]
    tick = {"day": day, "state": "labelling" if fired else "idle", "fired": [f"{t.name}: {t.detail}" for t in fired]}
    if not fired:
        return tick, None, False
    since = now - timedelta(days=sizes.window_days)
    logged = list({e.prompt: e for e in events if e.type is EventType.GENERATION and e.timestamp >= since}.values())
    picked = rng.sample(logged, min(sizes.batch_pairs, len(logged)))
    return tick, (day, [make_pair(_prompt_of(e), world.config.candidates, rng) for e in picked]), False
