"""The metrics log of a training run: one record per logged step, to `<out>/metrics.jsonl` by default,
to TensorBoard (`<out>/tensorboard`, needs `tensorboard`) or MLflow (needs `mlflow`; its own tracking URI) too."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

METRICS_BACKENDS = ("jsonl", "tensorboard", "mlflow")


class MetricsLog:
    """`log(step, loss=..., lr=...)` to every chosen backend; a resumed run (`start_step`) keeps the rows up to
    its checkpoint. A context manager; only the main process (`enabled`) writes."""

    def __init__(self, out_dir: str | Path, backends: str | Sequence[str] = "jsonl", *, start_step: int = 0,
                 enabled: bool = True, run_name: str | None = None) -> None:
        names = [b.strip() for b in backends.split(",") if b.strip()] if isinstance(backends, str) else list(backends)
        for name in names:
            if name not in METRICS_BACKENDS:
                raise ValueError(f"unknown metrics backend {name!r}; choose from {', '.join(METRICS_BACKENDS)}")
            if name != "jsonl" and importlib.util.find_spec(name) is None:
                raise ModuleNotFoundError(f"metrics backend {name!r} needs the {name!r} package, which is not "
                                          f"installed: pip install {name} (or log to jsonl)", name=name)
        self.path = Path(out_dir) / "metrics.jsonl"
        self._jsonl = self._tensorboard = self._mlflow = None
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if "jsonl" in names:
            kept = [line for line in self.path.read_text().splitlines() if json.loads(line)["step"] <= start_step] \
                if start_step and self.path.is_file() else []
            self._jsonl = self.path.open("w", encoding="utf-8")
            self._jsonl.writelines(line + "\n" for line in kept)
        if "tensorboard" in names:
            from torch.utils.tensorboard import SummaryWriter

            self._tensorboard = SummaryWriter(str(self.path.parent / "tensorboard"), purge_step=start_step + 1)
        if "mlflow" in names:
            import mlflow

            self._mlflow = mlflow
            mlflow.start_run(run_name=run_name)

    def log(self, step: int, **values: float) -> None:
        """One record: the step and its named values."""
        if self._jsonl is not None:
            self._jsonl.write(json.dumps({"step": step, **values}) + "\n")
            self._jsonl.flush()
        if self._tensorboard is not None:
            for key, value in values.items():
                self._tensorboard.add_scalar(key, value, step)
        if self._mlflow is not None:
            self._mlflow.log_metrics(values, step=step)

    def close(self) -> None:
        if self._jsonl is not None:
            self._jsonl.close()
        if self._tensorboard is not None:
            self._tensorboard.close()
        if self._mlflow is not None:
            self._mlflow.end_run()
        self._jsonl = self._tensorboard = self._mlflow = None

    def __enter__(self) -> MetricsLog:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
