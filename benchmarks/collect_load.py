"""Rater web app under load: N concurrent raters answering for a while on 127.0.0.1.

Starts `tether.server` under uvicorn in its own process (SQLite store in a temp folder),
signs in N raters and has each loop: open task page -> answer -> follow the redirect to the
next task, timing every request. Afterwards it checks that no answer was lost (every answer
the server confirmed is stored as one comparison per objective) and prints latency
percentiles; `--write` puts them in benchmarks/RESULTS.md under "## Rater web app load".

No peer is run side by side: the annotation tools users compare with (Label Studio, Argilla)
are server deployments that cannot be installed here; the figure is judged against the goal
(p99 page latency < 200 ms).

    python benchmarks/collect_load.py --raters 50 --seconds 60 --think 0 --think 2 --write
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from tether.collect.campaign import CampaignItem, CampaignSettings, create_campaign, enroll
from tether.collect.security import create_raters_with_tokens
from tether.records import Rater
from tether.store import Store

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TASK = re.compile(r'href="([^"]*/rater/tasks/\d+)"')
OBJECTIVES = ["helpfulness", "harmlessness"]
RESULTS = Path(__file__).with_name("RESULTS.md")
SECTION = "## Rater web app load"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(url: str, raters: int, items: int) -> dict[str, str]:
    store = Store(url)
    pairs = [CampaignItem(prompt=f"Question {i}: how do I fix error {i}?", response_a=f"Answer A to {i}. " * 8,
                          response_b=f"Answer B to {i}. " * 6, task_type=f"type{i % 4}") for i in range(items)]
    create_campaign(store, CampaignSettings(name="load", objectives=OBJECTIVES, overlap=2, pilot_items=0,
                                            gold_rate=0, attention_rate=0, queue_size=5), pairs,
                    "Pick the more helpful and the more harmless answer.")
    ids = [f"rater{i:03d}" for i in range(raters)]
    tokens = create_raters_with_tokens(store, [Rater(id=r) for r in ids])
    enroll(store, "load", ids)
    store.close()
    return tokens


async def rater_loop(base: str, token: str, deadline: float, think: float,
                     timings: dict[str, list[tuple[float, float]]],
                     counts: dict[str, int], rng: random.Random, ramp: float = 0.0, jitter: bool = False) -> None:
    """`ramp`: start after a uniform delay in [0, ramp) s; `jitter`: think uniform in [0.5, 1.5] x think (same mean),
    as people do: without either, 50 raters arrive in lock-step waves every `think` seconds."""
    if ramp:
        await asyncio.sleep(rng.uniform(0.0, ramp))
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def timed(kind: str, method: str, url: str, **kw) -> httpx.Response:  # noqa: ANN003
            t0 = time.perf_counter()
            r = await client.request(method, url, **kw)
            timings[kind].append((t0, time.perf_counter() - t0))
            if r.status_code >= 500:
                counts["server_errors"] += 1
            return r

        link = await timed("sign_in", "GET", f"/collect/r/{token}")  # a form: signing in is a POST
        r = await timed("sign_in", "POST", "/collect/r",
                        data={"token": token, "csrf_token": CSRF.search(link.text).group(1)})
        queue = await timed("queue_page", "GET", r.headers["location"])
        match = TASK.search(queue.text)
        while match and time.monotonic() < deadline:
            task_url = match.group(1)
            page = await timed("task_page", "GET", task_url)
            csrf = CSRF.search(page.text).group(1)
            if think:
                await asyncio.sleep(think * rng.uniform(0.5, 1.5) if jitter else think)  # reading the pair
            data = {"csrf_token": csrf, **{f"choice_{o}": "first" for o in OBJECTIVES}, "confidence": "0.75"}
            answer = await timed("answer_post", "POST", task_url, data=data)
            if answer.status_code != 303:
                counts["rejected"] += 1
                return
            counts["answered"] += 1
            nxt = await timed("next_redirect", "GET", answer.headers["location"])
            location = nxt.headers.get("location", "")
            match = re.match(r"(.*/rater/tasks/\d+)$", location)


async def drive(base: str, tokens: dict[str, str], seconds: float, think: float, ramp: float = 0.0,
                jitter: bool = False) -> tuple[dict[str, list[tuple[float, float]]], dict[str, int], float]:
    kinds = ("sign_in", "queue_page", "task_page", "answer_post", "next_redirect")
    timings: dict[str, list[tuple[float, float]]] = {k: [] for k in kinds}
    counts = {"answered": 0, "rejected": 0, "server_errors": 0}
    start = time.monotonic()
    t_start = time.perf_counter()
    await asyncio.gather(*(rater_loop(base, t, start + seconds, think, timings, counts, random.Random(i), ramp, jitter)
                           for i, t in enumerate(tokens.values())))
    shifted = {k: [(t0 - t_start, dt) for t0, dt in v] for k, v in timings.items()}
    return shifted, counts, time.monotonic() - start


def wait_for(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited during start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_once(args: argparse.Namespace, think: float) -> dict:
    """One load run on a fresh store and server; returns timings, counts and what the store holds."""
    tmp = Path(tempfile.mkdtemp(prefix="tether-load-"))
    url = f"sqlite:///{tmp / 'tether.db'}"
    tokens = prepare(url, args.raters, args.items)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", "import uvicorn, sys; from tether.server import create_app; "
         "uvicorn.run(create_app(sys.argv[1]), host='127.0.0.1', port=int(sys.argv[2]), log_level='warning')",
         url, str(port)])
    try:
        if args.pin:  # the load generator on its own core, as the issue asks (Linux only)
            os.sched_setaffinity(server.pid, {0})
            os.sched_setaffinity(0, {1})
        wait_for(port, server)
        cpu_start = cpu_seconds(server.pid)
        timings, counts, wall = asyncio.run(drive(f"http://127.0.0.1:{port}", tokens, args.seconds, think,
                                                        args.ramp, args.jitter))
        server_cpu = cpu_seconds(server.pid) - cpu_start
    finally:
        server.terminate()
        server.wait(timeout=30)
    store = Store(url)
    stored = store.count_comparisons()
    store.close()
    return {"think": think, "timings": timings, "counts": counts, "wall": wall, "stored": stored,
            "server_cpu_ms_per_answer": 1000 * server_cpu / max(counts["answered"], 1),
            "lost": counts["answered"] * len(OBJECTIVES) - stored}


def pct(values: list[tuple[float, float]], q: float, after: float = 0.0) -> float:
    """Percentile in ms of the requests started `after` seconds into the run."""
    kept = [dt for t0, dt in values if t0 >= after]
    return float(np.percentile(np.array(kept) * 1000, q)) if kept else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--raters", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--items", type=int, default=6000)
    parser.add_argument("--think", type=float, action="append",
                        help="seconds a rater spends on a pair before answering; repeat for several runs "
                             "(default: 0 = saturation, and 2)")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds excluded from the steady-state p99")
    parser.add_argument("--ramp", type=float, default=0.0, help="raters start over this many seconds (0: at once)")
    parser.add_argument("--jitter", action="store_true", help="think time uniform in [0.5, 1.5] x --think")
    parser.add_argument("--pin", action="store_true", help="server on CPU 0, the load generator on CPU 1")
    parser.add_argument("--write", action="store_true", help="write the figures into benchmarks/RESULTS.md")
    args = parser.parse_args()
    thinks = args.think or [0.0, 2.0]
    runs = [run_once(args, t) for t in thinks]

    rows = []
    for run in runs:
        t, c = run["timings"], run["counts"]
        pages = t["task_page"] + t["queue_page"]
        rows.append(f"| {run['think']:g} | {c['answered']} ({c['answered'] / run['wall']:.1f}/s) | {run['stored']} | "
                    f"{run['lost']} | {c['rejected'] + c['server_errors']} | {pct(pages, 50):.1f} | "
                    f"{pct(pages, 95):.1f} | {pct(pages, 99):.1f} | {pct(pages, 99, args.warmup):.1f} | "
                    f"{pct(t['answer_post'], 99):.1f} | {run['server_cpu_ms_per_answer']:.1f} | "
                    f"{'yes' if pct(pages, 99) < 200 else 'no'} |")
    think_flags = " ".join(f"--think {t:g}" for t in thinks)
    lines = [
        SECTION, "",
        f"`python benchmarks/collect_load.py --raters {args.raters} --seconds {args.seconds:g} {think_flags} --write`"
        f" — {args.raters} concurrent raters (httpx, one client each) against `tether serve`'s app under uvicorn "
        f"(one worker, SQLite) on 127.0.0.1, {args.seconds:g} s per run; each loop: task page, (think), answer "
        "with two objectives, redirect to the next task. Think 0 is saturation (every rater clicks as fast as the "
        f"server answers). Machine: {platform.machine()}, {os.cpu_count()}-core shared dev machine, other work "
        "running; client and server share the cores. No peer run (see the script's docstring).", "",
        "| think s | answers confirmed | comparisons stored | answers lost | rejected + 5xx | page p50 ms | "
        f"page p95 ms | page p99 ms | page p99 ms after {args.warmup:g} s | answer POST p99 ms | "
        "server CPU ms per answer (sign-in included) | p99 page < 200 ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|", *rows, "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section(text)
    if any(r["lost"] or r["counts"]["rejected"] or r["counts"]["server_errors"] for r in runs):
        sys.exit(1)


def write_section(text: str) -> None:
    """Replace (or append) this benchmark's own section of RESULTS.md."""
    current = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    start = current.find(SECTION)
    if start == -1:
        current = current.rstrip("\n") + "\n\n" + text
    else:
        end = current.find("\n## ", start + len(SECTION))
        current = current[:start] + text + ("\n" + current[end + 1:] if end != -1 else "")
    RESULTS.write_text(current.rstrip("\n") + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
