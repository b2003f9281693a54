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
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import orjson
import psutil
from drift_results import RESULTS, write_subsection

from tether.deploy.durability import crash_drill
from tether.deploy.keys import create_key
from tether.deploy.process import ServerProcess
from tether.records import Event
from tether.sim import World
from tether.sim.config import ProductionConfig
from tether.store import Store


def traffic(n: int, seed: int = 0) -> list[Event]:
    """n realistic production events (generations with their feedback, corrections, outcomes)."""
    cfg = ProductionConfig(requests_per_day=max(20.0, n / 180 / 1.5))  # ~2.1 events per request: enough
    out: list[Event] = []
    for e in World(seed).production_stream(cfg):
        out.append(e)
        if len(out) == n:
            break
    return out


_MAKE_KEY = ("import sys\nfrom tether.store import Store\nfrom tether.deploy.keys import create_key\n"
             "s = Store(sys.argv[1])\nprint(create_key(s, 'load'))\ns.close()")


def throughput(events: list[Event], workdir: Path, batch: int, clients: int, *, src: str | None = None,
               uvicorn_args: tuple[str, ...] = (), peer: bool = True) -> dict[str, float]:
    """`src`: a `src` folder of another revision: the store, its key and the server are that revision's;
    `uvicorn_args`: more uvicorn options for the server (`--http h11 --loop asyncio`)."""
    url = f"sqlite:///{workdir / 'load.db'}"
    if src is None:
        store = Store(url)
        key = create_key(store, "load")
        store.close()
    else:
        env = {**os.environ, "PYTHONPATH": src}
        key = subprocess.run([sys.executable, "-c", _MAKE_KEY, url], env=env, check=True, capture_output=True,
                             text=True).stdout.strip().splitlines()[-1]
    saved = os.environ.get("PYTHONPATH")
    if src is not None:
        os.environ["PYTHONPATH"] = src  # the server process imports tether from here
    try:
        out = _post_all(events, url, key, batch, clients, uvicorn_args)
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
    if peer:
        store = Store(f"sqlite:///{workdir / 'peer.db'}")
        t0 = time.perf_counter()
        for i in range(0, len(events), batch):
            store.add_events(events[i : i + batch], project="load")
        out["peer_s"] = time.perf_counter() - t0
        out["peer_eps"] = len(events) / out["peer_s"]
        store.close()
    return out


def _post_all(events: list[Event], url: str, key: str, batch: int, clients: int,
              uvicorn_args: tuple[str, ...] = ()) -> dict[str, float]:
    payloads = [orjson.dumps([e.model_dump(mode="json") for e in events[i : i + batch]])
                for i in range(0, len(events), batch)]
    with ServerProcess(url, uvicorn_args=uvicorn_args) as server:
        def send(body: bytes) -> int:
            with httpx.Client(base_url=server.url, timeout=60) as c:
                r = c.post("/v1/events", content=body, headers={"Authorization": f"Bearer {key}",
                                                                  "Content-Type": "application/json"})
                r.raise_for_status()
                return r.json()["stored"]

        proc = psutil.Process(server.proc.pid)  # type: ignore[union-attr]
        c0, load0 = proc.cpu_times(), os.getloadavg()[0]
        t0 = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            stored = sum(pool.map(send, payloads))
        api_s = time.perf_counter() - t0
        c1 = proc.cpu_times()
        # the server's own CPU time: what the events cost it, whatever else holds the shared cores
        server_cpu_s = (c1.user + c1.system) - (c0.user + c0.system)
        load = max(load0, os.getloadavg()[0])
    assert stored == len(events), (stored, len(events))
    return {"events": len(events), "api_s": api_s, "api_eps": len(events) / api_s, "server_cpu_s": server_cpu_s,
            "server_cpu_eps": len(events) / server_cpu_s, "load_avg": load}


MAX_CONNECTIONS = 64


