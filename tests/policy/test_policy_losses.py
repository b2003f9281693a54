"""The DPO family against TRL 1.16's own DPOTrainer loss code, then Tether's weights, soft labels and ties."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from transformers.loss.loss_utils import ForCausalLMLoss
from trl import DPOTrainer
from trl.experimental.cpo import CPOTrainer

from tether.policy.losses import dpo_loss, ipo_loss, robust_dpo_loss, sequence_logps, sft_loss

B = 8
LOSSES = {"sigmoid": dpo_loss, "robust": robust_dpo_loss, "ipo": ipo_loss}


def _pairs(seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Policy and reference log-probs of B pairs (policy ones are leaves), and completion lengths (2B,)."""
    g = torch.Generator().manual_seed(seed)
    pc, pr, rc, rr = (-20.0 * torch.rand(B, generator=g, dtype=torch.float64) for _ in range(4))
    lengths = torch.randint(1, 12, (2 * B,), generator=g)
    return pc.requires_grad_(), pr.requires_grad_(), rc, rr, lengths


def _trl_loss(pc, pr, rc, rr, lengths, *, loss_type: str, beta: float, label_smoothing: float = 0.0):  # noqa: ANN001, ANN202
    """TRL 1.16's `DPOTrainer._compute_loss`, unbound, on a stub trainer and a stub model.

    The stub model returns per-token log-probs whose row sums are the sequence log-probs (batch = [chosen,
    rejected]); the reference log-probs come in as precomputed; the completion mask has `lengths` ones (IPO
    divides by them). Returns TRL's scalar loss and the metrics it logged.
    """
    n, t = 2 * B, int(lengths.max()) + 2
    completion_mask = (torch.arange(t) >= t - lengths[:, None]).long()
    seq_logps = torch.cat([pc, pr])
    per_token = torch.cat([torch.zeros(n, t - 2, dtype=seq_logps.dtype), seq_logps[:, None]], dim=1)
    zeros = torch.zeros(n, t - 1, dtype=seq_logps.dtype)
    outputs = SimpleNamespace(log_probs=per_token, entropy=zeros, mean_logits=zeros, is_top1=zeros.bool())
    metrics: defaultdict = defaultdict(lambda: defaultdict(list))
    trainer = SimpleNamespace(
        model=SimpleNamespace(training=True),
        accelerator=SimpleNamespace(device=torch.device("cpu"), gather=lambda x: x, gather_for_metrics=lambda x: x),
        aux_loss_enabled=False, ld_alpha=None, precompute_ref_logps=True, f_divergence_type="reverse_kl",
        loss_types=[loss_type], loss_weights=[1.0], beta=beta, label_smoothing=label_smoothing,
        use_weighting=False, _metrics=metrics, _total_train_tokens=0, _tp_size=1,
    )
    inputs = {"input_ids": torch.zeros(n, t, dtype=torch.long), "attention_mask": torch.ones(n, t, dtype=torch.long),
              "completion_mask": completion_mask, "ref_chosen_logps": rc, "ref_rejected_logps": rr}
    loss = DPOTrainer._compute_loss(trainer, lambda **_: outputs, inputs, return_outputs=False)
    return loss, metrics["train"]


def _grad(loss: torch.Tensor, pc: torch.Tensor, pr: torch.Tensor) -> torch.Tensor:
    return torch.cat(torch.autograd.grad(loss, (pc, pr)))


@pytest.mark.parametrize(("loss_type", "beta", "eps"), [
    ("sigmoid", 0.1, 0.0), ("sigmoid", 0.5, 0.0), ("ipo", 0.1, 0.0), ("ipo", 0.5, 0.0),
    ("robust", 0.1, 0.1), ("robust", 0.3, 0.25), ("robust", 0.1, 0.0),
])
def test_loss_and_gradient_equal_trl_dpo_trainer(loss_type: str, beta: float, eps: float) -> None:
    pc, pr, rc, rr, lengths = _pairs()
    trl_loss, logged = _trl_loss(pc, pr, rc, rr, lengths, loss_type=loss_type, beta=beta, label_smoothing=eps)
    kw: dict = {"beta": beta}
    if loss_type == "robust":
        kw["flip_rate"] = eps
    if loss_type == "ipo":
        kw["chosen_lengths"], kw["rejected_lengths"] = lengths.chunk(2)
    ours = LOSSES[loss_type](pc, pr, rc, rr, **kw)
    loss = ours.losses.mean()
    assert abs(loss.item() - trl_loss.item()) < 1e-5
    assert (_grad(loss, pc, pr) - _grad(trl_loss, pc, pr)).abs().max() < 1e-5
    # the implicit rewards give TRL's logged reward metrics
    assert ours.chosen_rewards.mean().item() == pytest.approx(logged["rewards/chosen"][0], abs=1e-5)
    assert ours.rejected_rewards.mean().item() == pytest.approx(logged["rewards/rejected"][0], abs=1e-5)
    margins = ours.chosen_rewards - ours.rejected_rewards
    assert margins.mean().item() == pytest.approx(logged["rewards/margins"][0], abs=1e-5)
    assert (margins > 0).double().mean().item() == pytest.approx(logged["rewards/accuracies"][0])
    assert not ours.chosen_rewards.requires_grad


