"""KL estimators on two known categorical distributions, where each applies, and the KL controllers."""

from __future__ import annotations

import math

import pytest
import torch

from tether.policy.kl import (
    AdaptiveKLController,
    FixedKLController,
    KLBudget,
    kl_estimate,
    kl_in_loss,
    kl_in_reward,
)

POLICY = torch.tensor([0.5, 0.3, 0.15, 0.05], dtype=torch.float64)
REFERENCE = torch.tensor([0.25, 0.25, 0.25, 0.25], dtype=torch.float64)
TRUE_KL = float((POLICY * (POLICY / REFERENCE).log()).sum())  # KL(policy || reference), about 0.21 nats


def _estimates(estimator: str) -> torch.Tensor:
    """The estimator's value on each of the four tokens."""
    return kl_estimate(POLICY.log(), REFERENCE.log(), estimator)  # type: ignore[arg-type]


@pytest.mark.parametrize("estimator", ["k1", "k3"])
def test_k1_and_k3_are_unbiased_exactly(estimator: str) -> None:
    # the expectation over tokens drawn from the policy, summed over the four outcomes
    assert float((POLICY * _estimates(estimator)).sum()) == pytest.approx(TRUE_KL, abs=1e-12)


def test_k2_is_biased_and_k1_goes_negative() -> None:
    assert float((POLICY * _estimates("k2")).sum()) != pytest.approx(TRUE_KL, abs=1e-3)
    assert _estimates("k1").min() < 0  # token 3 is likelier under the reference
    assert _estimates("k2").min() >= 0


@pytest.mark.parametrize("estimator", ["k1", "k3"])
def test_monte_carlo_mean_is_the_kl(estimator: str) -> None:
    g = torch.Generator().manual_seed(0)
    tokens = torch.multinomial(POLICY, 200_000, replacement=True, generator=g)
    samples = kl_estimate(POLICY.log()[tokens], REFERENCE.log()[tokens], estimator)  # type: ignore[arg-type]
    standard_error = samples.std().item() / math.sqrt(len(samples))
    assert abs(samples.mean().item() - TRUE_KL) < 4 * standard_error


def test_k3_is_non_negative_even_far_from_the_reference() -> None:
    g = torch.Generator().manual_seed(1)
    logps, ref_logps = -30 * torch.rand(1000, generator=g), -30 * torch.rand(1000, generator=g)
    assert kl_estimate(logps, ref_logps, "k3").min() >= 0
    assert kl_estimate(POLICY.log(), POLICY.log(), "k3").abs().max() == 0


def test_k3_has_lower_variance_than_k1_near_the_reference() -> None:
    near = torch.softmax(REFERENCE.log() + torch.tensor([0.1, -0.05, 0.02, -0.08], dtype=torch.float64), -1)
    k1, k3 = (kl_estimate(near.log(), REFERENCE.log(), e) for e in ("k1", "k3"))
    variance = {name: float((near * k**2).sum() - (near * k).sum() ** 2) for name, k in (("k1", k1), ("k3", k3))}
    assert variance["k3"] < variance["k1"] / 10


def _expected_loss_gradient(estimator: str) -> torch.Tensor:
    """Gradient of E_{x ~ pi}[k(x)] when k is in the loss: the sampling is not differentiated, k is."""
    logits = POLICY.log().clone().requires_grad_()
    logps = torch.log_softmax(logits, -1)
    surrogate = (logps.exp().detach() * kl_in_loss(logps, REFERENCE.log(), 1.0, estimator)).sum()  # type: ignore[arg-type]
    return torch.autograd.grad(surrogate, logits)[0]


def _true_gradient(forward: bool) -> torch.Tensor:
    logits = POLICY.log().clone().requires_grad_()
    logps = torch.log_softmax(logits, -1)
    kl = (REFERENCE * (REFERENCE.log() - logps)).sum() if forward else (logps.exp() * (logps - REFERENCE.log())).sum()
    return torch.autograd.grad(kl, logits)[0]


