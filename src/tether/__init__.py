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

__all__ = [
    "Choice",
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
