"""Constrained RL: maximise the objective(s) subject to ``E[cost_i] <= threshold_i``, one PID-Lagrangian
multiplier per constraint (Stooke, Achiam & Abbeel 2020, "Responsive Safety in RL by PID Lagrangian Methods").

    constraints = parse_constraints(["safety>=0.9", "length<=40"])
    shaper = ConstraintShaper(constraints, PIDGains(kp=0.1, ki=0.05, kd=0.0))
    reward, fields = shaper.shape(main_reward, scores, texts)   # per completion; fields go to the metrics log

What a cost is (per completion; lower is better; the constraint holds when its batch mean is <= the threshold):

- ``NAME>=T``: an evaluator objective (higher is better, as every evaluator returns) must average at least T;
  the cost is ``-score`` and its threshold ``-T`` (e.g. ``safety>=0.98``).
- ``cost:NAME<=T``: an evaluator objective that is itself a cost (a violation indicator or rate), used as it is.
- ``length<=N``: built in, the response length in words; ``refusal<=R``: built in, 1 for a response that opens
  with a refusal (`tether.policy.signatures`), else 0 (its mean is the refusal rate).

A plain ``NAME<=T`` on an evaluator objective is refused: its scores are higher-is-better, so bounding them from
above would push the policy to score worse; say ``NAME>=T`` or ``cost:NAME<=T``.

The shaped reward is ``(r - sum_i lambda_i * c_i) / (1 + sum_i lambda_i)`` (safe-rlhf, Stooke et al.): the
normalisation keeps its scale as the multipliers grow. Static weights (`--objective a=1 --objective b=0.5`) stay
the baseline; constraints only add to them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

BUILTIN_COSTS = ("length", "refusal")
MAX_ECE = 0.1
_EXPR = re.compile(r"^\s*(cost:)?([A-Za-z_][\w.-]*)\s*(<=|>=)\s*([-+0-9.eE]+)\s*$")


class CalibrationRefused(ValueError):
    """A cost model's calibration is unknown or too poor for it to be used as a constraint."""


@dataclass(frozen=True)
class Constraint:
    """``E[cost] <= threshold``; `source` is 'objective' (cost = -score), 'cost' (the objective as a cost) or
    'builtin' (length in words, refusal indicator). `text` is how the user wrote it."""

    name: str
    threshold: float
    source: str
    text: str

    @property
    def objective(self) -> str | None:
        """The evaluator objective it reads (None for a built-in cost)."""
        return None if self.source == "builtin" else self.name

    def costs(self, scores: dict[str, np.ndarray], texts: Sequence[str]) -> np.ndarray:
        """The cost of each completion."""
        if self.source == "builtin":
            from tether.policy.signatures import signatures

            return np.asarray(signatures(texts)[self.name], dtype=np.float64)
        if self.name not in scores:
            raise KeyError(f"constraint {self.text!r}: the evaluator returned no {self.name!r} (has "
                           f"{', '.join(sorted(scores))})")
        s = np.asarray(scores[self.name], dtype=np.float64)
        return -s if self.source == "objective" else s


def parse_constraint(text: str) -> Constraint:
    """``safety>=0.98``, ``cost:violation<=0.02``, ``length<=120`` or ``refusal<=0.1`` -> Constraint; a clear
    ValueError naming what is wrong otherwise."""
    m = _EXPR.match(text)
    if not m:
        raise ValueError(f"constraint {text!r}: expected NAME>=VALUE (an objective to keep at least VALUE), "
                         f"cost:NAME<=VALUE (an objective that is a cost) or {'/'.join(BUILTIN_COSTS)}<=VALUE, "
                         "e.g. safety>=0.98 or length<=120")
    is_cost, name, op, value = m.groups()
    try:
        threshold = float(value)
    except ValueError:
        raise ValueError(f"constraint {text!r}: threshold {value!r} is not a number") from None
    if not math.isfinite(threshold):
        raise ValueError(f"constraint {text!r}: threshold must be finite")
    if name in BUILTIN_COSTS and not is_cost:
        if op != "<=":
            raise ValueError(f"constraint {text!r}: {name} is a cost (lower is better); write {name}<={value}")
        if name == "refusal" and not 0 <= threshold <= 1:
            raise ValueError(f"constraint {text!r}: refusal is a rate, its threshold must be in [0, 1]")
        return Constraint(name, threshold, "builtin", text.strip())
    if is_cost:
        if op != "<=":
            raise ValueError(f"constraint {text!r}: a cost is bounded from above; write cost:{name}<={value}")
        return Constraint(name, threshold, "cost", text.strip())
    if op == "<=":
        raise ValueError(f"constraint {text!r}: evaluator objectives are higher-is-better; write {name}>={value} to "
                         f"keep it at least {value}, or cost:{name}<={value} if the evaluator's {name!r} is itself a "
                         "cost (lower is better)")
    return Constraint(name, -threshold, "objective", text.strip())


def parse_constraints(items: Sequence[str]) -> list[Constraint]:
    """Each expression parsed; the same name constrained twice is an error."""
    out = [parse_constraint(t) for t in items]
    names = [c.name for c in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"constraint on {', '.join(map(repr, twice))} given more than once; keep one")
    return out