@pytest.mark.parametrize(("beta", "eps"), [(0.1, 0.1), (0.5, 0.3)])
def test_cdpo_equals_trl_conservative_sigmoid_loss(beta: float, eps: float) -> None:
    pc, pr, rc, rr, lengths = _pairs(1)
    # TRL 1.16 "sigmoid" ignores label_smoothing: cDPO left it in "Refactor DPO" (#3906, TRL v0.29.0)
    trl_plain, _ = _trl_loss(pc, pr, rc, rr, lengths, loss_type="sigmoid", beta=beta, label_smoothing=eps)
    plain = dpo_loss(pc, pr, rc, rr, beta=beta).losses.mean()
    assert abs(plain.item() - trl_plain.item()) < 1e-5
    # So cDPO is TRL v0.28.0's DPOTrainer.dpo_loss, loss_type == "sigmoid", reproduced verbatim:
    #     logits = logratios - ref_logratios
    #     losses = (
    #         -F.logsigmoid(self.beta * logits) * (1 - self.label_smoothing)
    #         - F.logsigmoid(-self.beta * logits) * self.label_smoothing
    #     )
    logits = (pc - pr) - (rc - rr)
    trl_cdpo = (-F.logsigmoid(beta * logits) * (1 - eps) - F.logsigmoid(-beta * logits) * eps).mean()
    ours = dpo_loss(pc, pr, rc, rr, beta=beta, label_smoothing=eps).losses.mean()
    assert abs(ours.item() - trl_cdpo.item()) < 1e-5
    assert (_grad(ours, pc, pr) - _grad(trl_cdpo, pc, pr)).abs().max() < 1e-5


def test_sequence_logps_equal_trl_get_batch_logps() -> None:
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(3, 7, 11, generator=g)
    ids = torch.randint(0, 11, (3, 7), generator=g)
    mask = torch.tensor([[0, 0, 1, 1, 1, 1, 1], [0, 0, 0, 1, 1, 0, 0], [0, 1, 1, 1, 1, 1, 1]])
    labels = ids.masked_fill(mask == 0, -100)
    for average in (False, True):
        trl = CPOTrainer.get_batch_logps(logits, labels.clone(), average_log_prob=average)  # TRL 1.16, static
        torch.testing.assert_close(sequence_logps(logits, labels, mask, average=average), trl, atol=1e-5, rtol=0)
        torch.testing.assert_close(sequence_logps(logits, ids, mask, average=average), trl, atol=1e-5, rtol=0)


def test_sft_loss_equals_causal_lm_loss() -> None:
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(3, 7, 11, generator=g)
    ids = torch.randint(0, 11, (3, 7), generator=g)
    mask = torch.tensor([[0, 0, 1, 1, 1, 1, 1], [0, 0, 0, 1, 1, 0, 0], [0, 1, 1, 1, 1, 1, 1]])
    labels = ids.masked_fill(mask == 0, -100)
    want = ForCausalLMLoss(logits, labels, vocab_size=11)  # transformers' loss for `labels=` in a causal LM
    torch.testing.assert_close(sft_loss(logits, ids, mask), want, atol=1e-5, rtol=0)
    # and the token mean of -sequence_logps, as TRL 1.16 DPO's "sft" loss: -per_token_logps[mask].mean()
    n_tokens = mask[:, 1:].sum()
    torch.testing.assert_close(sft_loss(logits, ids, mask), -sequence_logps(logits, ids, mask).sum() / n_tokens)


@pytest.mark.parametrize("loss_type", list(LOSSES))
def test_weight_scales_each_pair_and_zero_weight_contributes_nothing(loss_type: str) -> None:
    pc, pr, rc, rr, _ = _pairs(4)
    w = torch.tensor([1.0, 0.0, 2.0, 0.5, 0.0, 1.0, 3.0, 1.0], dtype=torch.float64)
    plain = LOSSES[loss_type](pc, pr, rc, rr).losses
    weighted = LOSSES[loss_type](pc, pr, rc, rr, weight=w).losses
    torch.testing.assert_close(weighted, w * plain)
    grad = _grad(weighted.mean(), pc, pr)
    assert grad[[1, 4, B + 1, B + 4]].abs().max() == 0  # the two weight-0 pairs, chosen and rejected
    assert grad[[0, 2, B, B + 2]].abs().min() > 0


