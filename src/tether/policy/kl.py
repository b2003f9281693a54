"""KL between the policy and the reference: per-token estimators, where to apply them, and controllers.

**Estimators** (Schulman, "Approximating KL divergence", 2020) of ``KL(pi || pi_ref)`` from a token sampled
from the policy, with ``log_ratio = logp - ref_logp`` and ``ratio = pi_ref / pi = exp(-log_ratio)``:

- ``k1 = log_ratio``: unbiased, high variance, negative on some tokens.
- ``k2 = log_ratio^2 / 2``: biased (low bias when the two are close), non-negative, low variance.
- ``k3 = (ratio - 1) - log(ratio)``: unbiased and non-negative (``x - 1 >= log x``), low variance.

**Where.** *In the reward* (PPO, RLOO): each token's reward is ``-coef * k`` (``k1`` as TRL's RLOO and PPO),
with the sequence score added on the last token; the penalty is a number, never differentiated, and the
policy gradient carries it. *In the loss* (GRPO): ``coef * k`` is added to each token's loss and is
differentiated. Then the estimator changes the *gradient*, not only the value: with on-policy samples the
expected gradient of ``k2`` is exactly the gradient of ``KL(pi || pi_ref)``; that of ``k3`` (GRPO's and
TRL's choice) is the gradient of the *forward* ``KL(pi_ref || pi)``; that of ``k1`` is zero. ``kl_in_loss``
therefore defaults to ``k2``; pass ``"k3"`` to match GRPO (tests/policy/test_kl.py checks all three).

**Controllers** give the coefficient; each has ``value`` and ``update(observed_kl, n_steps)``, where
`observed_kl` is the batch mean of the per-sequence KL (summed over tokens) and `n_steps` the number of
sequences since the last update (TRL's old PPO passed the batch size).
"""

from __future__ import annotations

import math
from typing import Literal, Protocol

import torch

KLEstimator = Literal["k1", "k2", "k3"]


def kl_estimate(logps: torch.Tensor, ref_logps: torch.Tensor, estimator: KLEstimator = "k1") -> torch.Tensor:
    """Per-token estimate of ``KL(pi || pi_ref)`` at tokens sampled from pi; inputs and output ``(B, T)``."""
    log_ratio = logps - ref_logps
    if estimator == "k1":
        return log_ratio
    if estimator == "k2":
        return 0.5 * log_ratio**2
    if estimator == "k3":
        return torch.expm1(-log_ratio) + log_ratio  # (ratio - 1) - log(ratio), ratio = pi_ref / pi
    raise ValueError(f"estimator must be 'k1', 'k2' or 'k3', got {estimator!r}")


def kl_in_reward(
    scores: torch.Tensor,
    logps: torch.Tensor,
    ref_logps: torch.Tensor,
    mask: torch.Tensor,
    coef: float,
    estimator: KLEstimator = "k1",
) -> torch.Tensor:
    """Per-token rewards ``(B, T)``: ``-coef * k`` on each masked token, plus `scores` ``(B,)`` on the last one.

    Detached: the penalty is part of the return, not of the graph. `mask` must have a 1 in every row.
    """
    m = mask.to(logps.dtype)
    rewards = -coef * kl_estimate(logps.detach(), ref_logps.detach(), estimator) * m
    last = mask.long().cumsum(-1).argmax(-1)  # first position where the count of tokens peaks = last token
    rewards[torch.arange(len(last), device=last.device), last] += scores.detach().to(rewards.dtype)
    return rewards


def kl_in_loss(
    logps: torch.Tensor, ref_logps: torch.Tensor, coef: float, estimator: KLEstimator = "k2"
) -> torch.Tensor:
    """Per-token KL term ``coef * k`` ``(B, T)`` to add to the per-token policy loss before aggregation."""
    return coef * kl_estimate(logps, ref_logps, estimator)


class KLController(Protocol):
    """What a trainer needs of a controller: the coefficient and a way to report the KL observed."""

    @property
    def value(self) -> float: ...

    def update(self, observed_kl: float, n_steps: int) -> None: ...


class FixedKLController:
    """A constant coefficient.

    0.05 is TRL's default for RLOO (``beta``) and PPO (``kl_coef``): a penalty that has kept those trainers near
    the reference, stronger than none at all (TRL's GRPO default, ``beta=0``) or OpenRLHF's 0.01.
    """

    def __init__(self, value: float = 0.05) -> None:
        self.value = value

    def update(self, observed_kl: float, n_steps: int) -> None:
        """Nothing to adapt."""


class AdaptiveKLController:
    """Ziegler et al. 2019's proportional controller toward a KL `target` (nats per sequence).

    ``value *= 1 + clip(observed / target - 1, -0.2, 0.2) * n_steps / horizon``: the coefficient grows while
    the KL is above target and shrinks below it. ``target=6``, ``horizon=10000`` were the defaults of TRL's
    ``AdaptiveKLController`` (removed in TRL 0.14) and of lm-human-preferences.
    """

    def __init__(self, value: float = 0.05, target: float = 6.0, horizon: float = 10000.0) -> None:
        if target <= 0 or horizon <= 0:
            raise ValueError(f"target and horizon must be > 0, got {target}, {horizon}")
        self.value, self.target, self.horizon = value, target, horizon

    def update(self, observed_kl: float, n_steps: int) -> None:
        """Move the coefficient in proportion to the relative KL error, clipped to +-20%."""
        error = min(max(observed_kl / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + error * n_steps / self.horizon


class KLBudget:
    """Stop once ``sqrt(KL)`` exceeds `max_sqrt_kl`; the coefficient comes from `controller` (fixed by default).

    ``sqrt(KL)`` is the distance from the reference in which Gao et al. 2023 found reward over-optimisation
    to follow a smooth law, so a budget on it caps how far the policy may drift from the reference.
    """

    def __init__(self, max_sqrt_kl: float, controller: KLController | None = None) -> None:
        if max_sqrt_kl <= 0:
            raise ValueError(f"max_sqrt_kl must be > 0, got {max_sqrt_kl}")
        self.max_sqrt_kl = max_sqrt_kl
        self.controller = FixedKLController() if controller is None else controller
        self.sqrt_kl = 0.0

    @property
    def value(self) -> float:
        """The coefficient of the controller it wraps."""
        return self.controller.value

    @property
    def exhausted(self) -> bool:
        """True once the last observed ``sqrt(KL)`` is past the budget: the trainer should stop."""
        return self.sqrt_kl > self.max_sqrt_kl

    def update(self, observed_kl: float, n_steps: int) -> None:
        """Record the KL (clamped at 0: a k1 batch mean can dip below) and update the wrapped controller."""
        self.sqrt_kl = math.sqrt(max(observed_kl, 0.0))
        self.controller.update(observed_kl, n_steps)
