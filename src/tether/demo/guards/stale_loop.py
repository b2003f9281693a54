"""Six simulated months of drifting preferences: a reward model trained once at launch beside the loop that keeps
it current.

Launch (month 0): one campaign judged by the raters of that month, audited and curated; its model is the first
champion (judged on its own checks) and the naive pipeline's model for good. Then production runs in `tick_days`
segments: the champion picks the served answer (best of `candidates` written answers), users of that time give
thumbs by their preferences of that time (`tether.sim.drift`), and a tick (cron) does what `tether loop tick` does:
a batch the last tick opened is now labelled, so it is audited and curated, its prompts split (train / calibration /
judge), a challenger is retrained on the labels of the last `train_days` and challenged with
`tether.loop.challenge.challenge` on the fresh held-out pairs of the last `judge_days` (`evaluate`'s calibration map
fitted on their calibration half); otherwise the cadence and negative-feedback triggers (`tether.loop.triggers`) are
evaluated and, when one fires, production prompts of the window are sampled into a batch. Both arms are scored at
each month end on the same candidate pairs, labelled by the gold of that month. A diagnostic arm, never served,
records what the loop would have served had the gate left out its calibration check.

What differs from `tether.loop.tick`: records live in memory, not in the store; the batch is sampled uniformly from
the window (the tick's sampler embeds prompts with MiniLM, too slow for the demo's budget); the drift and outcome-AUC
triggers are not evaluated (the prompt mix is held still here: drift of prompts is guard 5's); the challenger trains
on a window of recent labels (`train_days`; the tick's `train_batches` option does the same, by batches) where the
tick by default trains on the champion's pairs plus the new ones (under drifting preferences old labels contradict new
ones); held-out pairs of several recent batches judge, where the tick uses the
new batch's alone (a few dozen pairs cannot pass the 0.05 calibration check by noise alone).
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
from tether.loop.challenge import ChallengeConfig, ChallengeResult, challenge
from tether.loop.config import LoopConfig
from tether.loop.triggers import Evidence, cadence, negative_feedback
from tether.records import Event, EventType, PreferencePair, Promotion, content_hash
from tether.reward.probe import NgramReward
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
ECE_CHECK = "challenger ece"  # the name `challenge` gives its calibration check


@dataclass(frozen=True)
class Sizes:
    """How big one run is: the demo row uses the defaults, the study larger ones."""

    launch_pairs: int = 600        # candidate pairs of the launch campaign
    # production prompts a loop batch sends to the raters: big enough that the held-out shares of the batches judged
    # together hold 100-200 pairs each (the calibration check's error on fewer is mostly sampling noise)
    batch_pairs: int = 400
    eval_pairs: int = 300          # candidate pairs the arms are scored on (gold of each month)
    months: int = 6
    tick_days: int = 10            # how often cron runs the tick (a divisor of 30: ticks fall on month ends)
    cadence_days: float = 14.0
    window_days: float = 20.0      # the triggers' window, and the production prompts a batch samples from
    train_days: float = 40.0       # the challenger trains on the labels of this many days back
    judge_days: float = 40.0       # fresh held-out pairs: those of the batches of this many days back
    heldout_fraction: float = 0.5  # of a batch's prompts: half fit the calibration map, half judge
    requests_per_day: float = 25.0  # the triggers' window holds more production prompts than a batch samples
    candidates: int = 2            # answers written per request; the champion serves its best
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


class _Probe(NgramReward):
    """The probe, sharing one feature cache among all the models of a run: the features of a (prompt, response) do not
    depend on the model, and every retraining sees most of the last one's pairs again."""

    def __init__(self, cache: dict, l2: float) -> None:
        super().__init__(l2=l2, max_iter=100)
        self._cache = cache


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
    gold: dict[str, float] = field(default_factory=dict)  # gold accuracy of each side then (the loop never sees it)

    def to_dict(self) -> dict[str, Any]:
        return {"day": self.day, "challenger": self.challenger, "promoted": self.promoted, "summary": self.summary,
                "failed": self.failed, "accuracy_gain": self.accuracy_gain, "gain_interval": self.gain_interval,
                "pairs": self.pairs, "gold": self.gold}


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
    # diagnostic: the loop's accuracy had the gate left out its calibration check (never served, never the result)
    without_calibration: list[float] = field(default_factory=list)
    champion: ProbeModel | None = None

    @property
    def static_drop(self) -> float:
        return self.static[0] - self.static[-1]

    @property
    def loop_max_gap(self) -> float:
        return max(abs(a - self.loop[0]) for a in self.loop)


