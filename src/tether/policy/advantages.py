"""Advantages and PPO losses for online RL: small pure functions on tensors.

- **GRPO** (Shao et al. 2024): ``k`` completions per prompt, advantage = reward minus its group's mean,
  divided by a standard deviation chosen by `scale` (TRL's ``scale_rewards``): ``"group"`` (the group's,
  GRPO), ``"batch"`` (the whole batch's, PPO-Lite) or ``"none"`` (Dr. GRPO: no division, no difficulty bias).
- **RLOO** (Ahmadian et al. 2024): the baseline of a completion is the mean reward of the *other* ``k - 1``
  completions of its prompt, an unbiased baseline (it does not depend on the completion itself).
- **PPO** (Schulman et al. 2017) on tokens: GAE (Schulman et al. 2016) over per-token rewards and values,
  the clipped surrogate policy loss and the clipped value loss, per token; aggregate with `masked_mean`.

Rewards of a group are laid out as a ``(P, k)`` tensor: P prompts, k completions each (TRL's flat
``(P * k,)`` layout is ``rewards.view(P, k)``). Rewards must be finite; drop unscorable completions first.
"""

from __future__ import annotations

from typing import Literal

import torch

ScaleRewards = Literal["group", "batch", "none"]


def group_advantages(rewards: torch.Tensor, scale: ScaleRewards = "group", eps: float = 1e-4) -> torch.Tensor:
    """GRPO advantages ``(P, k)`` from rewards ``(P, k)``: ``(r - group mean) / (std + eps)``, std per `scale`."""
    if rewards.shape[-1] < 2:
        raise ValueError(f"a group needs at least 2 completions, got {rewards.shape[-1]}")
    centered = rewards - rewards.mean(-1, keepdim=True)
    if scale == "none":
        return centered
    if scale == "group":
        return centered / (rewards.std(-1, keepdim=True) + eps)  # sample std (n - 1), as TRL's nanstd
    if scale == "batch":
        return centered / (rewards.std() + eps)
    raise ValueError(f"scale must be 'group', 'batch' or 'none', got {scale!r}")


def rloo_advantages(rewards: torch.Tensor, normalize: bool = False, eps: float = 1e-4) -> torch.Tensor:
    """RLOO advantages ``(P, k)``: each reward minus the mean of the other ``k - 1`` of its prompt.

    `normalize` then whitens them over the whole batch (TRL's ``normalize_advantages``).
    """
    k = rewards.shape[-1]
    if k < 2:
        raise ValueError(f"a group needs at least 2 completions, got {k}")
    advantages = rewards - (rewards.sum(-1, keepdim=True) - rewards) / (k - 1)
    return (advantages - advantages.mean()) / (advantages.std() + eps) if normalize else advantages


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of `x` over the positions where `mask` is 1 (all of them, or along `dim`)."""
    m = mask.to(x.dtype)
    if dim is None:
        return (x * m).sum() / m.sum().clamp(min=1.0)
    return (x * m).sum(dim) / m.sum(dim).clamp(min=1.0)


def masked_whiten(x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True, eps: float = 1e-8) -> torch.Tensor:
    """`x` scaled to unit variance (and zero mean with `shift_mean`) over masked positions; 0 elsewhere."""
    mean = masked_mean(x, mask)
    n = mask.sum().clamp(min=2)
    var = masked_mean((x - mean) ** 2, mask) * n / (n - 1)  # sample variance, as TRL's masked_var
    whitened = (x - mean) * torch.rsqrt(var + eps)
    return (whitened if shift_mean else whitened + mean) * mask.to(x.dtype)


def gae(
    rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0, lam: float = 0.95
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over tokens; returns ``(advantages, returns)``, each ``(B, T)``.

    `rewards` ``(B, T)``: per-token rewards (KL penalty, plus the sequence score on the last token);
    `values` ``(B, T)``: the value head before each token; `mask` ``(B, T)``: 1 on completion tokens.
    Masked positions count as zero reward and zero value, so the value after the last token is 0
    (the episode ends) and their advantages are 0. Defaults are TRL's PPO (``gamma=1``, ``lam=0.95``).
    """
    m = mask.to(values.dtype)
    rewards, values = rewards * m, values * m
    advantages = torch.zeros_like(values)
    last, next_value = torch.zeros_like(values[:, 0]), torch.zeros_like(values[:, 0])
    for t in reversed(range(values.shape[1])):
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = delta + gamma * lam * last
        advantages[:, t], next_value = last, values[:, t]
    advantages = advantages * m
    return advantages, advantages + values


def clipped_policy_loss(
    logps: torch.Tensor,
    old_logps: torch.Tensor,
    advantages: torch.Tensor,
    clip: float = 0.2,
    clip_high: float | None = None,
) -> torch.Tensor:
    """PPO's clipped surrogate per token, ``-min(ratio A, clip(ratio, 1 - clip, 1 + clip_high) A)``, ``(B, T)``.

    `logps`, `old_logps` ``(B, T)``: log-probs of the sampled tokens now and at sampling time;
    `advantages` ``(B, T)``, or ``(B, 1)`` for one advantage per sequence (GRPO / RLOO).
    `clip_high` (DAPO's clip-higher) defaults to `clip`.
    """
    ratio = torch.exp(logps - old_logps)
    high = clip if clip_high is None else clip_high
    return -torch.min(ratio * advantages, torch.clamp(ratio, 1.0 - clip, 1.0 + high) * advantages)


def clipped_value_loss(
    values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, clip: float = 0.2
) -> torch.Tensor:
    """PPO's clipped value loss per token, ``0.5 max((v - R)^2, (clip(v, v_old +- clip) - R)^2)``, ``(B, T)``."""
    clipped = old_values + torch.clamp(values - old_values, -clip, clip)
    return 0.5 * torch.max((values - returns) ** 2, (clipped - returns) ** 2)
