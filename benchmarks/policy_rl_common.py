"""Shared helpers of the online-RL benchmarks: the machine note and the `## Policy: online RL` section of RESULTS.md
(added at the end of the file; each benchmark replaces only its own `###` subsection inside it)."""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path
from typing import Any

import reward_common

SECTION = "## Policy: online RL"
MACHINE = "2-core shared dev machine, other work running"


def machine_note() -> str:
    load = os.getloadavg()
    return f"Machine: {platform.machine()}, {MACHINE} (load average {load[0]:.1f} at the end)."


def write_subsection(name: str, body: str) -> None:
    """Replace (or add) `### name` inside `## Policy: online RL`, leaving everything else as it is."""
    reward_common.write_subsection(name, body, SECTION)


def guard_study_args(description: str, **defaults: float) -> argparse.ArgumentParser:
    """The options the guard studies share (seeds, steps, checks, held-out prompts, the starting sim policy)."""
    parser = argparse.ArgumentParser(description=description)
    for name, kind, default, text in (("seeds", int, 3, "seeds"), ("steps", int, 60, "RL steps"),
                                      ("every", int, 5, "monitor check every N steps"),
                                      ("prompts-per-step", int, 8, "prompts per step"),
                                      ("k", int, 8, "completions per prompt"), ("lr", float, 1e-3, "learning rate"),
                                      ("held", int, 100, "held-out prompts"),
                                      ("sft-steps", int, 120, "SFT steps of the starting policy"),
                                      ("threads", int, 1, "torch threads")):
        parser.add_argument(f"--{name}", type=kind, default=defaults.get(name.replace("-", "_"), default), help=text)
    parser.add_argument("--policy", type=Path, default=None, help="starting sim policy (default: train one)")
    parser.add_argument("--no-write", action="store_true")
    return parser


def sim_start(args: argparse.Namespace, prefix: str) -> tuple[Any, Path, Path]:
    """(world, work folder, starting policy): the given --policy, or the built-in sim policy trained now."""
    import tempfile

    import torch

    from tether.sim import PolicyConfig, World, train_policy

    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix=prefix))
    world = World(0)
    policy = args.policy
    if policy is None:
        policy = work / "sft"
        train_policy(world, policy, PolicyConfig(max_steps=args.sft_steps, max_seconds=3600, threads=args.threads),
                     show_progress=False)
    return world, work, policy
