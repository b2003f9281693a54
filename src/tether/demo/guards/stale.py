"""Guard 7, RLHF as a one-time event: a reward model trained once at launch against the loop that keeps it current,
over six simulated months in which users' preferences drift (`tether.sim.drift`); both scored on the gold of each
month. The run itself is `stale_loop.six_months`."""

from __future__ import annotations

from tether.demo.guards.row import GuardRow
from tether.demo.guards.stale_loop import SixMonths, Sizes, six_months
from tether.sim.drift import PreferenceDrift


def _r(x: float) -> float:
    return round(float(x), 4)


def detail(run: SixMonths, sizes: Sizes, drift: PreferenceDrift) -> dict:
    """The trajectories, the loop's decisions (promotions and refusals with their failed checks) and what drove them."""
    promotions = [d.to_dict() for d in run.decisions[1:] if d.promoted]
    refusals = [{"day": d.day, "failed": d.failed, "summary": d.summary, "gold": d.gold, "pairs": d.pairs}
                for d in run.decisions[1:] if not d.promoted]
    fired: dict[str, int] = {}
    for t in run.ticks:
        for f in t.get("fired", []):
            name = f.split(":")[0]
            fired[name] = fired.get(name, 0) + 1
    return {
        "months": run.months,
        "naive_accuracy": [_r(a) for a in run.static],
        "tether_accuracy": [_r(a) for a in run.loop],
        "initial_accuracy": _r(run.static[0]),
        "naive_drop": _r(run.static_drop),
        "tether_max_distance_from_initial": _r(run.loop_max_gap),
        "tether_max_loss_from_initial": _r(max(0.0, run.loop[0] - min(run.loop))),
        "eval_pairs_per_month": run.eval_pairs,
        "diagnostic_tether_accuracy_without_calibration_check": [_r(a) for a in run.without_calibration],
        "launch_gate": run.decisions[0].summary,
        "challenges": len(run.decisions) - 1,
        "promotions": promotions,
        "refusals": refusals,
        "batches_opened_by": fired,
        "thumbs_down_share_per_month": [_r(x) for x in run.negative_feedback],
        "labelled_pairs": run.labels,
        "drift": {"strength": round(_strength(drift), 4),
                  "start": drift.start.model_dump(include={"length_liking", "hedge_penalty"}),
                  "end": drift.end.model_dump(include={"length_liking", "hedge_penalty"}), "months": drift.months},
        "sizes": sizes.__dict__,
    }


# The row's drift: the default (strength 1), chosen by the study goal alone — the static model must lose >= 5
# points. At strength 0.6 (the study's slower rate) the demo-sized launch model of seed 1 loses 0.9 points, so the row
# would not show the failure mode (RESULTS, "Loop at two drift rates").
ROW_STRENGTH = 1.0


def _strength(drift: PreferenceDrift) -> float:
    """How much of the default change of `length_liking` this drift undergoes (1: the default drift)."""
    default = PreferenceDrift()
    return (drift.start.length_liking - drift.end.length_liking) / (default.start.length_liking
                                                                   - default.end.length_liking)


def row_stale(seed: int, sizes: Sizes | None = None, strength: float = ROW_STRENGTH) -> GuardRow:
    """Gold accuracy at month 6 against month-6 preferences: the launch reward model, and the loop's champion."""
    sizes = sizes or Sizes()
    drift = PreferenceDrift.of_strength(strength, sizes.months)
    run = six_months(seed, sizes, drift)
    return GuardRow(
        failure_mode=7, name="RLHF as a one-time event",
        metric=f"reward-model gold accuracy at month {sizes.months}, against that month's preferences",
        higher_is_better=True, naive=run.static[-1], tether=run.loop[-1],
        naive_arm="The reward model trained on the launch campaign serves for all six months.",
        tether_arm=(f"Every {sizes.tick_days} days a tick checks cadence ({sizes.cadence_days:g} days) and negative "
                    "feedback, sends sampled production prompts to the raters of that time, retrains on the recent "
                    "labels and promotes a challenger only through the champion/challenger gate."),
        detail=detail(run, sizes, drift))
