"""Schemathesis against the real server: every operation of `/openapi.json`, no response may be a 5xx.

A fresh project (`tether init`, `tether keys create`) served by `tether serve` on 127.0.0.1; schemathesis loads
the served `/openapi.json` and, for each operation, sends CASES generated cases, half that fit the schema
(positive) and half that break it (negative), with the project's key, and without a key for a tenth of them (the
401 path). Each operation has its share of BUDGET seconds; past it no more of its cases are sent (they are
counted as not sent). Responses are counted by
status class; every 5xx is printed with the case that made it (as a curl command). Exit 1 on any 5xx.

    python benchmarks/schemathesis_run.py --cases 500 --budget 300 --write
"""

from __future__ import annotations

import argparse
import platform
import resource
import tempfile
import time
from collections import Counter
from pathlib import Path

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from served_project import Served, new_project

RESULTS = Path(__file__).with_name("RESULTS.md")
BEGIN, END = "<!-- schemathesis_run.py: begin -->", "<!-- schemathesis_run.py: end -->"


def fuzz(op, mode: GenerationMode, n: int, deadline: float, url: str, session: requests.Session,  # noqa: ANN001
         auth: dict[str, str], tally: Counter[str], failures: list[str]) -> None:
    """Send n generated cases of one operation and mode; count the responses by status class."""

    @settings(max_examples=n, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=op.as_strategy(generation_mode=mode), keyless=st.integers(0, 9))
    def send(case, keyless: int) -> None:  # noqa: ANN001
        if time.monotonic() > deadline:
            raise _OutOfTime  # stops generating too: the next operation gets its share of the budget
        headers = {} if keyless == 0 else auth
        try:
            r = case.call(base_url=url, session=session, headers=headers, timeout=30)
        except requests.RequestException as exc:  # a dropped connection is a server failure too
            tally["connection error"] += 1
            failures.append(f"{op.label}: {type(exc).__name__}: {exc}")
            return
        tally[f"{r.status_code // 100}xx"] += 1
        tally["sent"] += 1
        if r.status_code >= 500:
            failures.append(f"{op.label} -> {r.status_code}: {r.text[:300]}\n  {case.as_curl_command()}")

    before = tally["sent"] + tally["connection error"]
    try:
        send()
    except _OutOfTime:
        tally["not sent (time budget)"] += n - (tally["sent"] + tally["connection error"] - before)


class _OutOfTime(Exception):
    """The operation's share of the time budget is spent."""


def run(url: str, key: str, cases: int, budget: float) -> tuple[dict, list[str]]:
    schema = schemathesis.openapi.from_url(url + "/openapi.json")
    counts: dict[tuple[str, str], Counter[str]] = {}
    failures: list[str] = []
    session = requests.Session()
    auth = {"Authorization": f"Bearer {key}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    start = time.monotonic()
    for k, op in enumerate(operations):
        # each operation its share of the budget, so a slow one cannot starve the others
        deadline = start + budget * (k + 1) / len(operations)
        for mode, n in ((GenerationMode.POSITIVE, (cases + 1) // 2), (GenerationMode.NEGATIVE, cases // 2)):
            tally = counts.setdefault((op.label, mode.value), Counter())
            fuzz(op, mode, n, deadline, url, session, auth, tally, failures)
    return counts, failures


def table(counts: dict) -> str:
    classes = ["2xx", "4xx", "5xx", "connection error", "not sent (time budget)"]
    lines = ["| operation | cases that | sent | " + " | ".join(classes) + " |", "|---|---|---|" + "---|" * len(classes)]
    for (label, mode), c in counts.items():
        says = "fit the schema" if mode == "positive" else "break it"
        lines.append(f"| `{label}` | {says} | {c['sent']} | " + " | ".join(str(c[k]) for k in classes) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=500, help="generated cases per operation (half fit the schema)")
    ap.add_argument("--budget", type=float, default=300.0, help="seconds after which no more cases are sent")
    ap.add_argument("--write", action="store_true", help=f"record in {RESULTS.name}")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "proj"
        key = new_project(project)
        t0, c0 = time.monotonic(), resource.getrusage(resource.RUSAGE_SELF).ru_utime
        with Served(project, Path(tmp) / "serve.log") as server:
            counts, failures = run(server.url, key, args.cases, args.budget)
        wall, cpu = time.monotonic() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_utime - c0
        log = (Path(tmp) / "serve.log").read_text(errors="replace")
    tracebacks = log.count("Traceback (most recent call last)")
    body = table(counts)
    total = Counter()
    for c in counts.values():
        total.update(c)
    print(body)
    print(f"{total['sent']} sent in {wall:.0f} s (client CPU {cpu:.0f} s); 5xx {total['5xx']}, connection errors "
          f"{total['connection error']}, tracebacks in the server log {tracebacks}")
    for f in failures[:20]:
        print(f)
    if args.write:
        text = RESULTS.read_text(encoding="utf-8")
        block = (f"{BEGIN}\n`python benchmarks/schemathesis_run.py --cases {args.cases} --budget {args.budget:.0f} "
                 f"--write` (schemathesis {schemathesis.__version__ if hasattr(schemathesis, '__version__') else ''},"
                 f" Python {platform.python_version()}, 2-core shared machine): `tether serve` on 127.0.0.1 over a "
                 f"fresh project's SQLite store, its `/openapi.json` loaded by schemathesis; per operation "
                 f"{args.cases} generated cases, half that fit the schema and half that break it, a tenth of "
                 f"them sent without the key; each operation an equal share of the time budget. Responses by "
                 f"status class:\n\n{body}\n\n"
                 f"{total['sent']} requests in {wall:.0f} s: {total['5xx']} responses >= 500, "
                 f"{total['connection error']} dropped connections, {tracebacks} tracebacks in the server log.\n"
                 f"{END}")
        if BEGIN in text:
            text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END):]
        else:
            anchor = "### Reading\n\n- **The issue's input**"
            text = text.replace(anchor, "### Schemathesis against the served API\n\n" + block + "\n\n" + anchor, 1)
        RESULTS.write_text(text, encoding="utf-8")
    raise SystemExit(1 if failures else 0)


if __name__ == "__main__":
    main()