def split(pairs: Sequence[PreferencePair], fraction: float, seed: int) -> tuple[list, list, list]:
    """(train, calibration, judge) by prompt, stable: a prompt's side depends on its text and the seed only.
    Held-out pairs keep their hard label only: the gate's calibration error is judged against the labelled winner (the
    isotonic map `evaluate` fits ignores `p_chosen` anyway; the temperature it reports would fit the softer labels)."""
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
    which neither model trained on), the calibration map fitted on their calibration half."""
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
    return _Loop(seed, sizes, drift or PreferenceDrift(months=sizes.months)).run()


class _Loop:
    """The state one run carries from tick to tick."""

    def __init__(self, seed: int, sizes: Sizes, drift: PreferenceDrift) -> None:
        self.seed, self.sizes, self.drift = seed, sizes, drift
        self.world = World(seed)
        self.raters = self.world.rater_pool()
        eval_cands = self.world.candidate_pairs(sizes.eval_pairs)
        self.truth = {m: drift.gold_pairs(self.world, eval_cands, m) for m in range(sizes.months + 1)}
        self.cfg = LoopConfig(cadence_days=sizes.cadence_days, window_days=sizes.window_days, min_window=20)
        self.rng = random.Random(f"{seed}/loop")
        self.features: dict = {}  # the feature cache every probe of the run shares
        self.events: list[Event] = []
        self.pending: tuple[int, list[CandidatePair]] | None = None
        self.result = SixMonths(list(range(sizes.months + 1)), [], [], [len(t) for t in self.truth.values()])

    def gold(self, model: ProbeModel, day: float) -> float:
        """Gold accuracy against the preferences of the month nearest `day` (the loop never sees it)."""
        return model.probe.accuracy(self.truth[min(self.sizes.months, round(day / MONTH))])

    def decide(self, day: int, champion: ProbeModel | None, challenger: ProbeModel) -> bool:
        verdict, pairs = gate(champion, challenger, self.batches, day, self.sizes, self.seed)
        d = decision(day, challenger, verdict, pairs)
        d.gold = {"challenger": self.gold(challenger, day)}
        if champion is not None:
            d.gold["champion"] = self.gold(champion, day)
            self._shadow(day, challenger, verdict)
        self.result.decisions.append(d)
        return verdict.passed

    def _shadow(self, day: int, challenger: ProbeModel, verdict: ChallengeResult) -> None:
        """A diagnostic, never served: the champion the loop would have had with every check but calibration."""
        if self.shadow[0] is not self.serving[0]:
            verdict, _ = gate(self.shadow[0], challenger, self.batches, day, self.sizes, self.seed)
        if all(c.name == ECE_CHECK for c in verdict.failed):
            self.shadow[0] = challenger

    def run(self) -> SixMonths:
        sizes, world, run = self.sizes, self.world, self.result
        self.batches = [label(self.drift, world, self.raters, world.candidate_pairs(sizes.launch_pairs), 0, "launch",
                              sizes, self.seed)]
        static = ProbeModel("launch", _Probe(self.features, sizes.l2).fit(self.batches[0].train),
                            len(self.batches[0].train), 0)
        self.decide(0, None, static)
        # the launch model serves from day 0 whatever its own checks said: there is nothing else to serve
        self.serving, self.promoted_at = [static], 0
        self.shadow = [static]
        base = world.config.production  # the prompt mix held still: only preferences drift here
        users_cfg = self.drift.users(base.model_copy(update={"mix_end": base.mix_start, "new_domain_after": {},
                                                             "requests_per_day": sizes.requests_per_day}))
        users = world.users(users_cfg)
        respond = best_of(self.serving, sizes.candidates)
        month_events: list[Event] = []
        start, end_day = users_cfg.start, round(sizes.months * DAYS_PER_MONTH)
        for day in range(0, end_day + 1, sizes.tick_days):
            if day and day % MONTH == 0:
                run.negative_feedback.append(_negative_share(month_events))
                month_events = []
            if day % MONTH == 0:  # month ends are tick days: score both arms before the tick
                run.static.append(self.gold(static, day))
                run.loop.append(self.gold(self.serving[0], day))
                run.without_calibration.append(self.gold(self.shadow[0], day))
            if day == end_day:
                break
            if day:
                run.ticks.append(self.tick(day))
            seg = users_cfg.model_copy(update={"start": start + timedelta(days=day), "days": sizes.tick_days})
            month = (day + sizes.tick_days / 2) / DAYS_PER_MONTH
            new = list(production_stream(seg, self.drift.feedback_gold(month), world.rng("production"), respond,
                                         users))
            self.events.extend(new)
            month_events.extend(new)
        run.labels = {"static": self.batches[0].size, "loop": sum(b.size for b in self.batches)}
        run.champion = self.serving[0]
        return run

    def tick(self, day: int) -> dict[str, Any]:
        """One tick, as `tether.loop.tick` does it: finish the open batch, else evaluate the triggers and maybe open
        one."""
        sizes = self.sizes
        if self.pending is not None:  # the batch the last tick opened is labelled: audit, retrain, challenge
            opened, cands = self.pending
            self.pending = None
            self.batches.append(label(self.drift, self.world, self.raters, cands, opened, f"batch-{day}", sizes,
                                      self.seed))
            recent = [p for b in self.batches if b.day >= day - sizes.train_days for p in b.train]
            challenger = ProbeModel(f"day-{day}", _Probe(self.features, sizes.l2).fit(recent), len(recent),
                                    day)
            passed = self.decide(day, self.serving[0], challenger)
            if passed:
                self.serving[0], self.promoted_at = challenger, day
            return {"day": day, "state": "retrained", "promoted": passed}
        start = self.world.config.production.start
        now = start + timedelta(days=day)
        champion = Promotion(role="reward", action="promote", path=self.serving[0].name,
                             created_at=start + timedelta(days=self.promoted_at))
        ev = Evidence(now, champion, self.events, [], [], [])
        fired = [t for t in (cadence(ev, self.cfg), negative_feedback(ev, self.cfg)) if t.fired]
        tick = {"day": day, "state": "labelling" if fired else "idle",
                "fired": [f"{t.name}: {t.detail}" for t in fired]}
        if fired:
            since = now - timedelta(days=sizes.window_days)
            logged = list({e.prompt: e for e in self.events
                           if e.type is EventType.GENERATION and e.timestamp >= since}.values())
            picked = self.rng.sample(logged, min(sizes.batch_pairs, len(logged)))
            self.pending = (day, [make_pair(_prompt_of(e), self.world.config.candidates, self.rng) for e in picked])
        return tick


class Backwards:
    """A challenger with a bug on one slice: `model`'s scores, negated on prompts of task type `task_type`."""

    objectives = ("overall",)

    def __init__(self, model: ProbeModel, task_type: str) -> None:
        self.model, self.task_type = model, task_type

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> dict[str, np.ndarray]:
        sign = np.array([-1.0 if parsed(p)[0].label == self.task_type else 1.0 for p in prompts])
        return {"overall": sign * self.model.score(prompts, responses)["overall"]}


