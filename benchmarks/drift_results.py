"""Shared by the production-side benchmarks: write one `### ...` block inside `## Production side` of RESULTS.md."""

from __future__ import annotations

import re
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")
SECTION = "## Production side"


def write_subsection(title: str, body: str) -> None:
    """Replace (or append) the `### title` block of the production-side section; other sections untouched."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    if SECTION not in text:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n"
    head, _, rest = text.partition(SECTION)
    nxt = re.search(r"^## ", rest, flags=re.M)
    section, tail = (rest[: nxt.start()], rest[nxt.start() :]) if nxt else (rest, "")
    sub = f"### {title}"
    block = f"{sub}\n\n{body.strip()}\n\n"
    pattern = re.compile(r"^" + re.escape(sub) + r"\n.*?(?=^### |\Z)", flags=re.S | re.M)
    if pattern.search(section):
        section = pattern.sub(lambda _m: block, section)
    else:
        section = section.rstrip("\n") + "\n\n" + block
    RESULTS.write_text(head + SECTION + section.rstrip("\n") + "\n" + ("\n" + tail if tail else ""), encoding="utf-8")
