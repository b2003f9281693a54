"""Each loss option against its hand-derived gradient, and BT against TRL's RewardTrainer formula."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from tether.reward.losses import center_loss, preference_loss


def _sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _grads(**kw):  # noqa: ANN003, ANN202
    rc = torch.tensor([1.2, -0.3, 0.4, 2.0], dtype=torch.float64, requires_grad=True)
    rr = torch.tensor([0.2, 0.5, 0.4, -1.0], dtype=torch.float64, requires_grad=True)
    loss = preference_loss(rc, rr, **kw)
    loss.backward()
    return rc.detach(), rr.detach(), loss.item(), rc.grad, rr.grad


def test_bt_equals_trl_reward_trainer_formula() -> None:
    g = torch.Generator().manual_seed(0)
    rc, rr = torch.randn(32, generator=g), torch.randn(32, generator=g)
    margin = torch.rand(32, generator=g)
    # TRL RewardTrainer.compute_loss (trl/trainer/reward_trainer.py), with and without margin, + centering
    trl_plain = -F.logsigmoid(rc - rr).mean()
    trl_margin = -F.logsigmoid(rc - rr - margin).mean()
    trl_center = trl_plain + 0.01 * torch.mean((rc + rr) ** 2)
    torch.testing.assert_close(preference_loss(rc, rr, weight=torch.ones(32)), trl_plain)
    torch.testing.assert_close(preference_loss(rc, rr, margin=margin), trl_margin)
    torch.testing.assert_close(preference_loss(rc, rr) + center_loss(rc, rr, 0.01), trl_center)


def test_weighted_soft_label_gradient_matches_closed_form() -> None:
    w = torch.tensor([1.0, 0.5, 2.0, 0.0], dtype=torch.float64)
    p = torch.tensor([1.0, 0.8, 0.6, 0.9], dtype=torch.float64)
    rc, rr, loss, gc, gr = _grads(weight=w, p_chosen=p)
    n = 4
    d = (rc - rr).tolist()
    # dl/dd_i = w_i (sigmoid(d_i) - p_i) / n ; dl/dr_c = +, dl/dr_r = -
    want = [w[i].item() * (_sig(d[i]) - p[i].item()) / n for i in range(n)]
    assert gc.tolist() == pytest.approx(want, abs=1e-12)
    assert gr.tolist() == pytest.approx([-x for x in want], abs=1e-12)
    want_loss = sum(-w[i].item() * (p[i].item() * math.log(_sig(d[i])) + (1 - p[i].item()) * math.log(_sig(-d[i])))
                    for i in range(n)) / n
    assert loss == pytest.approx(want_loss, abs=1e-12)


def test_margin_and_label_smoothing_gradient() -> None:
    m, eps = 0.5, 0.1
    rc, rr, _, gc, _ = _grads(margin=m, label_smoothing=eps)
    target = 1 - eps  # hard label smoothed
    want = [(_sig(c - r - m) - target) / 4 for c, r in zip(rc.tolist(), rr.tolist(), strict=True)]
    assert gc.tolist() == pytest.approx(want, abs=1e-12)


def test_half_ties_pull_difference_to_zero() -> None:
    tie = torch.tensor([False, True, True, False])
    rc, rr, _, gc, _ = _grads(tie=tie)
    d = (rc - rr).tolist()
    want = [(_sig(d[i]) - (0.5 if tie[i] else 1.0)) / 4 for i in range(4)]
    assert gc.tolist() == pytest.approx(want, abs=1e-12)
    assert gc[2].item() == 0.0  # a tie already at d = 0 has nothing to learn


def test_davidson_gradient_matches_closed_form() -> None:
    nu = 0.7
    tie = torch.tensor([False, True, False, True])
    p = torch.tensor([1.0, 1.0, 0.7, 1.0], dtype=torch.float64)
    rc, rr, loss, gc, _ = _grads(tie=tie, p_chosen=p, tie_model="davidson", nu=nu)
    want, want_loss = [], 0.0
    for i, (c, r) in enumerate(zip(rc.tolist(), rr.tolist(), strict=True)):
        d = c - r
        if tie[i]:
            den = math.exp(d / 2) + math.exp(-d / 2) + nu
            want.append((math.exp(d / 2) - math.exp(-d / 2)) / 2 / den / 4)
            want_loss += (math.log(den) - math.log(nu)) / 4
        else:
            zc = 1 + math.exp(-d) + nu * math.exp(-d / 2)
            zr = 1 + math.exp(d) + nu * math.exp(d / 2)
            g_c = (-math.exp(-d) - nu / 2 * math.exp(-d / 2)) / zc
            g_r = (math.exp(d) + nu / 2 * math.exp(d / 2)) / zr
            pi = p[i].item()
            want.append((pi * g_c + (1 - pi) * g_r) / 4)
            want_loss += (pi * math.log(zc) + (1 - pi) * math.log(zr)) / 4
    assert gc.tolist() == pytest.approx(want, abs=1e-12)
    assert loss == pytest.approx(want_loss, abs=1e-12)


def test_davidson_probabilities_sum_to_one_and_reduce_to_bt() -> None:
    d = torch.linspace(-4, 4, 9, dtype=torch.float64)
    nu = 0.5
    from tether.reward.losses import davidson_nll

    no, yes = torch.zeros(9, dtype=torch.bool), torch.ones(9, dtype=torch.bool)
    total = (-davidson_nll(d, 1.0, no, nu)).exp() + (-davidson_nll(d, 0.0, no, nu)).exp() \
        + (-davidson_nll(d, 1.0, yes, nu)).exp()
    torch.testing.assert_close(total, torch.ones(9, dtype=torch.float64))
    torch.testing.assert_close(davidson_nll(d, 1.0, no, 1e-12), -F.logsigmoid(d))


def test_center_gradient() -> None:
    rc = torch.tensor([1.0, 2.0, -0.5], requires_grad=True)
    rr = torch.tensor([0.5, -1.0, -0.5], requires_grad=True)
    center_loss(rc, rr, 0.1).backward()
    want = [2 * 0.1 * (c + r) / 3 for c, r in zip([1.0, 2.0, -0.5], [0.5, -1.0, -0.5], strict=True)]
    assert rc.grad.tolist() == pytest.approx(want)


def test_bad_options_raise() -> None:
    r = torch.zeros(2)
    with pytest.raises(ValueError, match="tie_model"):
        preference_loss(r, r, tie_model="rao")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="label_smoothing"):
        preference_loss(r, r, label_smoothing=0.7)
    with pytest.raises(ValueError, match="nu"):
        preference_loss(r, r, tie_model="davidson", nu=0.0)


def test_bt_equals_trl_compute_loss_itself() -> None:
    """Call TRL's own RewardTrainer.compute_loss (unbound, on a minimal stand-in trainer) on the same rewards."""
    trl = pytest.importorskip("trl")
    from collections import defaultdict
    from types import SimpleNamespace

    g = torch.Generator().manual_seed(1)
    rc, rr = torch.randn(8, generator=g), torch.randn(8, generator=g)
    logits = torch.cat([rc, rr]).unsqueeze(-1)

    class _Model:
        training = True

        def __call__(self, **_: object) -> SimpleNamespace:
            return SimpleNamespace(logits=logits)

    acc = SimpleNamespace(gather_for_metrics=lambda x: x, gather=lambda x: x)
    for coef in (None, 0.05):
        stub = SimpleNamespace(model=_Model(), args=SimpleNamespace(center_rewards_coefficient=coef),
                               accelerator=acc, _metrics={"train": defaultdict(list)}, _total_train_tokens=0,
                               _tp_size=1)
        inputs = {"attention_mask": torch.ones(16, 4)}
        trl_loss = trl.RewardTrainer.compute_loss(stub, stub.model, inputs)
        ours = preference_loss(rc, rr) + (center_loss(rc, rr, coef) if coef else 0.0)
        torch.testing.assert_close(ours, trl_loss)
