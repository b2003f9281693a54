"""The over-optimisation study (`tether sim overopt`): a proxy reward model over-optimised in the simulated world.

One seed, on the CPU, with the built-in small policy:

    SFT the start policy
      -> sample two of its own answers per label prompt; simulated raters label the pairs (one judgment each):
         pool A's labels train the PROXY reward model, pool B's (disjoint raters, other prompts) the HELD-OUT one
         (both on the start policy's own body, `kind="causal"`)
      -> best-of-n with the proxy on the start policy's samples (n = 1..N, KL = log n - (n-1)/n): the gold,
         proxy and held-out scores of the proxy's pick, the proxy-gold correlation, Gao's best-of-n fit
      -> one UNGUARDED RL run (GRPO, no KL, the monitor only watching: `stop_on_alarm=False`) against the proxy;
         each check samples the held-out prompts, scored by the proxy, the held-out RM and gold (the truth)
      -> stop rules replayed on that one logged run (`replay`): the monitor with the held-out RM as its evaluator
         (gold hidden: the guarded arm), with gold as the evaluator, and with a small simulated human sample per
         check (each check's answer against the start policy's, one judgment per prompt by a third rater pool);
         each stops at its alarm and rolls back to its best check.

Why a replay and not separate guarded runs: with `kl_raise=1` the guarded run is the unguarded run cut at the
alarm (sampling is seeded by step, so the two are identical up to it), and every stop rule is then judged on the
same trajectory. "Gain" is a check's gold minus the start policy's gold on the same held-out prompts (check 0 is
the start policy: common random numbers)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tether.records import Choice, PreferencePair
from tether.sim.best_of_n import best_of_n, correlations
from tether.sim.config import CampaignConfig, PolicyConfig
from tether.sim.overopt_rms import pairwise_accuracy, probe_iterations, train_reward_model
from tether.sim.world import World

RATER_POOLS = ("proxy", "heldout", "human")
STARTS = ("reference", "styled")
RM_KINDS = ("causal", "ngram")
STOP_RULES = ("heldout", "heldout_1se", "gold", "human")  # replayed on each logged run


@dataclass
class OveroptConfig:
    """The study's sizes (small by default: the whole seed runs in minutes on one CPU thread)."""

    seed: int = 0
    sft_steps: int = 120
    label_prompts: int = 2000  # prompts per reward model, two sampled answers each (one pair)
    raters: int = 20  # per pool
    rm_epochs: float = 2.0
    rm_lr: float = 1e-3  # the body is tiny and SFT'd on the world: a BERT-style 5e-5 barely moves it
    bon_prompts: int = 60
    bon_n: int = 32
    # the unguarded RL run (GRPO, no KL) and its monitor's checks
    rl_steps: int = 80
    every: int = 5
    held: int = 100
    prompts_per_step: int = 8
    k: int = 8
    lr: float = 1e-3  # what gave gold gains with gold as the reward (RESULTS.md, "sanity ceiling")
    max_new_tokens: int = 48
    human_pairs: int = 50  # simulated human judgments per check
    alarm_level: float = 0.05
    threads: int = 1
    # the start policy: SFT on the world's reference answers, or on the styled writer's answers
    # (`tether.sim.styled`: wrong facts, padding, hedging, flattery, disfluency), whose samples vary in what raters see
    start: str = "reference"
    # the reward models: "causal" (a head on the start policy's own body) or "ngram" (`tether.reward.probe`)
    rm: str = "causal"
    # also run the same RL with gold itself as the reward (the monitor's false alarms: every alarm there is false)
    gold_arm: bool = False
    # the proxy as an ensemble of n-gram probes on bootstrap resamples of its pool's pairs (1: one probe), aggregated
    # by `aggregation` (tether.reward.ensemble: mean, min, mean_std = mean - lam * std); the members share the single
    # probe's L-BFGS iteration budget (`probe_iters` // members each: the same total optimizer steps)
    proxy_members: int = 1
    aggregation: str = "mean_std"
    lam: float = 1.0
    probe_iters: int = 200
    # causal reward models (on the start policy's body, trained on the proxy pool's pairs) added to the n-gram
    # proxy's members in one ensemble (0: none, the proxy as before): members of two families, whose blind spots
    # differ, so that their spread can mark an answer that one family overrates
    proxy_causal_members: int = 0
    # prompts labelled for the held-out reward model (0: `label_prompts`, as before); more labels, a more accurate
    # held-out evaluator (the guarded arm's limit)
    heldout_labels: int = 0
    # the held-out reward model's kind ("same": as `rm`; e.g. "causal" beside an n-gram proxy, so that the monitor's
    # evaluator does not share the proxy's model family and its blind spots)
    heldout_rm: str = "same"
    # the monitor counts a check only when the proxy rose by more than this many SEs of the change (0: any rise)
    proxy_gate: float = 0.0

    def check(self) -> OveroptConfig:
        if self.start not in STARTS:
            raise ValueError(f"start must be one of {', '.join(STARTS)}, got {self.start!r}")
        if self.rm not in RM_KINDS:
            raise ValueError(f"rm must be one of {', '.join(RM_KINDS)}, got {self.rm!r}")
        if self.proxy_gate < 0:
            raise ValueError(f"proxy_gate must be >= 0, got {self.proxy_gate}")
        if self.heldout_rm not in (*RM_KINDS, "same"):
            raise ValueError(f"heldout_rm must be one of {', '.join(RM_KINDS)} or 'same', got {self.heldout_rm!r}")
        if self.proxy_members < 1 or (self.proxy_members > 1 and self.rm != "ngram"):
            raise ValueError(f"proxy_members must be >= 1, and > 1 only with rm='ngram'; got {self.proxy_members} "
                             f"with rm={self.rm!r}")
        if self.proxy_causal_members < 0 or (self.proxy_causal_members > 0 and self.rm != "ngram"):
            raise ValueError(f"proxy_causal_members must be >= 0, and > 0 only with rm='ngram' (causal members "
                             f"beside the probes); got {self.proxy_causal_members} with rm={self.rm!r}")
        if self.heldout_labels < 0:
            raise ValueError(f"heldout_labels must be >= 0 (0: label_prompts), got {self.heldout_labels}")
        from tether.reward.ensemble import AGGREGATIONS

        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {', '.join(AGGREGATIONS)}, got {self.aggregation!r}")
        if self.probe_iters < self.proxy_members:
            raise ValueError(f"probe_iters ({self.probe_iters}) must give each of the {self.proxy_members} members "
                             "at least one iteration")
        for name in ("sft_steps", "label_prompts", "bon_prompts", "rl_steps", "every", "prompts_per_step",
                     "human_pairs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name, least in (("raters", 1), ("bon_n", 2), ("held", 2), ("k", 2)):
            if getattr(self, name) < least:
                raise ValueError(f"{name} must be >= {least}, got {getattr(self, name)}")
        if self.human_pairs > self.held:
            raise ValueError(f"human_pairs ({self.human_pairs}) cannot exceed the held-out prompts ({self.held})")
        if self.rl_steps < 2 * self.every:
            raise ValueError(f"rl_steps ({self.rl_steps}) must allow at least 2 checks every {self.every} steps")
        return self


class RecordingEvaluator:
    """An evaluator that keeps every call's responses and scores (the monitor calls its held-out evaluator once per
    check, so call i is check i): the texts let other evaluators and stop rules be replayed on the logged run."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.objectives = inner, list(inner.objectives)
        self.name = getattr(inner, "name", type(inner).__name__)
        self.calls: list[tuple[list[str], list[str], dict[str, np.ndarray]]] = []

    def __call__(self, prompts: Sequence[str], responses: Sequence[str]) -> dict[str, np.ndarray]:
        out = self.inner(prompts, responses)
        self.calls.append((list(prompts), list(responses), out))
        return out


def sample_answers(policy: Path, prompts: list[str], k: int, seed: int, max_new_tokens: int) -> list[list[str]]:
    """k sampled answers (temperature 1) per prompt."""
    from tether.policy.generation import sample_texts
    from tether.sim.policy import PROMPT_FORMAT, load_policy

    model, tok = load_policy(policy)
    texts, _ = sample_texts(model, tok, prompts, k=k, prompt_format=PROMPT_FORMAT, seed=seed,
                            max_new_tokens=max_new_tokens, batch_size=max(1, 256 // k))
    texts = [t.replace("\x00", "") for t in texts]  # a byte-level tokenizer can emit NUL, which no record stores
    return [texts[i * k:(i + 1) * k] for i in range(len(prompts))]


def label_own_samples(world: World, policy: Path, n: int, pool: str, cfg: OveroptConfig
                      ) -> tuple[list[PreferencePair], dict[str, float]]:
    """Two sampled answers of the policy to each of `n` prompts (a stream of their own per pool), judged once each
    by the pool's simulated raters; ties and identical answers dropped. Also how often the raters agree with gold."""
    from tether.sim.campaign import CandidatePair, run_campaign
    from tether.sim.responses import Style

    prompts = world.prompts(n, stream=f"overopt-label-{pool}-{cfg.seed}")
    answers = sample_answers(policy, [p.text for p in prompts], 2, cfg.seed * 7 + RATER_POOLS.index(pool),
                             cfg.max_new_tokens)
    cands = [CandidatePair(p, a, b, Style(), Style(), ("policy-sample",))
             for p, (a, b) in zip(prompts, answers, strict=True) if a != b]
    raters = world.rater_pool(cfg.raters, id_prefix=f"{pool}-rater")
    run = run_campaign(cands, raters, CampaignConfig(name=f"overopt-{pool}", overlap=1), world.config.gold,
                       world.rng(f"overopt-{pool}"))
    pairs, agree, decided = [], 0, 0
    for c in run.comparisons:
        if c.choice == Choice.TIE:
            continue
        a_won = c.choice == Choice.A
        chosen, rejected = (c.response_a, c.response_b) if a_won else (c.response_b, c.response_a)
        pairs.append(PreferencePair(prompt=c.prompt, chosen=chosen, rejected=rejected, objective="overall",
                                    provenance={"rater": c.rater, "task_type": c.task_type, "source": pool}))
        gold = world.gold_label(c.prompt, chosen, rejected)
        if gold != "tie":
            decided += 1
            agree += gold == "a"
    return pairs, {"pairs": len(pairs), "judged": len(run.comparisons),
                   "rater_gold_agreement": agree / max(decided, 1), "gold_decided": decided}


def bon_study(world: World, policy: Path, proxy: Any, heldout: Any, cfg: OveroptConfig) -> dict[str, Any]:
    """Best-of-n curves of the proxy on the start policy's samples, the correlations, and Gao's best-of-n fit of the
    gold gain (over n = 1) against sqrt(KL)."""
    from tether.policy.gao_fit import fit_gao
    from tether.sim.evaluators import GoldEvaluator

    prompts = [p.text for p in world.prompts(cfg.bon_prompts, stream=f"overopt-bon-{cfg.seed}")]
    answers = sample_answers(policy, prompts, cfg.bon_n, cfg.seed * 7 + 5, cfg.max_new_tokens)
    flat_p = [p for p in prompts for _ in range(cfg.bon_n)]
    flat_a = [a for group in answers for a in group]
    shape = (len(prompts), cfg.bon_n)
    s = {"proxy": proxy(flat_p, flat_a)["overall"].reshape(shape),
         "heldout": heldout(flat_p, flat_a)["overall"].reshape(shape),
         "gold": GoldEvaluator(world)(flat_p, flat_a)["overall"].reshape(shape)}
    ns = [n for n in (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64) if n <= cfg.bon_n]
    curves = best_of_n(s["proxy"], s, ns)
    curves["oracle_gold"] = best_of_n(s["gold"], {"gold": s["gold"]}, ns)["gold"]
    d = [kl ** 0.5 for kl in curves["kl"]]
    gains = [g - curves["gold"][0] for g in curves["gold"]]
    fit: dict[str, Any] = {}
    try:
        fit = fit_gao(d, gains, form="bon").to_dict()
    except ValueError as exc:  # too few n (a tiny run)
        fit = {"error": str(exc)}
    return {"prompts": len(prompts), "samples_per_prompt": cfg.bon_n, "curves": curves, "sqrt_kl": d,
            "gold_gain": gains, "fit": fit, "corr_proxy_gold": correlations(s["proxy"], s["gold"]),
            "corr_heldout_gold": correlations(s["heldout"], s["gold"]),
            "corr_proxy_heldout": correlations(s["proxy"], s["heldout"])}


def human_sample(world: World, prompts: list[str], answers: list[str], start: list[str], raters: list,
                 rng: Any) -> np.ndarray:
    """One simulated human judgment per prompt of the check's answer against the start policy's: 1 win, 0.5 tie
    (or the same text), 0 loss; display order random."""
    from tether.sim.raters import judge

    out = []
    for p, a, b in zip(prompts, answers, start, strict=True):
        if a == b:
            out.append(0.5)
            continue
        first_is_a = rng.random() < 0.5
        j = judge(rng.choice(raters), p, *((a, b) if first_is_a else (b, a)), "overall", world.config.gold, rng)
        out.append(0.5 if j.picked_first is None else float(j.picked_first == first_is_a))
    return np.array(out)


def replay(checks: list[dict[str, Any]], evaluator: str, level: float, horizon: int, one_se: bool = False,
           proxy_gate: float = 0.0) -> dict[str, Any]:
    """The monitor's decision with `evaluator`'s per-answer scores as its held-out score, on the logged checks: the
    first alarm (the stop) and the best check by that evaluator up to it (the rollback); without an alarm the run
    ends at its last check and keeps it. `one_se`: roll back instead to the earliest check whose held-out mean is
    within one standard error of the best's (the one-standard-error rule: the least-moved policy that the evaluator
    cannot tell from the best)."""
    from tether.policy.monitor import OverOptMonitor, SequentialAlarm

    mon = OverOptMonitor(SequentialAlarm(level, horizon), raise_kl=1.0, proxy_gate=proxy_gate)
    alarm = None
    for c in checks:
        n = len(c[evaluator])
        rec = mon.observe(c["step"], c["sqrt_kl"], c["proxy_scores"][:n], c[evaluator], c["texts"][:n])
        if rec["alarm"]:
            alarm = c["step"]
            break
    keep = mon.best["step"] if alarm is not None and mon.best else checks[-1]["step"]
    if one_se and alarm is not None and mon.best:
        best = next(r for r in mon.history if r["step"] == keep)
        keep = next(r["step"] for r in mon.history if r["heldout"] >= best["heldout"] - best["heldout_se"])
    kept = next(c for c in checks if c["step"] == keep)
    return {"evaluator": evaluator, "alarm_step": alarm, "kept_step": keep, "kept_sqrt_kl": kept["sqrt_kl"],
            "gold_gain": kept["gold_gain"], "events": [e["why"] for e in mon.events if e["event"] == "alarm"]}


def rl_checks(run_dir: Path, recorder: RecordingEvaluator, proxy: Any, gold: Any, world: World,
              cfg: OveroptConfig) -> list[dict[str, Any]]:
    """Each check of the logged run: step, sqrt(KL), per-answer proxy / held-out / gold / human scores and means."""
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x.strip()]
    rows = [r for r in rows if "monitor/heldout" in r]
    if len(rows) != len(recorder.calls):
        raise RuntimeError(f"{len(rows)} monitor checks logged but the held-out evaluator was called "
                           f"{len(recorder.calls)} times")
    humans = world.rater_pool(cfg.raters, id_prefix="human-rater")
    rng = world.rng(f"overopt-human-{cfg.seed}")
    start = recorder.calls[0][1][:cfg.human_pairs]
    out = []
    for row, (prompts, texts, held) in zip(rows, recorder.calls, strict=True):
        g = gold(prompts, texts)["overall"]
        c = {"step": row["step"], "sqrt_kl": row["monitor/sqrt_kl"], "texts": texts,
             "proxy_scores": proxy(prompts, texts)["overall"], "heldout": np.asarray(held["overall"]), "gold": g,
             "human": human_sample(world, prompts[:cfg.human_pairs], texts[:cfg.human_pairs], start, humans, rng),
             "alarm_live": bool(row["monitor/alarm"]), "cusum": row["monitor/cusum"],
             "words": float(np.mean([len(t.split()) for t in texts]))}
        for key in ("proxy", "heldout", "gold", "human"):
            vals = c["proxy_scores"] if key == "proxy" else c[key]
            c[f"{key}_mean"] = float(np.mean(vals))
        out.append(c)
    for c in out:
        for key in ("proxy", "heldout", "gold", "human"):
            c[f"{key}_gain"] = c[f"{key}_mean"] - out[0][f"{key}_mean"]
    if hasattr(proxy, "member_scores"):
        for c, d in zip(out, ensemble_diagnostics(proxy, recorder.calls, [c["gold"] for c in out]), strict=True):
            c["ensemble"] = d
    return out