@pytest.mark.parametrize("loss_type", list(LOSSES))
def test_p_chosen_one_is_hard_dpo(loss_type: str) -> None:
    pc, pr, rc, rr, _ = _pairs(5)
    hard = LOSSES[loss_type](pc, pr, rc, rr).losses
    soft = LOSSES[loss_type](pc, pr, rc, rr, p_chosen=torch.ones(B, dtype=torch.float64)).losses
    torch.testing.assert_close(soft, hard)


def _sig(x: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(x)


def test_soft_label_with_label_smoothing_gradient_is_closed_form() -> None:
    pc, pr, rc, rr, _ = _pairs(6)
    beta, eps = 0.2, 0.1
    p = torch.linspace(0.5, 1.0, B, dtype=torch.float64)
    loss = dpo_loss(pc, pr, rc, rr, beta=beta, label_smoothing=eps, p_chosen=p).losses.sum()
    h = ((pc - rc) - (pr - rr)).detach()
    q = p * (1 - eps) + (1 - p) * eps  # the chance an eps-flipped label says "chosen"
    g_chosen, g_rejected = torch.autograd.grad(loss, (pc, pr))
    torch.testing.assert_close(g_chosen, beta * (_sig(beta * h) - q))
    torch.testing.assert_close(g_rejected, -beta * (_sig(beta * h) - q))


@pytest.mark.parametrize("loss_type", ["sigmoid", "robust"])
def test_soft_label_is_the_label_mixture_of_both_orders(loss_type: str) -> None:
    """p_chosen = p gives p * loss(chosen wins) + (1 - p) * loss(rejected wins): the label is a coin."""
    pc, pr, rc, rr, _ = _pairs(7)
    kw = {"label_smoothing": 0.15} if loss_type == "sigmoid" else {"flip_rate": 0.15}
    p = torch.linspace(0.5, 1.0, B, dtype=torch.float64)
    fn = LOSSES[loss_type]
    mixture = p * fn(pc, pr, rc, rr, **kw).losses + (1 - p) * fn(pr, pc, rr, rc, **kw).losses
    torch.testing.assert_close(fn(pc, pr, rc, rr, p_chosen=p, **kw).losses, mixture)


def test_ipo_soft_label_target_is_2p_minus_1_over_2beta() -> None:
    beta = 0.25
    p = torch.tensor([1.0, 0.75, 0.5], dtype=torch.float64)
    margin = (2 * p - 1) / (2 * beta)  # the zero of each pair's loss
    zero = torch.zeros(3, dtype=torch.float64)
    out = ipo_loss(margin, zero, zero, zero, beta=beta, p_chosen=p)
    torch.testing.assert_close(out.losses, zero)
    assert margin[0].item() == 2.0  # Eq. 17: 1 / (2 tau)


@pytest.mark.parametrize("loss_type", list(LOSSES))
def test_tie_gradient_pushes_margin_toward_zero(loss_type: str) -> None:
    zero = torch.zeros(3, dtype=torch.float64)
    pc = torch.tensor([3.0, -2.0, 0.0], dtype=torch.float64, requires_grad=True)  # margins +3, -2, 0
    pr = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    tie = torch.tensor([True, True, True])
    kw = {"flip_rate": 0.2} if loss_type == "robust" else {}
    out = LOSSES[loss_type](pc, pr, zero, zero, tie=tie, p_chosen=torch.ones(3, dtype=torch.float64), **kw)
    g_chosen, g_rejected = torch.autograd.grad(out.losses.sum(), (pc, pr))
    # gradient descent moves the margin by -(g_chosen - g_rejected): down when positive, up when negative, not at 0
    dmargin = -(g_chosen - g_rejected)
    assert dmargin[0] < 0 < dmargin[1]
    assert dmargin[2] == 0
    # a tie's order is arbitrary: swapping chosen and rejected changes nothing
    swapped = LOSSES[loss_type](pr, pc, zero, zero, tie=tie, **kw).losses
    torch.testing.assert_close(swapped, out.losses)


def test_ties_leave_other_pairs_alone() -> None:
    pc, pr, rc, rr, _ = _pairs(8)
    tie = torch.zeros(B, dtype=torch.bool)
    tie[3] = True
    with_tie = dpo_loss(pc, pr, rc, rr, tie=tie).losses
    hard = dpo_loss(pc, pr, rc, rr).losses
    half = dpo_loss(pc, pr, rc, rr, p_chosen=torch.full((B,), 0.5, dtype=torch.float64)).losses
    torch.testing.assert_close(with_tie[~tie], hard[~tie])
    torch.testing.assert_close(with_tie[tie], half[tie])


def test_invalid_smoothing_is_refused() -> None:
    pc, pr, rc, rr, _ = _pairs()
    with pytest.raises(ValueError, match="label_smoothing"):
        dpo_loss(pc, pr, rc, rr, label_smoothing=0.5)
    with pytest.raises(ValueError, match="flip_rate"):
        robust_dpo_loss(pc, pr, rc, rr, flip_rate=-0.1)
