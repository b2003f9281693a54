"""Issue 16's re-checks on the current code: ingestion throughput with redaction, and SIGKILL drills of the server
and of the client (write-ahead log on): 0 lost, 0 duplicated.

1. Throughput: `ingest_load.throughput` (uvicorn, SQLite, simulated production traffic, PII redaction on, batches
   of 500, 4 client threads), ROUNDS times on a fresh server each, the server of BASELINE (before the hardening)
   and the current one, each on uvicorn's pure-Python stack and, where installed, its C stack (httptools, uvloop),
   interleaved: events/s acknowledged (wall), and events per CPU-second of the server process
   (psutil), which depends much less on what else holds the shared cores.
2. Server drill: `tether.deploy.durability.crash_drill` (the SDK sends EVENTS events, the server is SIGKILLed
   twice mid-stream and restarted).
3. Client drill: KILLS client processes in turn, each logging EVENTS / KILLS events with `write_ahead=True` and
   SIGKILLed right after its last `log_*` returned (most of its events still queued or in flight); then one
   client on the same spool folder recovers the write-ahead segments and replays them. Every logged event must
   be stored exactly once.

    python benchmarks/hardening_recheck.py --events 20000 --rounds 3 --kills 4 --write
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from drift_results import write_subsection
from ingest_load import throughput, traffic

from tether.deploy.client import Client
from tether.deploy.durability import crash_drill
from tether.deploy.keys import create_key
from tether.deploy.process import ServerProcess
from tether.store import Store, deploy_repo

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "1795f74"  # main before issue 16's hardening (the redactor baseline of pii_redaction.py)
# uvicorn's pure-Python HTTP parser and event loop (what the `serve` extra installs), and its C ones (httptools, uvloop:
# `uvicorn[standard]`) where installed
STACKS = {"Python": ("--http", "h11", "--loop", "asyncio")}
if importlib.util.find_spec("httptools") and importlib.util.find_spec("uvloop"):
    STACKS["C"] = ("--http", "httptools", "--loop", "uvloop")

_CHILD = """
import sys, time
from tether.deploy.client import Client
url, key, spool, lo, hi = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
acked = []
c = Client(url, key, batch_size=50, flush_interval=0.05, spool_dir=spool, write_ahead=True, on_ack=acked.extend)
half = (lo + hi) // 2
for i in range(lo, hi):
    c.log_generation(f"q{i} from ops{i}@example.com", "a", "m1", trace_id=f"t{i}", event_id=f"e{i:07d}")
    if i == half:
        while len(acked) < 50:  # the stream is under way: some acked, more queued
            time.sleep(0.005)
print("logged", flush=True)
time.sleep(600)
"""


def client_drill(work: Path, n: int, kills: int) -> dict[str, float]:
    url = f"sqlite:///{work / 'client-drill.db'}"
    store = Store(url)
    key = create_key(store, "drill")
    spool = work / "spool"
    t0 = time.perf_counter()
    recovered = 0
    with ServerProcess(url) as server:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        for k in range(kills):
            lo, hi = n * k // kills, n * (k + 1) // kills
            child = subprocess.Popen([sys.executable, "-c", _CHILD, server.url, key, str(spool), str(lo), str(hi)],
                                     stdout=subprocess.PIPE, env=env)
            try:
                if child.stdout.readline().strip() != b"logged":  # type: ignore[union-attr]
                    raise RuntimeError("the client child died before logging its events")
            finally:
                child.send_signal(signal.SIGKILL)
                child.wait()
        segments = len(list(spool.glob("wal-*.jsonl")))
        with Client(server.url, key, flush_interval=0.05, spool_dir=spool) as after:
            recovered = after.recovered
            after.replay()
    rows, distinct, ids = deploy_repo.event_id_counts(store, "drill")
    store.close()
    logged = {f"e{i:07d}" for i in range(n)}
    return {"logged": n, "kills": kills, "wal_segments_left": segments, "recovered": recovered, "rows": rows,
            "distinct": distinct, "lost": len(logged - ids), "duplicated": rows - distinct,
            "seconds": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--kills", type=int, default=4)
    ap.add_argument("--baseline", default=BASELINE, help="git revision whose server is measured beside this one")
    ap.add_argument("--write", action="store_true", help="record in benchmarks/RESULTS.md")
    args = ap.parse_args()
    events = traffic(args.events)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        old_src = work / "before"
        old_src.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline, "src"], check=True,
                                 capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(old_src)], input=archive.stdout, check=True)
        rounds: list[dict] = []
        for r in range(args.rounds):
            for (name, src), (stack, uv_args) in itertools.product(
                    (("before", str(old_src / "src")), ("now", None)), STACKS.items()):
                (work / f"{name}-{stack}{r}").mkdir()
                rounds.append({"server": name, "stack": stack, **throughput(
                    events, work / f"{name}-{stack}{r}", 500, 4, src=src, uvicorn_args=uv_args, peer=False)})
                print(f"throughput {r}: {rounds[-1]}", flush=True)
        (work / "d").mkdir()
        drill = crash_drill(work / "d", n_events=args.events, kills=2)
        print(f"server drill: {drill}"[:400], flush=True)
        (work / "c").mkdir()
        cd = client_drill(work / "c", args.events, args.kills)
        print(f"client drill: {cd}", flush=True)
    if not args.write:
        return
    rows = "\n".join(f"| {r // (2 * len(STACKS)) + 1} | {args.baseline if x['server'] == 'before' else 'now'} | "
                     f"{x['stack']} | {x['api_eps']:,.0f} | {x['api_s']:.2f} | {x['server_cpu_s']:.2f} | "
                     f"{1e6 / x['server_cpu_eps']:.0f} | {x['load_avg']:.1f} |" for r, x in enumerate(rounds))

    def med(server: str, stack: str, key: str) -> float:
        return statistics.median(x[key] for x in rounds if x["server"] == server and x["stack"] == stack)

    medians = "\n".join(
        f"| {args.baseline if server == 'before' else 'now'} | {stack} | {med(server, stack, 'api_eps'):,.0f} | "
        f"{1e6 / med(server, stack, 'server_cpu_eps'):.0f} |"
        for server, stack in itertools.product(("before", "now"), STACKS))
    med_wall, old_wall = med("now", "Python", "api_eps"), med("before", "Python", "api_eps")
    med_cpu, old_cpu = med("now", "Python", "server_cpu_eps"), med("before", "Python", "server_cpu_eps")
    lost = len(drill.missing)
    write_subsection("Issue 16 re-checks: throughput with redaction, SIGKILL drills", f"""
