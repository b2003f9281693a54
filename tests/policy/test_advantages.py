"""GRPO and RLOO advantages against TRL 1.16's code; GAE and PPO's clipped losses on cases worked by hand."""

from __future__ import annotations

import inspect
import math

import pytest
import torch
from trl import GRPOTrainer, RLOOTrainer
from trl.trainer.utils import nanstd

from tether.policy.advantages import (
    clipped_policy_loss,
    clipped_value_loss,
    gae,
    group_advantages,
    masked_mean,
    masked_whiten,
    rloo_advantages,
)

# TRL 1.16 computes advantages inline in `_generate_and_score_completions` (after generating and scoring), so the
# tests reproduce those lines; each quoted line is checked to be in the installed TRL (see the guard test below).
TRL_GRPO_LINES = [
    "mean_grouped_rewards = torch.nanmean(rewards.view(-1, num_generations), dim=1)",
    "mean_grouped_rewards = mean_grouped_rewards.repeat_interleave(num_generations, dim=0)",
    "std_rewards = nanstd(rewards.view(-1, num_generations), dim=1)",
    "std_rewards = std_rewards.repeat_interleave(num_generations, dim=0)",
    "std_rewards = nanstd(rewards).expand_as(rewards)",
    "advantages = rewards - mean_grouped_rewards",
    "advantages = advantages / (std_rewards + 1e-4)",
]
TRL_RLOO_LINES = [
    "grouped_rewards = rewards.view(-1, num_generations)",
    "scorable_counts = (~torch.isnan(grouped_rewards)).sum(dim=1, keepdim=True)",
    "grouped_sum = torch.nansum(grouped_rewards, dim=1, keepdim=True)",
    "baselines = (grouped_sum - grouped_rewards) / (scorable_counts - 1)",
    "advantages = rewards - baselines",
    "advantages = (advantages - torch.nanmean(advantages)) / (nanstd(advantages) + 1e-4)",
]


def _trl_grpo(rewards: torch.Tensor, num_generations: int, scale_rewards: str) -> torch.Tensor:
    """TRL 1.16 GRPOTrainer (multi_objective_aggregation="sum_then_normalize"), `self.` dropped."""
    mean_grouped_rewards = torch.nanmean(rewards.view(-1, num_generations), dim=1)
    mean_grouped_rewards = mean_grouped_rewards.repeat_interleave(num_generations, dim=0)
    if scale_rewards in ["group", "none"]:
        std_rewards = nanstd(rewards.view(-1, num_generations), dim=1)
        std_rewards = std_rewards.repeat_interleave(num_generations, dim=0)
    elif scale_rewards == "batch":
        std_rewards = nanstd(rewards).expand_as(rewards)
    advantages = rewards - mean_grouped_rewards
    if scale_rewards != "none":
        advantages = advantages / (std_rewards + 1e-4)
    return advantages


def _trl_rloo(rewards: torch.Tensor, num_generations: int, normalize_advantages: bool) -> torch.Tensor:
    """TRL 1.16 RLOOTrainer, `self.` dropped (beta=0: no KL in the reward here; that is tether.policy.kl)."""
    grouped_rewards = rewards.view(-1, num_generations)
    scorable_counts = (~torch.isnan(grouped_rewards)).sum(dim=1, keepdim=True)
    grouped_sum = torch.nansum(grouped_rewards, dim=1, keepdim=True)
    baselines = (grouped_sum - grouped_rewards) / (scorable_counts - 1)
    baselines = baselines.view(-1)
    advantages = rewards - baselines
    if normalize_advantages:
        advantages = (advantages - torch.nanmean(advantages)) / (nanstd(advantages) + 1e-4)
    return advantages


def test_the_reproduced_lines_are_trl_1_16s() -> None:
    grpo = inspect.getsource(GRPOTrainer._generate_and_score_completions)
    rloo = inspect.getsource(RLOOTrainer._generate_and_score_completions)
    assert [line for line in TRL_GRPO_LINES if line not in grpo] == []
    assert [line for line in TRL_RLOO_LINES if line not in rloo] == []


