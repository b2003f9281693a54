"""One row of the demo's first table: a failure mode, its gold metric, the naive pipeline and Tether side by side."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# the keys of each object in demo.json's `guards` list (FORMATS: the demo report)
JSON_KEYS = ("failure_mode", "name", "metric", "higher_is_better", "naive", "tether")


@dataclass
class GuardRow:
    """What one guard changed, measured on the simulated world's gold (both arms computed by the same run)."""

    failure_mode: int  # 1..7, as numbered in the architecture
    name: str
    metric: str  # the gold metric, in words
    higher_is_better: bool
    naive: float
    tether: float
    naive_arm: str  # what the naive pipeline did
    tether_arm: str  # what Tether did instead
    detail: dict[str, Any] = field(default_factory=dict)  # supporting figures: sizes, intervals, second metrics
    seconds: float = 0.0

    @property
    def tether_better(self) -> bool:
        return self.tether > self.naive if self.higher_is_better else self.tether < self.naive

    def to_json(self) -> dict[str, Any]:
        """The six keys demo.json promises, nothing else."""
        return {"failure_mode": self.failure_mode, "name": self.name, "metric": self.metric,
                "higher_is_better": self.higher_is_better, "naive": float(self.naive), "tether": float(self.tether)}

    def to_dict(self) -> dict[str, Any]:
        return {**self.to_json(), "tether_better": self.tether_better, "naive_arm": self.naive_arm,
                "tether_arm": self.tether_arm, "detail": self.detail, "seconds": self.seconds}
