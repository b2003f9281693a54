"""The gate a reward model must pass before any policy is optimized against it.

`check_gate(eval_result, GateConfig(...))` -> `GateResult` naming every criterion and which failed;
`save_gate(model_dir, result)` writes `reward_gate.json` next to the model; `require_gate(model_dir)`
(what `tether.policy` calls) raises `GateFailed` unless the saved gate passed for this very model, or
the caller overrides it explicitly with a written reason.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tether.reward.config import GateConfig
from tether.reward.evaluate import EvalResult

GATE_FILE = "reward_gate.json"
log = logging.getLogger(__name__)


class GateFailed(RuntimeError):
    """The reward model did not pass (or never ran) its gate."""


@dataclass
class Check:
    name: str
    value: float | None
    threshold: float
    passed: bool
    kind: str  # "min" or "max"
    strict: bool = False  # the threshold itself fails

    def condition(self) -> str:
        op = (">" if self.kind == "min" else "<") + ("" if self.strict else "=")
        val = "n/a" if self.value is None else f"{self.value:.4f}"
        return f"{self.name}: {val} (needs {op} {self.threshold})"

    def describe(self) -> str:
        return f"{'ok  ' if self.passed else 'FAIL'} {self.condition()}"


class Checked:
    """`passed` and `failed` over a result's named checks (a gate, a champion / challenger comparison)."""

    checks: list[Check]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]


@dataclass
class GateResult(Checked):
    checks: list[Check]
    fingerprints: list[str | None] = field(default_factory=list)

    def summary(self) -> str:
        if self.passed:
            return f"gate passed ({len(self.checks)} criteria)"
        return "gate failed: " + "; ".join(c.describe()[5:] for c in self.failed)

    def to_dict(self) -> dict:
        return {"passed": self.passed, "checks": [asdict(c) for c in self.checks], "fingerprints": self.fingerprints}


def check_value(name: str, value: float | None, threshold: float, kind: str, *, strict: bool = False) -> Check:
    """One criterion; a missing or NaN value fails (never passes silently); `strict`: the bound itself fails."""
    if value is None or math.isnan(value):
        return Check(name, value, threshold, False, kind, strict)
    if kind == "min":
        ok = value > threshold if strict else value >= threshold
    else:
        ok = value < threshold if strict else value <= threshold
    return Check(name, value, threshold, ok, kind, strict)


def check_gate(result: EvalResult, config: GateConfig | None = None) -> GateResult:
    """Apply each configured threshold to an evaluation; a criterion without data fails (never passes silently)."""
    c = config or GateConfig()
    checks = []
    if c.min_accuracy is not None:
        checks.append(check_value("accuracy", result.accuracy, c.min_accuracy, "min"))
    if c.max_ece is not None:
        checks.append(check_value("ece", result.ece, c.max_ece, "max"))
    if c.max_length_correlation is not None:
        worst = max((abs(v) for v in result.length_correlation.values()), default=None)
        checks.append(check_value("length_correlation", worst, c.max_length_correlation, "max"))
    if c.min_matched_accuracy is not None:
        checks.append(check_value("matched_accuracy", result.matched_accuracy, c.min_matched_accuracy, "min"))
    if c.min_ceiling_ratio is not None:
        ratio = result.accuracy / result.agreement_ceiling if result.agreement_ceiling else None
        checks.append(check_value("accuracy / agreement ceiling", ratio, c.min_ceiling_ratio, "min"))
    for key, floor in c.slice_floors.items():
        name, _, value = key.partition("=")
        slices = result.by_slice.get(name, {})
        chosen = {value: slices[value]} if value and value in slices else {} if value else slices
        if value and not chosen:
            checks.append(Check(f"slice {key}", None, floor, False, "min"))  # a named slice must be present
        for v, s in chosen.items():
            if s["n"] >= c.min_slice_n:
                checks.append(check_value(f"slice {name}={v} accuracy", s["accuracy"], floor, "min"))
    return GateResult(checks)


def _fingerprints(model_dir: Path) -> list[str | None]:
    from tether.reward.model import read_contracts

    return [c.data_fingerprint for c in read_contracts(model_dir)]


def save_gate(model_dir: str | Path, result: GateResult) -> Path:
    """Record the gate result with the model (tied to its contracts' data fingerprints)."""
    model_dir = Path(model_dir)
    result.fingerprints = _fingerprints(model_dir)
    path = model_dir / GATE_FILE
    path.write_text(json.dumps(result.to_dict(), indent=2))
    return path


def require_gate(model_dir: str | Path, *, override: str | None = None) -> GateResult | None:
    """Raise `GateFailed` unless `model_dir` passed its gate. `override="reason"` proceeds anyway, logged."""
    model_dir = Path(model_dir)
    ensemble = model_dir / "reward_ensemble.json"
    if ensemble.is_file():  # an ensemble passes only if every member does
        results = [require_gate(model_dir / m, override=override) for m in json.loads(ensemble.read_text())["members"]]
        return results[0]
    path = model_dir / GATE_FILE
    problem, result = None, None
    if not path.is_file():
        problem = f"{model_dir}: no gate result ({GATE_FILE}); run `tether reward gate {model_dir} --pairs ...`"
    else:
        data = json.loads(path.read_text())
        result = GateResult([Check(**c) for c in data["checks"]], data.get("fingerprints", []))
        if result.fingerprints != _fingerprints(model_dir):
            problem = f"{model_dir}: the gate was run on another model (training-data fingerprint changed); re-run it"
        elif not result.passed:
            problem = f"{model_dir}: {result.summary()}"
    if problem is None:
        return result
    if override:
        log.warning("reward gate overridden (%s): %s", override, problem)
        return result
    raise GateFailed(problem + " (pass override='reason' to proceed anyway)")