`python benchmarks/hardening_recheck.py --events {args.events} --rounds {args.rounds} --kills {args.kills} --write` —
{platform.machine()}, Python {platform.python_version()}, 2-core machine shared with other work (load average in the
table). Throughput: `ingest_load.throughput` (uvicorn, 1 worker, SQLite WAL, PII redaction and the event rules on,
{args.events:,} simulated production events in batches of 500, 4 client threads), a fresh server each round,
the server of `{args.baseline}` (before the hardening: its source, store and key) and the current one, each on
uvicorn's pure-Python stack (`--http h11 --loop asyncio`, what the `serve` extra installs) and, where installed, on
its C stack (httptools and uvloop, `uvicorn[standard]`), interleaved; server CPU is the server process's own user +
system time (psutil).

| round | server | uvicorn stack | events/s (wall) | wall s | server CPU s | server CPU us / event | load average |
|---|---|---|---|---|---|---|---|
{rows}

Medians:

| server | uvicorn stack | events/s (wall) | server CPU us / event |
|---|---|---:|---:|
{medians}

Both on the pure-Python stack (the default install), now / before:
{med_wall / old_wall:.2f}x wall, {med_cpu / old_cpu:.2f}x per server CPU-second.
Goal: not below the 10,036 events/s measured before the hardening on an idle machine ("Ingestion load"):
{"met" if med_wall >= 10_000 else "NOT met on the wall clock"} ({med_wall:,.0f} events/s wall);
{"the server's CPU cost allows it" if med_cpu >= 10_000 else "the server's CPU cost alone does not allow it"}
({med_cpu:,.0f} events per CPU-second: one free core for the server
{"sustains" if med_cpu >= 10_000 else "caps at"} ~{med_cpu:,.0f} events/s; the client threads need the other core).

Server SIGKILL drill (`crash_drill`): {drill.sent:,} events through the SDK, the server SIGKILLed {drill.kills}
times mid-stream and restarted, {drill.failed_requests} requests retried; stored rows {drill.stored_rows:,},
distinct ids {drill.distinct_ids:,}, acknowledged {drill.acked:,}: lost {lost}, acknowledged-but-missing
{len(drill.acked_missing)}, duplicated {drill.stored_rows - drill.distinct_ids}; {drill.seconds:.1f} s.

Client SIGKILL drill (write-ahead log on): {cd['logged']:,} events logged by {cd['kills']} client processes, each
SIGKILLed right after its last `log_*` returned; {cd['wal_segments_left']} write-ahead segments left on disk, from which
the next client recovered {cd['recovered']:,} unsettled events and replayed them. Stored rows {cd['rows']:,}, distinct
ids {cd['distinct']:,}: lost {cd['lost']}, duplicated {cd['duplicated']}; {cd['seconds']:.1f} s.
""")


if __name__ == "__main__":
    main()
