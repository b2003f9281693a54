"""A small synthetic campaign with known truth and known rater behaviours, for the audit tests."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest

from tether.records import Comparison


@dataclass(frozen=True)
class SynthRater:
    name: str
    accuracy: float = 0.9  # P(right) when the rater looks at the content
    first_bias: float = 0.0  # P(pick whatever is shown first, ignoring content)
    second_bias: float = 0.0  # P(pick whatever is shown second)
    longer_bias: float = 0.0  # P(pick the longer response, ignoring content)
    spam: bool = False  # labels uniformly at random


def synth_campaign(raters: list[SynthRater], n_items: int = 200, per_item: int = 3, *, seed: int = 0,
                   both_orders: bool = False, task_type: str = "default", tie_rate: float = 0.1,
                   prefix: str = "", interface_of=None, batch_of=None) -> tuple[list[Comparison], dict[str, str]]:
    """Comparisons and the true label per pair_id. `both_orders`: every rater sees each item twice, swapped."""
    rng = np.random.default_rng(seed)
    out: list[Comparison] = []
    truth: dict[str, str] = {}
    for i in range(n_items):
        pid = f"{prefix}{task_type}-{i}"
        true = "tie" if rng.random() < tie_rate else ("a" if rng.random() < 0.5 else "b")
        truth[pid] = true
        len_a, len_b = int(rng.integers(20, 200)), int(rng.integers(20, 200))
        chosen = rng.choice(len(raters), size=min(per_item, len(raters)), replace=False)
        for r_idx in chosen:
            r = raters[r_idx]
            orders = ["a", "b"] if both_orders else ["a" if rng.random() < 0.5 else "b"]
            for shown in orders:
                u = rng.random()
                if r.spam:
                    choice = ("a", "b", "tie")[int(rng.integers(0, 3))]
                elif u < r.first_bias:
                    choice = shown
                elif u < r.first_bias + r.second_bias:
                    choice = "b" if shown == "a" else "a"
                elif u < r.first_bias + r.second_bias + r.longer_bias:
                    choice = "a" if len_a > len_b else "b"
                elif rng.random() < r.accuracy:
                    choice = true
                else:
                    choice = ("a", "b", "tie")[int(rng.integers(0, 3))]
                extra = {}
                if batch_of is not None:
                    extra["batch"] = batch_of(i)
                out.append(Comparison(
                    prompt=f"prompt {pid}", response_a="x" * len_a + f" a{pid}", response_b="y" * len_b + f" b{pid}",
                    shown_first=shown, choice=choice, rater=r.name, pair_id=pid, task_type=task_type,
                    campaign="c1" if i % 2 else "c2", interface=interface_of(r.name) if interface_of else None,
                    **extra))
    return out, truth


@pytest.fixture
def synth() -> SimpleNamespace:
    """`synth.Rater(...)` and `synth.campaign(raters, ...)`."""
    return SimpleNamespace(Rater=SynthRater, campaign=synth_campaign)
