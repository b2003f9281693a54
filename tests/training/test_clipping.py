"""`Optimization.step` clips the gradient norm (`max_grad_norm`), on the fp32 masters of a bf16 model too."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("accelerate")

from tether.training import adamw, make_accelerator  # noqa: E402


def _setup(max_grad_norm: float | None, dtype=torch.float32, lr: float = 0.1):  # noqa: ANN001, ANN202
    torch.manual_seed(0)
    model = torch.nn.Linear(8, 4).to(dtype)
    x, y = torch.randn(16, 8).to(dtype), (torch.randn(16, 4) * 50).to(dtype)  # a large loss: a large gradient
    opt = adamw(make_accelerator("no"), model, [lr], total=10, master_weights=dtype == torch.bfloat16,
                max_grad_norm=max_grad_norm)
    seen = []  # the gradients the optimizer steps with, and their norm
    inner = getattr(opt.optimizer, "optimizer", opt.optimizer)
    inner.register_step_pre_hook(lambda o, a, k: seen.append(
        [p.grad.detach().clone() for g in o.param_groups for p in g["params"]]))
    return opt, model, x, y, seen


def _loss(model, x, y):  # noqa: ANN001, ANN202
    return ((model(x).float() - y.float()) ** 2).mean()


def _norm(grads) -> float:  # noqa: ANN001
    return float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for g in grads])))


def test_the_optimizer_steps_with_the_clipped_gradient() -> None:
    opt, model, x, y, seen = _setup(max_grad_norm=1.0)
    raw = torch.autograd.grad(_loss(model, x, y), list(model.parameters()))
    raw_norm = _norm(raw)
    assert raw_norm > 10  # clipping has work to do
    opt.step(_loss(model, x, y))
    assert opt.grad_norm == pytest.approx(raw_norm, rel=1e-5)  # the norm before clipping is reported
    assert _norm(seen[0]) == pytest.approx(1.0, rel=1e-5)
    for g, r in zip(seen[0], raw, strict=True):  # the direction is kept: each gradient scaled by 1 / norm
        torch.testing.assert_close(g, r / raw_norm, rtol=1e-5, atol=1e-7)
    # AdamW's first moment after one step: (1 - beta1) * the clipped gradient
    state = opt.optimizer.state_dict()["state"]
    torch.testing.assert_close(state[0]["exp_avg"], 0.1 * raw[0] / raw_norm, rtol=1e-5, atol=1e-7)


def test_zero_or_none_disables_clipping() -> None:
    for off in (0, None):
        opt, model, x, y, seen = _setup(max_grad_norm=off)
        raw = torch.autograd.grad(_loss(model, x, y), list(model.parameters()))
        opt.step(_loss(model, x, y))
        assert _norm(seen[0]) == pytest.approx(_norm(raw), rel=1e-5) and opt.max_grad_norm is None
    with pytest.raises(ValueError, match="max_grad_norm"):
        _setup(max_grad_norm=-1.0)


def test_every_step_is_bounded() -> None:
    """Not only the first: the optimizer never steps with a gradient longer than max_grad_norm; unclipped, it does."""
    opt, model, x, y, seen = _setup(max_grad_norm=0.5)
    free, free_model, _, _, free_seen = _setup(max_grad_norm=None)
    for _ in range(3):
        opt.step(_loss(model, x, y))
        free.step(_loss(free_model, x, y))
    assert all(_norm(g) <= 0.5 * (1 + 1e-5) for g in seen)
    assert all(_norm(g) > 0.5 for g in free_seen)


def test_the_fp32_masters_of_a_bf16_model_are_clipped() -> None:
    opt, model, x, y, seen = _setup(max_grad_norm=1.0, dtype=torch.bfloat16)
    opt.step(_loss(model, x, y))
    assert opt.master is not None and all(g.dtype == torch.float32 for g in seen[0])
    assert _norm(seen[0]) == pytest.approx(1.0, rel=1e-5) and opt.grad_norm > 10