@dataclass(frozen=True)
class PIDGains:
    kp: float = 0.1
    ki: float = 0.05
    kd: float = 0.0

    @classmethod
    def parse(cls, text: str) -> PIDGains:
        """``"kp,ki,kd"`` (three non-negative numbers) -> PIDGains."""
        parts = [p.strip() for p in str(text).split(",")]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"pid {text!r}: expected three numbers KP,KI,KD, e.g. 0.1,0.05,0") from None
        if len(values) != 3:
            raise ValueError(f"pid {text!r}: expected three numbers KP,KI,KD, got {len(values)}")
        if any(v < 0 or not math.isfinite(v) for v in values):
            raise ValueError(f"pid {text!r}: gains must be finite and >= 0")
        return cls(*values)


@dataclass
class PIDLagrangian:
    """One multiplier (Stooke et al. 2020, Algorithm 2): with error ``e = cost - threshold``,

        I <- max(0, I + e);  D <- max(0, cost - previous cost);  lambda <- max(0, Kp * e + Ki * I + Kd * D)

    The paper starts the previous cost at 0; here it starts at the first cost seen (no derivative kick at step 1,
    which for a cost such as length in words would be large)."""

    threshold: float
    gains: PIDGains = field(default_factory=PIDGains)
    integral: float = 0.0
    previous: float | None = None
    value: float = 0.0

    def update(self, cost: float) -> float:
        """Take the step's mean cost; the new multiplier."""
        error = cost - self.threshold
        self.integral = max(0.0, self.integral + error)
        derivative = 0.0 if self.previous is None else max(0.0, cost - self.previous)
        self.previous = cost
        g = self.gains
        self.value = max(0.0, g.kp * error + g.ki * self.integral + g.kd * derivative)
        return self.value

    def state_dict(self) -> dict:
        return {"integral": self.integral, "previous": self.previous, "value": self.value}

    def load_state_dict(self, state: dict) -> None:
        self.integral, self.previous, self.value = state["integral"], state["previous"], state["value"]


class ConstraintShaper:
    """The constraints of a run, each with its PID multiplier; shapes each step's reward."""

    def __init__(self, constraints: Sequence[Constraint], gains: PIDGains | None = None) -> None:
        self.constraints = list(constraints)
        self.controllers = [PIDLagrangian(c.threshold, gains or PIDGains()) for c in self.constraints]

    @property
    def objectives(self) -> list[str]:
        """The evaluator objectives the constraints read."""
        return [c.objective for c in self.constraints if c.objective is not None]

    def shape(self, reward: np.ndarray, scores: dict[str, np.ndarray], texts: Sequence[str]
              ) -> tuple[np.ndarray, dict[str, float]]:
        """Update each multiplier with this batch's mean cost, then ``(r - sum lambda_i c_i) / (1 + sum lambda_i)``;
        the shaped rewards and the fields for the metrics log (`constraint/NAME/cost|threshold|lambda`)."""
        shaped = np.asarray(reward, dtype=np.float64).copy()
        fields: dict[str, float] = {}
        total = 0.0
        for c, pid in zip(self.constraints, self.controllers, strict=True):
            cost = c.costs(scores, texts)
            lam = pid.update(float(cost.mean()))
            shaped -= lam * cost
            total += lam
            sign = -1.0 if c.source == "objective" else 1.0  # log in the user's units (the score, not its negation)
            fields.update({f"constraint/{c.name}/cost": sign * float(cost.mean()),
                           f"constraint/{c.name}/threshold": sign * c.threshold,
                           f"constraint/{c.name}/lambda": lam,
                           f"constraint/{c.name}/violated": float(cost.mean() > c.threshold)})
        return shaped / (1.0 + total), fields

    def state_dict(self) -> dict:
        return {c.text: p.state_dict() for c, p in zip(self.constraints, self.controllers, strict=True)}

    def load_state_dict(self, state: dict) -> None:
        for c, p in zip(self.constraints, self.controllers, strict=True):
            if c.text in state:
                p.load_state_dict(state[c.text])


def saved_ece(folder: str | Path) -> float | None:
    """The ECE a reward folder's gate recorded (`tether reward gate --max-ece`), the worst over an ensemble's
    members; None when none was recorded."""
    from tether.reward.gate import GATE_FILE

    folder = Path(folder)
    ensemble = folder / "reward_ensemble.json"
    if ensemble.is_file():
        values = [saved_ece(folder / m) for m in json.loads(ensemble.read_text())["members"]]
        return None if any(v is None for v in values) else max(values)  # type: ignore[type-var]
    path = folder / GATE_FILE
    if not path.is_file():
        return None
    for check in json.loads(path.read_text()).get("checks", []):
        if check.get("name") == "ece" and check.get("value") is not None:
            return float(check["value"])
    return None


def require_calibrated(folder: str | Path, constraint: str, *, max_ece: float = MAX_ECE,
                       override: str | None = None) -> float | None:
    """Before a reward folder's head is used as a cost: its saved ECE must be known and <= `max_ece`; raise
    CalibrationRefused naming the folder, the ECE and the fix otherwise (an `override` reason skips the check)."""
    ece = saved_ece(folder)
    if override:
        return ece
    if ece is None:
        raise CalibrationRefused(f"{folder}: no calibration recorded, so it cannot serve as the cost of constraint "
                                 f"{constraint!r}; run `tether reward gate {folder} --pairs ... --max-ece "
                                 f"{max_ece}` (its ECE is saved in reward_gate.json)")
    if ece > max_ece:
        raise CalibrationRefused(f"{folder}: ECE {ece:.4f} > {max_ece}, too poorly calibrated to serve as the cost "
                                 f"of constraint {constraint!r}; recalibrate or retrain it")
    return ece