def _rewards(prompts: int = 5, k: int = 4) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    rewards = torch.randn(prompts, k, generator=g, dtype=torch.float64)
    rewards[1] = 0.7  # a group whose completions all score the same: no signal
    rewards[2, :2] = 1.0  # binary-looking rewards with duplicates
    return rewards


@pytest.mark.parametrize("scale", ["group", "batch", "none"])
def test_group_advantages_equal_trl_grpo(scale: str) -> None:
    rewards = _rewards()
    ours = group_advantages(rewards, scale=scale)
    trl = _trl_grpo(rewards.flatten(), num_generations=4, scale_rewards=scale).view(5, 4)
    assert (ours - trl).abs().max() < 1e-5
    assert ours[1].abs().max() == 0  # equal rewards: advantage 0, not 0/0


@pytest.mark.parametrize("normalize", [False, True])
def test_rloo_advantages_equal_trl_rloo(normalize: bool) -> None:
    rewards = _rewards(k=3)
    ours = rloo_advantages(rewards, normalize=normalize)
    trl = _trl_rloo(rewards.flatten(), num_generations=3, normalize_advantages=normalize).view(5, 3)
    assert (ours - trl).abs().max() < 1e-5


def test_rloo_by_hand_and_k_times_centered() -> None:
    rewards = torch.tensor([[1.0, 0.0, 0.0, 1.0]])
    torch.testing.assert_close(rloo_advantages(rewards), torch.tensor([[2, -2, -2, 2]]) / 3)
    # RLOO's advantage is k / (k - 1) times the group-centered reward
    r = _rewards()
    torch.testing.assert_close(rloo_advantages(r), group_advantages(r, scale="none") * 4 / 3)


def test_groups_of_one_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        group_advantages(torch.ones(3, 1))
    with pytest.raises(ValueError, match="at least 2"):
        rloo_advantages(torch.ones(3, 1))
    with pytest.raises(ValueError, match="scale"):
        group_advantages(torch.ones(3, 2), scale="prompt")  # type: ignore[arg-type]