def planted_challenger(seed: int, task_type: str = "code_output", launch_pairs: int = 1500, fresh_pairs: int = 1500,
                       drift: PreferenceDrift | None = None, n_boot: int = 500) -> ChallengeResult:
    """A challenger worse on one slice, put to the gate at month `drift.months`: the champion is the launch model
    (stale by then), the challenger is trained on that month's labels (far better overall) but scores `task_type`
    backwards. `challenge` must refuse it, and its refusal must name the slice."""
    drift = drift or PreferenceDrift()
    world = World(seed)
    raters = world.rater_pool()
    sizes = Sizes(heldout_fraction=0.5)
    launch = label(drift, world, raters, world.candidate_pairs(launch_pairs), 0, "launch", sizes, seed)
    day = drift.months * DAYS_PER_MONTH
    fresh = label(drift, world, raters, world.candidate_pairs(fresh_pairs), day, "fresh", sizes, seed)
    cache: dict = {}
    champion = ProbeModel("launch", _Probe(cache, sizes.l2).fit(launch.train), len(launch.train), 0)
    current = ProbeModel("fresh", _Probe(cache, sizes.l2).fit(fresh.train), len(fresh.train), day)
    return challenge(champion, Backwards(current, task_type), fresh.judge, ChallengeConfig(n_boot=n_boot, seed=seed),
                     calibration_pairs=fresh.calibration)
