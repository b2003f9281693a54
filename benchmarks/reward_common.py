"""Shared helpers of the reward benchmarks: HH-RLHF split and the `## Reward models` section of RESULTS.md."""

from __future__ import annotations

import os
import platform
from pathlib import Path

RESULTS = Path(__file__).parent / "RESULTS.md"
SECTION = "## Reward models"
HH = Path(__file__).resolve().parent.parent / "data" / "hh-rlhf" / "harmless-base_test.jsonl.gz"
MACHINE = "2-core shared dev machine, other work running"


def machine_note() -> str:
    load = os.getloadavg()
    return f"Machine: {platform.machine()}, {MACHINE} (load average {load[0]:.1f} at the end)."


def hh_split(holdout: float = 0.2, seed: int = 0) -> tuple[list, list]:
    """HH-RLHF harmless-base test pairs, split train / held-out by a seeded permutation."""
    import numpy as np

    from tether.io.errors import BadLine, InputError
    from tether.io.hh_rlhf import read_hh_rlhf

    pairs = []
    for item in read_hh_rlhf(HH):
        if isinstance(item, BadLine):
            raise InputError(item)
        pairs.append(item[1])
    order = np.random.default_rng(seed).permutation(len(pairs))
    cut = int(round(len(pairs) * (1 - holdout)))
    return [pairs[i] for i in order[:cut]], [pairs[i] for i in order[cut:]]


def write_subsection(name: str, body: str, section_title: str = SECTION) -> None:
    """Replace (or add) `### name` inside `section_title` (default `## Reward models`; appended at the end if
    missing), leaving everything else as it is. The other benchmarks' sections go through here too."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    start = text.find(section_title + "\n")
    if start < 0:
        text = text.rstrip("\n") + f"\n\n{section_title}\n"
        start = text.find(section_title + "\n")
    end = text.find("\n## ", start + len(section_title))
    end = len(text) if end < 0 else end + 1
    section = text[start:end]
    head = f"### {name}"
    block = f"{head}\n\n{body.strip()}\n\n"
    s = section.find(head + "\n")
    if s < 0:
        section = section.rstrip("\n") + "\n\n" + block
    else:
        e = section.find("\n### ", s + len(head))
        section = section[:s] + block + (section[e + 1:] if e >= 0 else "")
    text = text[:start] + section.rstrip("\n") + "\n" + ("\n" + text[end:] if end < len(text) else "")
    RESULTS.write_text(text.rstrip("\n") + "\n")