def ensemble_diagnostics(proxy: Any, calls: list[tuple[list[str], list[str], Any]], golds: list[np.ndarray]
                         ) -> list[dict[str, float]]:
    """Per check, whether the ensemble proxy's member spread marks the answers it overrates
    (`tether.reward.ensemble.disagreement_diagnostics`): gold put in z units by the start policy's answers (check
    0), and "low spread" meaning below the start policy's median spread, so that every check is read against the
    start."""
    from tether.reward.ensemble import disagreement_diagnostics

    members = [proxy.member_scores(prompts, texts) for prompts, texts, _ in calls]
    ref = (float(np.mean(golds[0])), float(np.std(golds[0])))
    cut = float(np.median(members[0].std(0)))
    return [disagreement_diagnostics(m, g, proxy.lam, truth_ref=ref, std_ref=cut)
            for m, g in zip(members, golds, strict=True)]


def rl_study(world: World, policy: Path, proxy: Any, heldout: Any, out: Path, cfg: OveroptConfig,
             progress: bool = False, arm: str = "unguarded") -> dict[str, Any]:
    """The unguarded run (no KL; the monitor records and never stops it) and the stop rules replayed on it. `proxy`
    is the run's reward (`arm="gold-reward"`: gold itself, where every alarm is a false one)."""
    from tether.policy.gao_fit import fit_gao
    from tether.policy.rl import train_rl
    from tether.policy.rl_config import RLConfig
    from tether.sim.evaluators import GoldEvaluator

    gold = GoldEvaluator(world, ["overall"])
    recorder = RecordingEvaluator(heldout)
    horizon = max(2, cfg.rl_steps // cfg.every + 1)
    rc = RLConfig(objectives=["overall"], steps=cfg.rl_steps, seed=cfg.seed, lr=cfg.lr, kl_coef=0.0,
                  monitor_every=cfg.every, stop_on_alarm=False, rollback=False, kl_raise=1.0,
                  alarm_level=cfg.alarm_level, alarm_horizon=horizon, alarm_proxy_gate=cfg.proxy_gate,
                  prompts_per_step=cfg.prompts_per_step,
                  completions_per_prompt=cfg.k, max_new_tokens=cfg.max_new_tokens, sample_every=max(1, cfg.every),
                  name=f"overopt-{arm}-seed{cfg.seed}")
    train = [p.text for p in world.prompts(2000, stream="rl-study-train")]
    held = [p.text for p in world.prompts(cfg.held, stream="rl-study-heldout")]
    run_dir = out / f"rl-{arm}"
    res = train_rl(policy, train, proxy, run_dir, rc, progress=progress, heldout=recorder, heldout_prompts=held,
                   truth=gold)
    checks = rl_checks(run_dir, recorder, proxy, gold, world, cfg)
    best = max(checks, key=lambda c: c["gold_gain"])
    rules = {name: replay(checks, name, cfg.alarm_level, horizon, proxy_gate=cfg.proxy_gate)
             for name in ("heldout", "gold", "human")}
    rules["heldout_1se"] = replay(checks, "heldout", cfg.alarm_level, horizon, one_se=True, proxy_gate=cfg.proxy_gate)
    rules["heldout"]["live_alarm_step"] = next((c["step"] for c in checks if c["alarm_live"]), None)
    for r in rules.values():
        r["share_of_best_gain"] = r["gold_gain"] / best["gold_gain"] if best["gold_gain"] > 0 else float("nan")
    d = [c["sqrt_kl"] for c in checks]
    fits = {}
    stop = rules["heldout"]["alarm_step"] or checks[-1]["step"]
    seen = [c for c in checks if c["step"] <= stop]
    for name, pts, key in (("heldout_at_stop", seen, "heldout_gain"), ("gold_full_run", checks, "gold_gain")):
        try:
            fits[name] = fit_gao([c["sqrt_kl"] for c in pts], [c[key] for c in pts], form="rl").to_dict()
        except ValueError as exc:
            fits[name] = {"error": str(exc)}
    curve = {k: [c[k] for c in checks] for k in ("step", "sqrt_kl", "proxy_gain", "heldout_gain", "gold_gain",
                                                 "human_gain", "proxy_mean", "heldout_mean", "gold_mean",
                                                 "human_mean", "words", "cusum")}
    ens = [{"step": c["step"], "sqrt_kl": c["sqrt_kl"], "gold_gain": c["gold_gain"], "proxy_gain": c["proxy_gain"],
            **c["ensemble"]} for c in checks if "ensemble" in c]
    return {"steps": res.steps, "seconds": res.seconds, "curve": curve, "sqrt_kl": d,
            **({"ensemble_diagnostics": ens} if ens else {}),
            "best_gold": {"step": best["step"], "gain": best["gold_gain"], "sqrt_kl": best["sqrt_kl"]},
            "final_gold_gain": checks[-1]["gold_gain"], "final_proxy_gain": checks[-1]["proxy_gain"],
            "drop_from_best": best["gold_gain"] - checks[-1]["gold_gain"], "stop_rules": rules,
            "turnover": {"predicted": fits["heldout_at_stop"].get("turnover"),
                         "predicted_lo": fits["heldout_at_stop"].get("turnover_lo"),
                         "predicted_hi": fits["heldout_at_stop"].get("turnover_hi"),
                         "actual": best["sqrt_kl"]},
            "fits": fits, "alarm_horizon": horizon, "held_prompts": cfg.held}


def run_seed(cfg: OveroptConfig, out: Path, *, world: World | None = None, policy: Path | None = None,
             progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """One seed of the study end to end under `out`; its metrics (also written to `out/metrics.json`)."""
    import time

    import torch

    from tether.sim.policy import train_policy

    cfg.check()
    say = progress or (lambda _: None)
    torch.set_num_threads(cfg.threads)
    world = world or World(0)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if policy is None:
        policy = out / "sft"
        if not (policy / "config.json").is_file():
            say(f"seed {cfg.seed}: SFT of the start policy ({cfg.sft_steps} steps, on the {cfg.start} answers)")
            pc = PolicyConfig(max_steps=cfg.sft_steps, max_seconds=3600, threads=cfg.threads, seed=cfg.seed)
            examples = None
            if cfg.start == "styled":
                from tether.sim.styled import styled_examples

                examples = styled_examples(world, pc.train_prompts, stream=f"styled-sft-{cfg.seed}")
            train_policy(world, policy, pc, show_progress=False, examples=examples)
    say(f"seed {cfg.seed}: labelling the start policy's own samples (two rater pools)")
    sizes = {"proxy": cfg.label_prompts, "heldout": cfg.heldout_labels or cfg.label_prompts}
    data = {pool: label_own_samples(world, policy, sizes[pool], pool, cfg) for pool in ("proxy", "heldout")}
    say(f"seed {cfg.seed}: training the proxy and held-out reward models")
    rms = {pool: train_reward_model(data[pool][0], policy, out / f"rm-{pool}", pool, cfg,
                                    members=cfg.proxy_members if pool == "proxy" else 1,
                                    causal_members=cfg.proxy_causal_members if pool == "proxy" else 0)
           for pool in ("proxy", "heldout")}
    labels = {pool: {**data[pool][1],
                     "rm_gold_accuracy_other_pool": pairwise_accuracy(rms[pool], world,
                                                                      data["heldout" if pool == "proxy"
                                                                           else "proxy"][0]),
                     "optimizer_iterations": probe_iterations(rms[pool])}
              for pool in ("proxy", "heldout")}
    say(f"seed {cfg.seed}: best-of-n with the proxy")
    bon = bon_study(world, policy, rms["proxy"], rms["heldout"], cfg)
    say(f"seed {cfg.seed}: the unguarded RL run ({cfg.rl_steps} steps) and the stop rules")
    rl = rl_study(world, policy, rms["proxy"], rms["heldout"], out, cfg)
    metrics = {"seed": cfg.seed, "config": asdict(cfg), "labels": labels, "best_of_n": bon, "rl": rl}
    if cfg.gold_arm:
        from tether.sim.evaluators import GoldEvaluator

        say(f"seed {cfg.seed}: the same RL run with gold as the reward (false alarms)")
        metrics["rl_gold_reward"] = rl_study(world, policy, GoldEvaluator(world, ["overall"]), rms["heldout"], out,
                                             cfg, arm="gold-reward")
    metrics["seconds"] = time.perf_counter() - t0
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=json_default), encoding="utf-8")
    return metrics


