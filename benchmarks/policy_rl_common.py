"""Shared helpers of the online-RL benchmarks: the machine note and the `## Policy: online RL` section of RESULTS.md
(added at the end of the file; each benchmark replaces only its own `###` subsection inside it)."""

from __future__ import annotations

import os
import platform

import reward_common

SECTION = "## Policy: online RL"
MACHINE = "2-core shared dev machine, other work running"


def machine_note() -> str:
    load = os.getloadavg()
    return f"Machine: {platform.machine()}, {MACHINE} (load average {load[0]:.1f} at the end)."


def write_subsection(name: str, body: str) -> None:
    """Replace (or add) `### name` inside `## Policy: online RL`, leaving everything else as it is."""
    reward_common.write_subsection(name, body, SECTION)