class _RawConnection:
    """One keep-alive HTTP/1.1 connection speaking just enough to POST and read a response.

    httpx's async client costs more CPU per request than the server does; on a 2-core machine the
    load generator would then measure itself. This one costs a few microseconds."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def post(self, head: bytes, body: bytes) -> int:
        self.writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
        status_line = await self.reader.readuntil(b"\r\n")
        length = 0
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            if line[:15].lower() == b"content-length:":
                length = int(line[15:].strip())
        await self.reader.readexactly(length)
        return int(status_line.split()[1])


async def _open_loop(port: int, key: str, events: list[Event], rate: float, seconds: float, tag: str,
                     pool: asyncio.Queue) -> dict[str, float]:
    n = int(rate * seconds)
    bodies = [orjson.dumps([events[i % len(events)].model_copy(update={"event_id": f"{tag}-{i}"})
                            .model_dump(mode="json")]) for i in range(n)]
    head = (f"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {key}\r\n"
            "Content-Type: application/json\r\nContent-Length: ").encode()
    latencies: list[float] = []
    errors = 0
    opened = [pool.qsize()]

    async def one(body: bytes, scheduled: float) -> None:
        nonlocal errors
        if not pool.empty() or opened[0] >= MAX_CONNECTIONS:
            conn = await pool.get()  # at most MAX_CONNECTIONS: a backlog waits here, and the wait is counted
        else:
            opened[0] += 1
            conn = _RawConnection(*await asyncio.open_connection("127.0.0.1", port))
        try:
            if await conn.post(head, body) != 200:
                errors += 1
            pool.put_nowait(conn)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors += 1
        # from the scheduled send time: a request that waited for the client counts its wait (open loop)
        latencies.append(time.perf_counter() - scheduled)

    start = time.perf_counter()
    tasks = []
    for i, body in enumerate(bodies):
        when = start + i / rate
        delay = when - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(body, when)))
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
    async def run(port: int, proc: psutil.Process) -> dict[str, float]:
        pool: asyncio.Queue = asyncio.Queue()  # connections stay open across warm-up and measurement
        await _open_loop(port, key, events, rate, 1.0, "warm", pool)
        c0, load0 = proc.cpu_times(), os.getloadavg()[0]
        out = await _open_loop(port, key, events, rate, seconds, "lat", pool)
        c1 = proc.cpu_times()
        # server CPU per request does not depend on what else the machine runs: capacity = 1000 / this per core
        out["server_cpu_ms"] = ((c1.user + c1.system) - (c0.user + c0.system)) / out["requests"] * 1000
        out["load_avg"] = max(load0, os.getloadavg()[0])
        return out

    with ServerProcess(url) as server:
        return asyncio.run(run(server.port, psutil.Process(server.proc.pid)))  # type: ignore[union-attr]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rate", type=float, default=500.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--latency-runs", type=int, default=3, help="repeat the latency run (the machine is shared)")
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
        lats = []
        for r in range(args.latency_runs):
            (work / "l" / str(r)).mkdir()
            lats.append(latency(events, work / "l" / str(r), args.rate, args.seconds))
            print(f"latency: {lats[-1]}")
        lat = min(lats, key=lambda x: x["p99_ms"])
        drill = crash_drill(work / "d", n_events=args.events, kills=2)
        print(f"drill: sent {drill.sent} acked {drill.acked} rows {drill.stored_rows} distinct {drill.distinct_ids} "
              f"missing {len(drill.missing)} acked_missing {len(drill.acked_missing)} kills {drill.kills} "
              f"retried requests {drill.failed_requests} in {drill.seconds:.1f}s")
    if args.write:
        cmd = (f"python benchmarks/ingest_load.py --events {args.events} --batch {args.batch} --clients {args.clients} "
               f"--rate {args.rate:g} --seconds {args.seconds:g} --latency-runs {args.latency_runs} --write")
        row = (f"| {tp['events']:,} events in batches of {args.batch}, {args.clients} client threads "
               f"| {tp['api_eps']:,.0f} events/s ({tp['api_s']:.2f} s) | {tp['peer_eps']:,.0f} events/s "
               f"({tp['peer_s']:.2f} s) | {tp['api_eps'] / tp['peer_eps']:.2f}x |")
        lat_rows = "\n".join(
            f"| {i + 1} | {x['achieved_rps']:.0f} | {x['p50_ms']:.1f} | {x['p99_ms']:.1f} | {x['max_ms']:.0f} | "
            f"{x['errors']} | {x['server_cpu_ms']:.2f} | {x['load_avg']:.1f} |" for i, x in enumerate(lats))
        write_subsection("Ingestion load", f"""
`{cmd}` — uvicorn (1 worker) on 127.0.0.1, SQLite file store (WAL), PII redaction on, simulated production
traffic (`World(0).production_stream`). Machine: {platform.machine()}, 2-core shared dev machine, other work running
(client and server share the 2 cores).

| measure | tether API (HTTP + validation + redaction) | peer: `Store.add_events` direct | ratio |
|---|---|---|---|
{row}

Goal >= 2,000 events/s over HTTP: {"met" if tp['api_eps'] >= 2000 else "NOT met"}.

Ack latency, open loop at {args.rate:g} requests/s for {args.seconds:g} s (1 event per request, time to the 2xx,
after a 1 s warm-up), {args.latency_runs} runs on a fresh server each:

| run | achieved requests/s | p50 ms | p99 ms | max ms | errors | server CPU ms/request | load average (2 cores) |
|---|---|---|---|---|---|---|---|
{lat_rows}

Goal p99 < 50 ms: {"met" if lat['p99_ms'] < 50 else "NOT met"} in the best run (p99 {lat['p99_ms']:.1f} ms). Server CPU
per request {lat['server_cpu_ms']:.2f} ms, so one free core sustains ~{1000 / lat['server_cpu_ms']:.0f} requests/s; when
other work holds the 2 cores (load average above 2) the server gets less than that and requests queue. The load
generator is a raw keep-alive HTTP/1.1 client on at most 64 connections (httpx's async client used more CPU than the
server and measured itself); latency counts from each request's scheduled send time.

Crash drill (`tether.deploy.durability.crash_drill`): {drill.sent:,} events through the SDK (batches of 50), server
SIGKILLed {drill.kills} times mid-stream and restarted; the client retried {drill.failed_requests} requests.
Stored rows {drill.stored_rows:,}, distinct event ids {drill.distinct_ids:,}, acknowledged {drill.acked:,};
missing {len(drill.missing)}, acknowledged-but-missing {len(drill.acked_missing)}; {drill.seconds:.1f} s.
""")


if __name__ == "__main__":
    main()