def test_in_the_loss_k2_gives_the_reverse_kl_gradient_k3_the_forward_k1_none() -> None:
    torch.testing.assert_close(_expected_loss_gradient("k2"), _true_gradient(forward=False))
    torch.testing.assert_close(_expected_loss_gradient("k3"), _true_gradient(forward=True))
    assert _expected_loss_gradient("k1").abs().max() < 1e-15


def test_kl_in_reward_by_hand() -> None:
    logps = torch.tensor([[-1.0, -2.0, -0.5], [-0.2, -0.4, -9.0]], requires_grad=True)
    ref_logps = torch.tensor([[-1.5, -1.0, -0.5], [-0.4, -0.4, -1.0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    scores = torch.tensor([1.0, 2.0])
    rewards = kl_in_reward(scores, logps, ref_logps, mask, coef=0.1)
    # k1 = logp - ref: [[0.5, -1, 0], [0.2, 0, (padding)]]; reward -0.1 k, the score on each row's last token
    torch.testing.assert_close(rewards, torch.tensor([[-0.05, 0.1, 1.0], [-0.02, 2.0, 0.0]]))
    assert not rewards.requires_grad


def test_kl_in_loss_keeps_the_graph() -> None:
    logps = torch.tensor([[-1.0, -2.0]], requires_grad=True)
    term = kl_in_loss(logps, torch.tensor([[-1.5, -1.0]]), coef=0.1, estimator="k3")
    torch.testing.assert_close(term, 0.1 * kl_estimate(logps, torch.tensor([[-1.5, -1.0]]), "k3"))
    assert term.requires_grad
    with pytest.raises(ValueError, match="estimator"):
        kl_estimate(logps, logps, "k4")  # type: ignore[arg-type]


def test_fixed_controller_never_moves() -> None:
    controller = FixedKLController()
    assert controller.value == 0.05
    controller.update(100.0, 512)
    assert controller.value == 0.05


def test_adaptive_controller_moves_toward_the_target() -> None:
    above, below, on = AdaptiveKLController(0.1, 6.0), AdaptiveKLController(0.1, 6.0), AdaptiveKLController(0.1, 6.0)
    above.update(9.0, 512)
    below.update(3.0, 512)
    on.update(6.0, 512)
    assert above.value > 0.1 > below.value  # more KL than wanted: a stronger penalty
    assert on.value == 0.1


@pytest.mark.parametrize("observed", [0.5, 5.5, 6.6, 60.0])
def test_adaptive_controller_equals_trl_ziegler_controller(observed: float) -> None:
    # TRL <= 0.13 trl/trainer/utils.py, AdaptiveKLController.update (removed in TRL 0.14, #2480), verbatim:
    #     proportional_error = np.clip(current / target - 1, -0.2, 0.2)
    #     mult = 1 + proportional_error * n_steps / self.horizon
    #     self.value *= mult
    value, target, horizon, n_steps = 0.2, 6.0, 10000.0, 256
    proportional_error = min(max(observed / target - 1, -0.2), 0.2)
    want = value * (1 + proportional_error * n_steps / horizon)
    controller = AdaptiveKLController(value, target, horizon)
    controller.update(observed, n_steps)
    assert controller.value == pytest.approx(want, rel=1e-12)


def test_kl_budget_stops_past_sqrt_kl() -> None:
    budget = KLBudget(max_sqrt_kl=2.0, controller=AdaptiveKLController(0.1, target=1.0))
    budget.update(3.9, 512)  # sqrt 1.97: inside
    assert not budget.exhausted
    assert budget.value > 0.1  # the wrapped controller still adapts
    budget.update(4.41, 512)  # sqrt 2.1: past the budget
    assert budget.exhausted
    budget.update(-0.3, 512)  # a noisy negative k1 mean reads as 0
    assert budget.sqrt_kl == 0 and not budget.exhausted
    assert KLBudget(1.0).value == FixedKLController().value
