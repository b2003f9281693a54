"""Policy losses on log-probabilities: the DPO family (DPO, cDPO, robust DPO, IPO) and SFT.

The DPO family works on per-sequence summed log-probabilities of the policy and of the frozen
reference, for the chosen and the rejected response of each pair (all of shape ``(B,)``). With the
log-ratios ``c = logp_chosen - ref_chosen`` and ``r = logp_rejected - ref_rejected``, the implicit
rewards are ``beta * c`` and ``beta * r`` and the margin is ``h = c - r``.

Every DPO-family loss consumes Tether's curated pairs as they are:

- **Weight** ``w`` multiplies each pair's loss; ``losses.mean()`` is then ``sum(w * loss) / n`` (over the
  number of pairs, not ``sum(w)``), as in ``tether.reward.losses``: a weight of 0 contributes nothing.
- **Soft label** ``p = p_chosen`` (1 for a hard label) is the target probability that ``chosen`` wins.
  The sigmoid losses are the cross-entropy ``-(q log sigmoid(beta h) + (1 - q) log sigmoid(-beta h))``
  against a target ``q`` derived from ``p``; its gradient in ``beta h`` is ``sigmoid(beta h) - q``.
- **Ties** are soft labels ``p = 0.5`` (as the reward model's default ``"half"`` tie model): the gradient
  ``sigmoid(beta h) - 0.5`` pulls the margin toward 0, so neither response of a tie gains on the other.
- **cDPO** (Mitchell 2023, label smoothing ``eps``) assumes each label was flipped with probability ``eps``,
  so the probability that the *observed* label says "chosen" is ``q = p (1 - eps) + (1 - p) eps``;
  ``p = 1`` gives ``-(1 - eps) log sigmoid(beta h) - eps log sigmoid(-beta h)``, TRL's ``sigmoid`` loss up to
  v0.28 (from v0.29 TRL's ``sigmoid`` ignores ``label_smoothing``); a tie stays 0.5.
- **Robust DPO** (Chowdhury et al. 2024, flip rate ``eps``) goes the other way: it assumes the label given
  is already noisy and de-biases it. Its loss ``((1 - eps) l(h) - eps l(-h)) / (1 - 2 eps)``, applied to a
  soft label linearly, is the cross-entropy with ``q = (p - eps) / (1 - 2 eps)`` (the inverse of cDPO's
  map). ``q > 1`` for ``p = 1``, so the loss is unbounded below as the margin grows (as in the paper).
  A curated ``p_chosen`` already accounts for rater noise: combine it with ``eps > 0`` only on purpose.
- **IPO** (Azar et al. 2023) regresses the margin to ``(2p - 1) / (2 beta)``: ``1 / (2 beta)`` for a hard
  label (their Eq. 17), 0 for a tie. Symmetrising the squared loss over both orders of a pair with label
  probability ``p`` gives exactly this target. Pass the completion lengths to use the per-token margin,
  as TRL does (a length-normalised IPO; TRL's comment says the IPO authors confirmed it).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F


class PairLosses(NamedTuple):
    """Per-pair losses (weighted; ``losses.mean()`` is the batch loss) and detached implicit rewards, all ``(B,)``."""

    losses: torch.Tensor
    chosen_rewards: torch.Tensor
    rejected_rewards: torch.Tensor


def sequence_logps(
    logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor, *, average: bool = False
) -> torch.Tensor:
    """Summed (or mean) log-probability of each sequence's masked tokens, ``(B,)``.

    `logits` ``(B, T, V)`` at position t predict the token at t + 1; `labels` ``(B, T)`` are the input ids
    (``-100`` allowed where `mask` is 0); `mask` ``(B, T)`` is 1 on the tokens to score (the answer).
    Logits in bf16 lose precision in the log-softmax: upcast them first.
    """
    targets = labels[:, 1:].clamp(min=0)  # -100 (ignored) positions are masked below; clamp keeps gather in range
    logits = logits[:, :-1]
    token_logps = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - logits.logsumexp(-1)
    m = mask[:, 1:].to(token_logps.dtype)
    total = (token_logps * m).sum(-1)
    return total / m.sum(-1).clamp(min=1.0) if average else total


def sft_loss(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood per answer token, averaged over all answer tokens of the batch (scalar).

    Shapes as in `sequence_logps`; a token-level mean, so long answers weigh more than short ones.
    """
    token_nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), labels[:, 1:].clamp(min=0), reduction="none")
    m = mask[:, 1:].to(token_nll.dtype)
    return (token_nll * m).sum() / m.sum().clamp(min=1.0)


