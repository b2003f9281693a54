"""Shared helpers of the policy benchmarks: the `## Policy: DPO` section of RESULTS.md (each benchmark owns one
`###` subsection in it; nothing outside the section is touched)."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).parent / "RESULTS.md"
SECTION = "## Policy: DPO"


def write_subsection(name: str, body: str) -> None:
    """Replace (or add) `### name` inside `## Policy: DPO` (the section is appended at the end if missing)."""
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
