"""Reward-model losses: small pure functions on tensors.

Every loss works on the reward difference ``d = r_chosen - r_rejected`` of a batch of pairs.

- **Bradley–Terry** ``P(chosen wins) = sigmoid(d)``; the negative log-likelihood of a soft label
  ``p`` (``p_chosen``, 1 for a hard label) is ``-(p log sigmoid(d) + (1 - p) log sigmoid(-d))``,
  whose gradient in ``d`` is ``sigmoid(d) - p``.
- **Weights** (the audit's per-pair weight) multiply each pair's loss; the batch loss is
  ``sum(w * loss) / n`` (divided by the number of pairs, not by ``sum(w)``) so that a batch of
  low-weight pairs really moves the model less.
- **Margin** ``m`` (as TRL's ``margin`` column): ``d`` becomes ``d - m``, so the model must beat the
  rejected response by at least ``m`` logits before the loss flattens.
- **Label smoothing** ``eps``: the target becomes ``p (1 - eps) + (1 - p) eps`` (TRL's DPO convention
  ``-(1 - eps) log sigmoid(d) - eps log sigmoid(-d)`` for a hard label).
- **Ties** — two models, both documented here:

  * ``"half"`` (default): a tie is a soft label ``p = 0.5``; its gradient ``sigmoid(d) - 0.5`` pulls
    ``d`` to 0, and non-tie pairs keep the exact Bradley–Terry loss.
  * ``"davidson"`` (Davidson 1970, with tie parameter ``nu > 0``)::

        P(chosen) = 1 / (1 + e^-d + nu e^(-d/2))
        P(tie)    = nu / (e^(d/2) + e^(-d/2) + nu)

    A proper three-outcome likelihood: ties carry evidence that the two rewards are close, and
    ``nu -> 0`` gives back Bradley–Terry. Chosen for its smooth closed form (Rao–Kupper needs a
    threshold on ``d`` and has a kink in how ties and wins trade off).
- **Centering** (TRL's ``center_rewards_coefficient``): ``c * mean((r_chosen + r_rejected)^2)``
  keeps the scores near zero mean, since Bradley–Terry only identifies differences.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from tether.reward.config import TieModel


def bt_nll(d: torch.Tensor, p: torch.Tensor | float = 1.0) -> torch.Tensor:
    """Per-pair Bradley–Terry negative log-likelihood of soft label `p` given the difference `d`."""
    return -(p * F.logsigmoid(d) + (1.0 - p) * F.logsigmoid(-d))


def davidson_nll(d: torch.Tensor, p: torch.Tensor | float, tie: torch.Tensor, nu: float) -> torch.Tensor:
    """Per-pair Davidson negative log-likelihood: win/loss with soft label `p`, or a tie where `tie` is set."""
    if nu <= 0:
        raise ValueError(f"davidson tie parameter nu must be > 0, got {nu}")
    log_nu = torch.full_like(d, math.log(nu))
    zero = torch.zeros_like(d)
    # log(1 + e^-d + nu e^(-d/2)) and its mirror, computed with logsumexp for stability
    nll_chosen = torch.logsumexp(torch.stack([zero, -d, log_nu - d / 2]), dim=0)
    nll_rejected = torch.logsumexp(torch.stack([zero, d, log_nu + d / 2]), dim=0)
    nll_tie = torch.logsumexp(torch.stack([d / 2, -d / 2, log_nu]), dim=0) - log_nu
    win = p * nll_chosen + (1.0 - p) * nll_rejected
    return torch.where(tie, nll_tie, win)


def preference_loss(
    r_chosen: torch.Tensor,
    r_rejected: torch.Tensor,
    *,
    weight: torch.Tensor | None = None,
    p_chosen: torch.Tensor | None = None,
    tie: torch.Tensor | None = None,
    margin: torch.Tensor | float | None = None,
    label_smoothing: float = 0.0,
    tie_model: TieModel = "half",
    nu: float = 1.0,
) -> torch.Tensor:
    """Weighted Bradley–Terry (or Davidson) loss of one batch; options as in the module docstring."""
    if not 0.0 <= label_smoothing < 0.5:
        raise ValueError(f"label_smoothing must be in [0, 0.5), got {label_smoothing}")
    d = r_chosen - r_rejected
    if margin is not None:
        d = d - margin
    p = torch.ones_like(d) if p_chosen is None else p_chosen.to(d.dtype)
    tie = torch.zeros_like(d, dtype=torch.bool) if tie is None else tie.to(torch.bool)
    if label_smoothing:
        p = p * (1.0 - label_smoothing) + (1.0 - p) * label_smoothing
    if tie_model == "half":
        per_pair = bt_nll(d, torch.where(tie, torch.full_like(p, 0.5), p))
    elif tie_model == "davidson":
        per_pair = davidson_nll(d, p, tie, nu)
    else:
        raise ValueError(f"tie_model must be 'half' or 'davidson', got {tie_model!r}")
    if weight is not None:
        per_pair = per_pair * weight.to(d.dtype)
    return per_pair.sum() / d.numel()


def center_loss(r_chosen: torch.Tensor, r_rejected: torch.Tensor, coefficient: float) -> torch.Tensor:
    """Auxiliary loss pulling the mean reward to zero (TRL's `center_rewards_coefficient` term)."""
    return coefficient * torch.mean((r_chosen + r_rejected) ** 2)
