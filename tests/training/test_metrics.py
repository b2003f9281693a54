"""The training scaffold's metrics log: JSONL by default, resumable; TensorBoard / MLflow on request, a clear error
naming the package when it is missing."""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path

import pytest

from tether.training import MetricsLog


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_jsonl_one_object_per_logged_step(tmp_path: Path) -> None:
    with MetricsLog(tmp_path) as log:
        for step in (1, 2, 3):
            log.log(step, loss=1.0 / step, lr=1e-3)
    assert _rows(tmp_path / "metrics.jsonl") == [{"step": s, "loss": 1.0 / s, "lr": 1e-3} for s in (1, 2, 3)]
    with MetricsLog(tmp_path) as log:  # a fresh run starts a fresh log
        log.log(1, loss=0.5)
    assert _rows(tmp_path / "metrics.jsonl") == [{"step": 1, "loss": 0.5}]


def test_resumed_run_keeps_the_rows_up_to_its_checkpoint(tmp_path: Path) -> None:
    with MetricsLog(tmp_path) as log:
        for step in range(1, 7):  # the interrupted run got past its last checkpoint (step 4)
            log.log(step, loss=float(step))
    with MetricsLog(tmp_path, start_step=4) as log:
        log.log(5, loss=50.0)
    assert [(r["step"], r["loss"]) for r in _rows(tmp_path / "metrics.jsonl")] == [
        (1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0), (5, 50.0)]
    MetricsLog(tmp_path / "other", enabled=False).log(1, loss=1.0)  # not the main process: writes nothing
    assert not (tmp_path / "other").exists()


@pytest.mark.parametrize("backend", ["tensorboard", "mlflow"])
def test_missing_backend_package_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == backend else real(name, *a))
    with pytest.raises(ModuleNotFoundError, match=rf"'{backend}' needs the '{backend}' package.*pip install {backend}"):
        MetricsLog(tmp_path, f"jsonl,{backend}")
    assert not (tmp_path / "metrics.jsonl").exists()  # nothing started
    with pytest.raises(ValueError, match="unknown metrics backend 'wandb'"):
        MetricsLog(tmp_path, "wandb")


def test_tensorboard_and_mlflow_receive_every_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple] = []

    class Writer:
        def __init__(self, logdir: str, purge_step: int) -> None:
            calls.append(("tb-open", Path(logdir).name, purge_step))

        def add_scalar(self, key: str, value: float, step: int) -> None:
            calls.append(("tb", key, value, step))

        def close(self) -> None:
            calls.append(("tb-close",))

    mlflow = types.SimpleNamespace(start_run=lambda run_name: calls.append(("ml-open", run_name)),
                                   log_metrics=lambda values, step: calls.append(("ml", values, step)),
                                   end_run=lambda: calls.append(("ml-close",)))
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", types.SimpleNamespace(SummaryWriter=Writer))
    monkeypatch.setitem(sys.modules, "mlflow", mlflow)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object())
    with MetricsLog(tmp_path, ["tensorboard", "mlflow"], run_name="rm") as log:
        log.log(1, loss=0.7)
    assert calls == [("tb-open", "tensorboard", 1), ("ml-open", "rm"), ("tb", "loss", 0.7, 1),
                     ("ml", {"loss": 0.7}, 1), ("tb-close",), ("ml-close",)]
    assert not (tmp_path / "metrics.jsonl").exists()  # only the backends asked for
