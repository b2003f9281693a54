"""Ingestion API under load, over HTTP on 127.0.0.1, with PII redaction on; plus the 20k-event crash drill.

1. Throughput: simulated production traffic (`World(seed).production_stream`) POSTed in batches by
   concurrent clients to `uvicorn tether.deploy.api` (SQLite file store); events/s acknowledged.
   Side by side, the peer: the same events written by `Store.add_events` directly (no HTTP, no
   redaction) — the ratio is what the API, validation and redaction cost.
2. Ack latency at a fixed request rate (open loop: requests are sent on schedule whether or not
   earlier ones finished), 1 event per request; p50/p99 of the time to the 2xx.
3. Crash drill: 20,000 events through the SDK while the server is SIGKILLed twice and restarted.

    python benchmarks/ingest_load.py --events 20000 --rate 500 --seconds 10 --write
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import re
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import orjson

from tether.deploy.durability import crash_drill
from tether.deploy.keys import create_key
from tether.deploy.process import ServerProcess
from tether.records import Event
from tether.sim import World
from tether.sim.config import ProductionConfig
from tether.store import Store

RESULTS = Path(__file__).with_name("RESULTS.md")
SECTION = "## Production side"
SUBSECTION = "### Ingestion load"


def traffic(n: int, seed: int = 0) -> list[Event]:
    """n realistic production events (generations with their feedback, corrections, outcomes)."""
    cfg = ProductionConfig(requests_per_day=max(20.0, n / 180 / 2.2))
    out: list[Event] = []
    for e in World(seed).production_stream(cfg):
        out.append(e)
        if len(out) == n:
            break
    return out


def throughput(events: list[Event], workdir: Path, batch: int, clients: int) -> dict[str, float]:
    url = f"sqlite:///{workdir / 'load.db'}"
    store = Store(url)
    key = create_key(store, "load")
    payloads = [orjson.dumps([e.model_dump(mode="json") for e in events[i : i + batch]])
                for i in range(0, len(events), batch)]
    with ServerProcess(url) as server:
        def send(body: bytes) -> int:
            with httpx.Client(base_url=server.url, timeout=60) as c:
                r = c.post("/v1/events", content=body, headers={"Authorization": f"Bearer {key}",
                                                                  "Content-Type": "application/json"})
                r.raise_for_status()
                return r.json()["stored"]

        t0 = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            stored = sum(pool.map(send, payloads))
        api_s = time.perf_counter() - t0
    store.close()
    assert stored == len(events), (stored, len(events))
    peer = Store(f"sqlite:///{workdir / 'peer.db'}")
    t0 = time.perf_counter()
    for i in range(0, len(events), batch):
        peer.add_events(events[i : i + batch], project="load")
    peer_s = time.perf_counter() - t0
    peer.close()
    return {"events": len(events), "api_s": api_s, "api_eps": len(events) / api_s, "peer_s": peer_s,
            "peer_eps": len(events) / peer_s}


async def _open_loop(c: httpx.AsyncClient, events: list[Event], rate: float, seconds: float,
                     tag: str) -> dict[str, float]:
    n = int(rate * seconds)
    bodies = [orjson.dumps([events[i % len(events)].model_copy(update={"event_id": f"{tag}-{i}"})
                            .model_dump(mode="json")]) for i in range(n)]
    latencies: list[float] = []
    errors = 0

    async def one(body: bytes) -> None:
        nonlocal errors
        t = time.perf_counter()
        try:
            r = await c.post("/v1/events", content=body)
            if r.status_code != 200:
                errors += 1
        except httpx.HTTPError:
            errors += 1
        latencies.append(time.perf_counter() - t)

    start = time.perf_counter()
    tasks = []
    for i, body in enumerate(bodies):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(body)))
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - start
    lat = np.array(latencies) * 1000
    return {"requests": n, "achieved_rps": n / wall, "p50_ms": float(np.percentile(lat, 50)),
            "p99_ms": float(np.percentile(lat, 99)), "max_ms": float(lat.max()), "errors": errors}


def latency(events: list[Event], workdir: Path, rate: float, seconds: float) -> dict[str, float]:
    url = f"sqlite:///{workdir / 'lat.db'}"
    store = Store(url)
    key = create_key(store, "lat")
    store.close()
    async def run(base: str) -> dict[str, float]:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits, headers=headers) as c:
            await _open_loop(c, events, rate, 1.0, "warm")
            return await _open_loop(c, events, rate, seconds, "lat")

    with ServerProcess(url) as server:
        return asyncio.run(run(server.url))


def write_subsection(body: str) -> None:
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    if SECTION not in text:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n"
    head, _, rest = text.partition(SECTION)
    nxt = re.search(r"^## ", rest[1:], flags=re.M)
    section, tail = (rest[: nxt.start() + 1], rest[nxt.start() + 1 :]) if nxt else (rest, "")
    block = f"{SUBSECTION}\n\n{body.strip()}\n\n"
    pattern = re.compile(re.escape(SUBSECTION) + r"\n.*?(?=^### |\Z)", flags=re.S | re.M)
    section = pattern.sub(lambda _m: block, section) if SUBSECTION in section else section.rstrip("\n") + "\n\n" + block
    RESULTS.write_text(head + SECTION + section.rstrip("\n") + "\n" + ("\n" + tail if tail else ""), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rate", type=float, default=500.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--write", action="store_true", help=f"write figures to {RESULTS.name}")
    args = ap.parse_args()
    events = traffic(args.events)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "t").mkdir()
        (work / "l").mkdir()
        (work / "d").mkdir()
        tp = throughput(events, work / "t", args.batch, args.clients)
        print(f"throughput: {tp}")
        lat = latency(events, work / "l", args.rate, args.seconds)
        print(f"latency: {lat}")
        drill = crash_drill(work / "d", n_events=args.events, kills=2)
        print(f"drill: sent {drill.sent} acked {drill.acked} rows {drill.stored_rows} distinct {drill.distinct_ids} "
              f"missing {len(drill.missing)} acked_missing {len(drill.acked_missing)} kills {drill.kills} "
              f"retried requests {drill.failed_requests} in {drill.seconds:.1f}s")
    if args.write:
        cmd = (f"python benchmarks/ingest_load.py --events {args.events} --batch {args.batch} --clients {args.clients} "
               f"--rate {args.rate:g} --seconds {args.seconds:g} --write")
        row = (f"| {tp['events']:,} events in batches of {args.batch}, {args.clients} client threads "
               f"| {tp['api_eps']:,.0f} events/s ({tp['api_s']:.2f} s) | {tp['peer_eps']:,.0f} events/s "
               f"({tp['peer_s']:.2f} s) | {tp['api_eps'] / tp['peer_eps']:.2f}x |")
        write_subsection(f"""
