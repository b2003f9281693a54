"""One epoch of length-bucketed batches, shared by reward-model and policy training."""

from __future__ import annotations

import random
from collections.abc import Sequence


def plan_batches(lengths: Sequence[int], batch_size: int, seed: int, *, bucket: bool = True,
                 pool: int = 64) -> list[list[int]]:
    """One epoch of batches. Bucketed: shuffle, sort each pool of `pool` batches by length, shuffle the batches.

    Examples of similar length share a batch, so little compute goes to padding, and batch order stays random;
    a small pool keeps each batch closer to a random draw of content (length often tracks the task)."""
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if bucket:
        chunk = batch_size * pool
        order = [i for s in range(0, len(order), chunk) for i in sorted(order[s:s + chunk], key=lambda j: lengths[j])]
    batches = [order[s:s + batch_size] for s in range(0, len(order), batch_size)]
    if bucket:
        rng.shuffle(batches)
    return batches
