"""Which model serves a role, and the recorded decisions that change it: promotion after a challenge, refusal with
the failing checks, rollback to the one that served before.

The serving history is a stack: a promotion pushes the new model, a rollback pops back to the one before (or to a
named earlier champion). Every decision is appended to the store (`promotions`), never edited.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from tether.records import Promotion

__all__ = ["PromotionError", "serving_stack", "record_challenge", "promote", "rollback", "registry_name", "canary",
           "arms", "assign"]


class PromotionError(ValueError):
    """A promotion or rollback that cannot be done (nothing to roll back to, an unknown target)."""


def serving_stack(history: list[Promotion]) -> list[str]:
    """Model folders that served the role, oldest first, after replaying promotions and rollbacks; the last serves."""
    stack: list[str] = []
    for p in history:
        if p.action == "promote":
            stack.append(p.path)
        elif p.action == "rollback":
            while stack and stack[-1] != p.path:
                stack.pop()
            if not stack:
                stack.append(p.path)
    return stack


def registry_name(store: Any, path: str) -> tuple[str | None, str | None]:
    """(name, version) of the newest registry entry for a model folder, or (None, None) if it was never recorded."""
    versions = store.model_versions(path=path)
    return (versions[-1].name, versions[-1].version) if versions else (None, None)


def _record(store: Any, role: str, action: str, path: str, kind: str, checks: list[dict], reason: str,
            share: float | None = None) -> Promotion:
    name, version = registry_name(store, path)
    return store.add_promotion(Promotion(role=role, action=action, kind=kind, path=path, model=name,
                                         version=version, checks=checks, reason=reason, share=share))


def record_challenge(store: Any, role: str, challenger: str | Path, result: Any, *, kind: str = "reward",
                     promote_on_pass: bool = True) -> Promotion | None:
    """Record a challenge's outcome: a promotion when it passed (and `promote_on_pass`), a refusal naming every failed
    check otherwise. Returns the record (None for a passed dry run, which changes nothing)."""
    path = str(Path(challenger).resolve())
    checks = result.to_dict()["checks"]
    if result.passed:
        if not promote_on_pass:
            return None
        return _record(store, role, "promote", path, kind, checks, result.summary())
    return _record(store, role, "refuse", path, kind, checks, result.summary())


def promote(store: Any, role: str, model: str | Path, *, reason: str, kind: str = "reward") -> Promotion:
    """Promote without a challenge (the first model of a role, or an override); the reason is recorded."""
    if not reason.strip():
        raise PromotionError("a promotion without a challenge needs a reason (it is recorded)")
    return _record(store, role, "promote", str(Path(model).resolve()), kind, [], reason)


def rollback(store: Any, role: str, *, to: str | None = None, reason: str = "") -> Promotion:
    """Serve the model that served before the current one (or the earlier champion `to`: a folder, or a registry
    `name` / `name@version`), recorded with the reason."""
    history = store.promotions(role)
    stack = serving_stack(history)
    if len(stack) < 2:
        raise PromotionError(f"role {role!r} has {'no' if not stack else 'only one'} champion on record: nothing to "
                             "roll back to")
    earlier = stack[:-1]
    if to is None:
        target = earlier[-1]
    else:
        target = next((p for p in reversed(earlier) if _matches(store, p, to)), None)
        if target is None:
            names = ", ".join(_describe(store, p) for p in earlier)
            raise PromotionError(f"{to!r} is not an earlier champion of role {role!r} (earlier: {names})")
    kind = next(p.kind for p in reversed(history) if p.path == target)
    return _record(store, role, "rollback", target, kind, [], reason or "rollback")


def _describe(store: Any, path: str) -> str:
    name, version = registry_name(store, path)
    return f"{name}@{version}" if name else path


def _matches(store: Any, path: str, wanted: str) -> bool:
    if Path(wanted).exists() and str(Path(wanted).resolve()) == path:
        return True
    name, version = registry_name(store, path)
    return name is not None and wanted in (name, f"{name}@{version}")


def canary(store: Any, role: str, model: str | Path, *, share: float, reason: str, kind: str = "policy") -> Promotion:
    """Give a challenger `share` of the role's traffic beside the champion (sticky per user or trace, see `assign`),
    until the next promotion, refusal or rollback of the role ends it."""
    if not 0 < share < 1:
        raise PromotionError(f"share {share}: a canary gets a share strictly between 0 and 1")
    path = str(Path(model).resolve())
    stack = serving_stack(store.promotions(role))
    if not stack:
        raise PromotionError(f"role {role!r} has no champion: promote one first (a canary runs beside it)")
    if stack[-1] == path:
        raise PromotionError(f"{model} already serves role {role!r}")
    return _record(store, role, "canary", path, kind, [], reason or "canary", share)


def arms(history: list[Promotion]) -> tuple[Promotion | None, Promotion | None]:
    """(the decision behind the serving champion, the running canary or None) after replaying the history."""
    stack = serving_stack(history)
    champion = next((p for p in reversed(history) if p.action in ("promote", "rollback") and stack
                     and p.path == stack[-1]), None)
    running = None
    for p in history:
        running = p if p.action == "canary" else None  # any later decision ends a canary
    return champion, running


def assign(history: list[Promotion], role: str, unit: str) -> tuple[str, Promotion]:
    """Which arm serves `unit` (a user or trace id): ("champion" | "challenger", its decision record). Sticky: the
    same unit gets the same arm while the canary runs, from a hash of role and unit, not a random draw."""
    champion, running = arms(history)
    if champion is None:
        raise PromotionError(f"role {role!r} has no champion yet")
    bucket = int(hashlib.sha256(f"{role}\x00{unit}".encode()).hexdigest()[:12], 16) / 16 ** 12
    if running is not None and bucket < (running.share or 0):
        return "challenger", running
    return "champion", champion
