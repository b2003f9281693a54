"""Tether: RLHF as a continuous, audited practice."""

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