def target_probability(
    like: torch.Tensor, p_chosen: torch.Tensor | None = None, tie: torch.Tensor | None = None
) -> torch.Tensor:
    """Soft label of each pair, ``(B,)``: `p_chosen` (1 when None), with ties set to 0.5."""
    p = torch.ones_like(like) if p_chosen is None else p_chosen.to(like.dtype)
    return p if tie is None else torch.where(tie.to(torch.bool), torch.full_like(p, 0.5), p)


def _weighted(losses: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    return losses if weight is None else losses * weight.to(losses.dtype)


def _pair_losses(
    losses: torch.Tensor, c: torch.Tensor, r: torch.Tensor, beta: float, weight: torch.Tensor | None
) -> PairLosses:
    return PairLosses(_weighted(losses, weight), beta * c.detach(), beta * r.detach())


def dpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    *,
    beta: float = 0.1,
    label_smoothing: float = 0.0,
    weight: torch.Tensor | None = None,
    p_chosen: torch.Tensor | None = None,
    tie: torch.Tensor | None = None,
) -> PairLosses:
    """DPO sigmoid loss (Rafailov et al. 2023); cDPO when ``label_smoothing > 0``. Inputs ``(B,)``.

    Cross-entropy of ``sigmoid(beta h)`` against ``q = p (1 - eps) + (1 - p) eps`` (module docstring).
    """
    if not 0.0 <= label_smoothing < 0.5:
        raise ValueError(f"label_smoothing must be in [0, 0.5), got {label_smoothing}")
    c, r = policy_chosen_logps - ref_chosen_logps, policy_rejected_logps - ref_rejected_logps
    p = target_probability(c, p_chosen, tie)
    q = p * (1.0 - label_smoothing) + (1.0 - p) * label_smoothing
    z = beta * (c - r)
    return _pair_losses(-(q * F.logsigmoid(z) + (1.0 - q) * F.logsigmoid(-z)), c, r, beta, weight)


def robust_dpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    *,
    beta: float = 0.1,
    flip_rate: float = 0.1,
    weight: torch.Tensor | None = None,
    p_chosen: torch.Tensor | None = None,
    tie: torch.Tensor | None = None,
) -> PairLosses:
    """Robust DPO (Chowdhury et al. 2024): unbiased DPO under labels flipped with probability `flip_rate`.

    `flip_rate` is TRL's ``label_smoothing`` for ``loss_type="robust"`` (0.1 is the paper's typical value).
    Cross-entropy against ``q = (p - eps) / (1 - 2 eps)`` (module docstring). Inputs ``(B,)``.
    """
    if not 0.0 <= flip_rate < 0.5:
        raise ValueError(f"flip_rate must be in [0, 0.5), got {flip_rate}")
    c, r = policy_chosen_logps - ref_chosen_logps, policy_rejected_logps - ref_rejected_logps
    q = (target_probability(c, p_chosen, tie) - flip_rate) / (1.0 - 2.0 * flip_rate)
    z = beta * (c - r)
    return _pair_losses(-(q * F.logsigmoid(z) + (1.0 - q) * F.logsigmoid(-z)), c, r, beta, weight)


def ipo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    *,
    beta: float = 0.1,
    chosen_lengths: torch.Tensor | None = None,
    rejected_lengths: torch.Tensor | None = None,
    weight: torch.Tensor | None = None,
    p_chosen: torch.Tensor | None = None,
    tie: torch.Tensor | None = None,
) -> PairLosses:
    """IPO (Azar et al. 2023): ``(h - (2p - 1) / (2 beta))^2``, beta being the paper's tau. Inputs ``(B,)``.

    With `chosen_lengths` / `rejected_lengths` (answer token counts), each log-ratio is divided by its
    length first (TRL's IPO). The implicit rewards stay ``beta *`` the summed log-ratios, as TRL logs them.
    """
    c, r = policy_chosen_logps - ref_chosen_logps, policy_rejected_logps - ref_rejected_logps
    c_avg = c if chosen_lengths is None else c / chosen_lengths.to(c.dtype).clamp(min=1.0)
    r_avg = r if rejected_lengths is None else r / rejected_lengths.to(r.dtype).clamp(min=1.0)
    target = (2.0 * target_probability(c, p_chosen, tie) - 1.0) / (2.0 * beta)
    return _pair_losses((c_avg - r_avg - target) ** 2, c, r, beta, weight)