`{cmd}` — uvicorn (1 worker) on 127.0.0.1, SQLite file store (WAL), PII redaction on, simulated production
traffic (`World(0).production_stream`). Machine: {platform.machine()}, 2-core shared dev machine, other work running
(client and server share the 2 cores).

| measure | tether API (HTTP + validation + redaction) | peer: `Store.add_events` direct | ratio |
|---|---|---|---|
{row}

Goal >= 2,000 events/s over HTTP: {"met" if tp['api_eps'] >= 2000 else "NOT met"}.

Ack latency, open loop at {args.rate:g} requests/s for {args.seconds:g} s (1 event per request, time to the 2xx,
after a 1 s warm-up): achieved {lat['achieved_rps']:.0f} requests/s, p50 {lat['p50_ms']:.1f} ms,
p99 {lat['p99_ms']:.1f} ms, max {lat['max_ms']:.1f} ms, {lat['errors']} errors.
Goal p99 < 50 ms: {"met" if lat['p99_ms'] < 50 else "NOT met"}.

Crash drill (`tether.deploy.durability.crash_drill`): {drill.sent:,} events through the SDK (batches of 50), server
SIGKILLed {drill.kills} times mid-stream and restarted; the client retried {drill.failed_requests} requests.
Stored rows {drill.stored_rows:,}, distinct event ids {drill.distinct_ids:,}, acknowledged {drill.acked:,};
missing {len(drill.missing)}, acknowledged-but-missing {len(drill.acked_missing)}; {drill.seconds:.1f} s.
""")


if __name__ == "__main__":
    main()