def test_gae_by_hand() -> None:
    # gamma = lam = 0.5; row 0 has 3 tokens, row 1 has 2 then padding (whose reward and value are ignored)
    rewards = torch.tensor([[0.0, 0.0, 1.0], [0.5, 2.0, 9.0]])
    values = torch.tensor([[0.5, 0.25, 0.5], [1.0, 1.0, 7.0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    advantages, returns = gae(rewards, values, mask, gamma=0.5, lam=0.5)
    # row 0: delta_2 = 1 - 0.5 = 0.5           A_2 = 0.5
    #        delta_1 = 0 + 0.5 * 0.5 - 0.25 = 0  A_1 = 0 + 0.25 * 0.5 = 0.125
    #        delta_0 = 0 + 0.5 * 0.25 - 0.5     A_0 = -0.375 + 0.25 * 0.125 = -0.34375
    # row 1: delta_1 = 2 + 0 - 1 = 1 (the value after the last token is 0)   A_1 = 1
    #        delta_0 = 0.5 + 0.5 * 1 - 1 = 0                               A_0 = 0 + 0.25 * 1 = 0.25
    torch.testing.assert_close(advantages, torch.tensor([[-0.34375, 0.125, 0.5], [0.25, 1.0, 0.0]]))
    torch.testing.assert_close(returns, torch.tensor([[0.15625, 0.375, 1.0], [1.25, 2.0, 0.0]]))


def test_gae_limits_monte_carlo_and_td0() -> None:
    rewards = torch.tensor([[0.1, -0.2, 0.3, 1.0]])
    values = torch.tensor([[0.4, 0.3, 0.2, 0.1]])
    mask = torch.ones(1, 4)
    # lam = gamma = 1: the return is the reward to go
    _, returns = gae(rewards, values, mask, gamma=1.0, lam=1.0)
    torch.testing.assert_close(returns, torch.tensor([[1.2, 1.1, 1.3, 1.0]]))
    # lam = 0: the advantage is the one-step TD error
    advantages, _ = gae(rewards, values, mask, gamma=0.9, lam=0.0)
    next_values = torch.tensor([[0.3, 0.2, 0.1, 0.0]])
    torch.testing.assert_close(advantages, rewards + 0.9 * next_values - values)


def test_clipped_policy_loss_by_hand() -> None:
    ratio = torch.tensor([[1.5, 1.5, 0.5, 0.5, 1.1]], dtype=torch.float64)
    advantages = torch.tensor([[1.0, -1.0, 1.0, -1.0, 1.0]], dtype=torch.float64)
    logps = ratio.log().requires_grad_()
    loss = clipped_policy_loss(logps, torch.zeros_like(ratio), advantages, clip=0.2)
    # ratio 1.5, A=+1: min(1.5, 1.2) -> -1.2, clipped (no gradient); A=-1: min(-1.5, -1.2) -> 1.5, unclipped
    # ratio 0.5, A=+1: min(0.5, 0.8) -> -0.5, unclipped; A=-1: min(-0.5, -0.8) -> 0.8, clipped
    # ratio 1.1: inside the band -> -1.1
    torch.testing.assert_close(loss.detach(), torch.tensor([[-1.2, 1.5, -0.5, 0.8, -1.1]], dtype=torch.float64))
    (grad,) = torch.autograd.grad(loss.sum(), logps)  # d(-ratio A)/d logp = -ratio A where unclipped
    torch.testing.assert_close(grad, torch.tensor([[0.0, 1.5, -0.5, 0.0, -1.1]], dtype=torch.float64))


def test_clip_higher_and_sequence_advantages_broadcast() -> None:
    logps = torch.tensor([[math.log(1.25), math.log(0.75)]])
    loss = clipped_policy_loss(logps, torch.zeros(1, 2), torch.tensor([[2.0]]), clip=0.2, clip_high=0.28)
    # A > 0: 1.25 is under 1.28, not clipped (clip=0.2 alone caps it at 1.2); 0.75 below the band is kept (min)
    torch.testing.assert_close(loss, torch.tensor([[-2.5, -1.5]]))
    symmetric = clipped_policy_loss(logps, torch.zeros(1, 2), torch.tensor([[2.0]]), clip=0.2)
    torch.testing.assert_close(symmetric, torch.tensor([[-2.4, -1.5]]))


def test_clipped_value_loss_by_hand() -> None:
    values = torch.tensor([[1.5, 1.5, 0.9]], requires_grad=True)
    old_values = torch.ones(1, 3)
    returns = torch.tensor([[2.0, 0.0, 1.0]])
    loss = clipped_value_loss(values, old_values, returns, clip=0.2)
    # v=1.5, R=2: clipped v=1.2, max(0.25, 0.64) / 2 = 0.32 (the clipped term wins: no gradient)
    # v=1.5, R=0: max(2.25, 1.44) / 2 = 1.125, gradient v - R = 1.5;  v=0.9 inside the band: 0.01 / 2
    torch.testing.assert_close(loss.detach(), torch.tensor([[0.32, 1.125, 0.005]]))
    (grad,) = torch.autograd.grad(loss.sum(), values)
    torch.testing.assert_close(grad, torch.tensor([[0.0, 1.5, -0.1]]))


def test_masked_mean_and_whiten_by_hand() -> None:
    x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 100.0, 100.0]])
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    assert masked_mean(x, mask).item() == 2.5
    torch.testing.assert_close(masked_mean(x, mask, dim=1), torch.tensor([2.0, 4.0]))
    kept = torch.tensor([1.0, 2.0, 3.0, 4.0])
    want = torch.zeros(2, 3)
    want[mask.bool()] = (kept - 2.5) / math.sqrt(5 / 3)  # sample variance of 1..4 is 5/3
    torch.testing.assert_close(masked_whiten(x, mask), want)
    want[mask.bool()] += 2.5
    torch.testing.assert_close(masked_whiten(x, mask, shift_mean=False), want)
