"""Shared helpers of the online-RL benchmarks: the machine note and the `## Policy: online RL` section of RESULTS.md
(added at the end of the file; each benchmark replaces only its own `###` subsection inside it)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

RESULTS = Path(__file__).parent / "RESULTS.md"
SECTION = "## Policy: online RL"
MACHINE = "2-core shared dev machine, other work running"


def machine_note() -> str:
    load = os.getloadavg()
    return f"Machine: {platform.machine()}, {MACHINE} (load average {load[0]:.1f} at the end)."


def write_subsection(name: str, body: str) -> None:
    """Replace (or add) `### name` inside `## Policy: online RL`, leaving everything else as it is."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    start = text.find(SECTION + "\n")
    if start < 0:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n"
        start = text.find(SECTION + "\n")
    end = text.find("\n## ", start + len(SECTION))
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
