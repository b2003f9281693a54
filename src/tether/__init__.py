"""Tether: RLHF as a continuous, audited practice."""

import os

# OpenMP threads that spin while waiting turn any other busy process into a stall: on a 2-core machine with
# one core taken, a MiniLM training step took 4.6 s with torch's default (spinning) threads and 0.42 s with
# passive ones. Set before torch loads its OpenMP runtime; a value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from tether.config import Project, find_project, init_project
from tether.records import (
    Choice,
    Comparison,
    Event,
    ModelVersion,
    Outcome,
    PreferencePair,
    Rater,
    RaterProfile,
    RewardContract,
    Side,
)

__version__ = "0.1.0"


def __getattr__(name: str):  # noqa: ANN202 - the SDK client loads httpx only when asked for
    if name == "Client":
        from tether.deploy.client import Client

        return Client
    raise AttributeError(f"module 'tether' has no attribute {name!r}")


__all__ = [
    "Choice",
    "Client",
    "Comparison",
    "Event",
    "ModelVersion",
    "Outcome",
    "PreferencePair",
    "Project",
    "Rater",
    "RaterProfile",
    "RewardContract",
    "Side",
    "find_project",
    "init_project",
]
