"""The over-optimisation guard for teams who stay on TRL: a `transformers.TrainerCallback` for GRPOTrainer and
RLOOTrainer (any Trainer whose model is a causal LM) — the monitor, the hacking signatures, KL raised on evidence,
stop and rollback. Needs the train extra (transformers, trl).

    guard = Guard.build(heldout_prompts, proxy, {"overall": 1.0}, heldout, every=10, prompt_format="{prompt}\\n")
    trainer = GRPOTrainer(model=..., reward_funcs=[...], args=..., train_dataset=...)
    trainer.add_callback(GuardCallback(guard, tokenizer, trainer=trainer))
    trainer.train()  # stops at the alarm, the model rolled back to the best check

At the start of training the callback keeps a frozen copy of the model as its reference (the check's sqrt(KL)),
checks it (the baseline), then checks every `guard.every` optimizer steps. With `trainer` given and a KL term in
the trainer (`beta > 0`), the gap opening raises the trainer's `beta` (recorded, with why). Each check's fields go
to `trainer.state.log_history` (and so to TRL's loggers) under `monitor/`; `records` and `guard.monitor.summary()`
keep them.
"""

from __future__ import annotations

import copy
from typing import Any

try:
    from transformers import TrainerCallback
except ImportError as exc:  # pragma: no cover - the train extra is missing
    raise ImportError("tether.policy.trl_callback needs transformers (pip install 'tether[train]')") from exc

from tether.policy.rl_guard import Guard, metric_fields


class GuardCallback(TrainerCallback):
    """The guard in a Hugging Face / TRL training loop."""

    def __init__(self, guard: Guard, tokenizer: Any, *, trainer: Any = None) -> None:
        self.guard, self.tokenizer, self.trainer = guard, tokenizer, trainer
        self.ref: Any = None
        self.records: list[dict[str, Any]] = []
        self.stopped: str | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> Any:
        self.ref = copy.deepcopy(model).eval().requires_grad_(False)
        self._check(model, state, state.global_step, control)
        return control

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> Any:
        if self.guard.due(state.global_step) and self.stopped is None:
            self._check(model, state, state.global_step, control)
        return control

    def _check(self, model: Any, state: Any, step: int, control: Any) -> None:
        rec = self.guard.check(model, self.ref, self.tokenizer, step)
        self.guard.keep_if_best(rec, model)
        self.records.append(rec)
        beta = getattr(self.trainer, "beta", None)
        if beta and getattr(self.trainer, "ref_model", None) is not None:
            new = self.guard.raised_coef(rec, float(beta))
            if new is not None:
                self.trainer.beta = new
        state.log_history.append({"step": step, **metric_fields(rec)})
        if rec["alarm"]:
            self.stopped = f"over-optimisation alarm at step {step}: {self.guard.monitor.events[-1]['why']}"
            control.should_training_stop = True
            if self.guard.rollback:
                best = self.guard.restore(model)
                self.stopped += f"; rolled back to step {best}"
                self.guard.monitor.events.append({"step": step, "event": "rollback",
                                                  "why": f"weights of step {best}, the best held-out check"})
