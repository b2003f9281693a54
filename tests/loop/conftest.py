"""The loop's tests reuse the reward stage's tiny backbone and the shift stage's tiny policy (each saved once)."""

from tests.reward.conftest import tiny_backbone  # noqa: F401
from tests.shift.conftest import tiny_policy  # noqa: F401
