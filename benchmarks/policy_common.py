"""Shared helpers of the policy benchmarks: the `## Policy: DPO` section of RESULTS.md (each benchmark owns one
`###` subsection in it; nothing outside the section is touched)."""

from __future__ import annotations

import reward_common

SECTION = "## Policy: DPO"


def write_subsection(name: str, body: str) -> None:
    """Replace (or add) `### name` inside `## Policy: DPO`, leaving everything else as it is."""
    reward_common.write_subsection(name, body, SECTION)