def summarize(seeds: list[dict[str, Any]]) -> dict[str, Any]:
    """Across seeds: the unguarded run's drop from its best vs the seed-to-seed spread of its final gain, the stop
    rules' gains as shares of the unguarded best gain."""
    finals = [s["rl"]["final_gold_gain"] for s in seeds]
    drops = [s["rl"]["drop_from_best"] for s in seeds]
    spread = float(np.std(finals, ddof=1)) if len(finals) > 1 else float("nan")
    rules = {}
    for name in STOP_RULES:
        shares = [s["rl"]["stop_rules"][name]["share_of_best_gain"] for s in seeds]
        rules[name] = {"shares": shares, "mean_share": float(np.nanmean(shares)) if any(x == x for x in shares)
                       else float("nan"), "alarms": sum(s["rl"]["stop_rules"][name]["alarm_step"] is not None
                                                        for s in seeds)}
    false_alarms = {name: [s["rl_gold_reward"]["stop_rules"][name]["alarm_step"] for s in seeds
                           if "rl_gold_reward" in s] for name in STOP_RULES}
    return {"seeds": [s["seed"] for s in seeds], "final_gold_gains": finals,
            "gold_reward_alarm_steps": false_alarms,
            "gold_reward_false_alarms": {k: sum(a is not None for a in v) for k, v in false_alarms.items()},
            "drops_from_best": drops,
            "final_gain_spread_sd": spread, "mean_drop": float(np.mean(drops)),
            "drop_exceeds_spread": bool(len(seeds) > 1 and min(drops) > spread), "stop_rules": rules,
            "bon_corr_proxy_gold": [s["best_of_n"]["corr_proxy_gold"]["overall"] for s in seeds]}


def json_default(x: Any) -> Any:
    """numpy values as plain JSON."""
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.floating | np.integer):
        return x.item()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")
