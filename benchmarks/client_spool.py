"""The SDK's on-disk cost: redact-before-spool vs an encrypted spool, the write-ahead log on vs off, and what the
hardened field rules cost the server per event.

1. Spooling a batch (what the client does when the server is unreachable), events/s, three ways side by side:
   raw JSON lines (the SDK before the hardening: raw PII, 0644), redacted with the server's rules and unkeyed
   placeholders (`tether.deploy.spool.disk_form`, the chosen design), and AES-256-GCM with a 0600 key file
   (`cryptography`, one nonce per batch file, the whole batch sealed); each writes 0600 files and fsyncs once.
2. `log_generation` + `flush` through the SDK with `write_ahead` off and on (events/s), the server replaced by an
   `httpx.MockTransport` answering 200 so that the client is what is measured.
3. Per-event server work: the checks (`event_rules.problems_as_detail`, per 500-event request) plus
   `Redactor.redact_event`, now, vs
   `redact_event` of the redactor before the hardening (`git show BASE:src/tether/deploy/pii.py`).

4. With `--http`: end to end over HTTP (`ingest_load.throughput`: uvicorn, SQLite, batches of 500, 4 client
   threads), the server running the source of BASE (`git archive`) and the current source, interleaved.

Simulated production traffic (`World(0).production_stream`, prompts with PII mixed in). Median of N rounds,
all in one process, the ways interleaved in each round.

    python benchmarks/client_spool.py --events 4000 --rounds 5 --write
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
from drift_results import write_subsection
from ingest_load import traffic

from tether.deploy.client import Client
from tether.deploy.event_rules import problems_as_detail
from tether.deploy.pii import Redactor
from tether.deploy.spool import disk_form, private_dir, write_lines
from tether.records import Event

ROOT = Path(__file__).resolve().parents[1]
BASE = "c0ce3cb"  # main before the field hardening
SECRET = b"benchmark-secret-0123456789abcdef"
PII = ["mail me at anna.meyer@example.org", "card 4111 1111 1111 1111", "call +1 415 555 0132", "ssn 219-09-9999"]


def events_with_pii(n: int) -> list[Event]:
    out = []
    for i, e in enumerate(traffic(n)):
        if e.prompt is not None and i % 3 == 0:
            e = e.model_copy(update={"prompt": f"{e.prompt} ({PII[i % len(PII)]})"})
        out.append(e)
    return out


def spool_raw(folder: Path, payload: list[dict]) -> None:
    with open(folder / "raw.jsonl", "wb") as fh:
        for e in payload:
            fh.write(orjson.dumps(e) + b"\n")
        fh.flush()
        os.fsync(fh.fileno())


def spool_redacted(folder: Path, payload: list[dict]) -> None:
    write_lines(folder / "red.jsonl", map(disk_form, payload), append=False, sync=True)


def encrypted_spooler(folder: Path) -> Callable[[Path, list[dict]], None]:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key_file = folder / "spool.key"
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, AESGCM.generate_key(bit_length=256))
    os.close(fd)
    aead = AESGCM(key_file.read_bytes())

    def spool(folder: Path, payload: list[dict]) -> None:
        nonce = os.urandom(12)
        sealed = aead.encrypt(nonce, b"".join(orjson.dumps(e) + b"\n" for e in payload), None)
        fd = os.open(folder / "enc.bin", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, nonce + sealed)
        os.fsync(fd)
        os.close(fd)

    return spool


def bench_spool(events: list[Event], rounds: int, batch: int = 100) -> dict[str, float]:
    payloads = [[e.model_dump(mode="json") for e in events[i:i + batch]] for i in range(0, len(events), batch)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = private_dir(Path(tmp) / "spool")
        ways = {"raw (before)": spool_raw, "redacted, unkeyed (chosen)": spool_redacted,
                "AES-256-GCM, 0600 key file": encrypted_spooler(folder)}
        times: dict[str, list[float]] = {k: [] for k in ways}
        cpu: dict[str, list[float]] = {k: [] for k in ways}
        for _ in range(rounds):
            for name, fn in ways.items():
                t0, c0 = time.perf_counter(), time.process_time()
                for p in payloads:
                    fn(folder, p)
                times[name].append(time.perf_counter() - t0)
                cpu[name].append(time.process_time() - c0)
    return {k: (len(events) / statistics.median(times[k]), statistics.median(cpu[k]) / len(events) * 1e6)
            for k in ways}


def bench_wal(events: list[Event], rounds: int) -> dict[str, dict[str, float]]:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"stored": 0}))
    out: dict[str, dict[str, list[float]]] = {m: {"log": [], "total": [], "cpu": []} for m in ("off", "on")}
    gens = [e for e in events if e.type.value == "generation"]
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            for mode in ("off", "on"):
                c = Client("http://bench", "k", batch_size=100, flush_interval=0.05, transport=transport,
                           spool_dir=Path(tmp) / f"{mode}{r}", write_ahead=mode == "on")
                t0, c0 = time.perf_counter(), time.process_time()
                for e in gens:
                    c.log_generation(e.prompt, e.response, e.model, trace_id=e.trace_id, attributes=e.attributes)
                t1 = time.perf_counter()
                c.flush(120)
                t2, c2 = time.perf_counter(), time.process_time()  # CPU of the caller and the worker thread
                c.close()
                out[mode]["log"].append(len(gens) / (t1 - t0))
                out[mode]["total"].append(len(gens) / (t2 - t0))
                out[mode]["cpu"].append((c2 - c0) / len(gens) * 1e6)
    return {m: {k: statistics.median(v) for k, v in d.items()} for m, d in out.items()} | {
        "n": {"events": float(len(gens))}}


def old_redactor() -> Redactor:
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{BASE}:src/tether/deploy/pii.py"], check=True,
                         capture_output=True, text=True).stdout
    spec = importlib.util.spec_from_loader("pii_before", loader=None)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["pii_before"] = module  # dataclasses look their module up
    exec(compile(src, "pii_before.py", "exec"), module.__dict__)  # noqa: S102 - our own file at a known commit
    return module.Redactor(SECRET)


def bench_server(events: list[Event], rounds: int) -> dict[str, float]:
    new, old = Redactor(SECRET), old_redactor()
    times: dict[str, list[float]] = {"before: redact_event": [], "now: event_rules checks + redact_event": []}
    for _ in range(rounds):
        t0 = time.process_time()
        for e in events:
            old.redact_event(e)
        times["before: redact_event"].append(time.process_time() - t0)
        t0 = time.process_time()
        for i in range(0, len(events), 500):  # as the API checks a request's batch
            problems_as_detail(events[i:i + 500])
        for e in events:
            new.redact_event(e)
        times["now: event_rules checks + redact_event"].append(time.process_time() - t0)
    return {k: len(events) / statistics.median(v) for k, v in times.items()}


def bench_http(events: list[Event], rounds: int) -> dict[str, float]:
    from ingest_load import throughput

    runs: dict[str, list[float]] = {f"before ({BASE})": [], "now": []}
    with tempfile.TemporaryDirectory() as tmp:
        old_src = Path(tmp) / "before"
        old_src.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", BASE, "src"], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(old_src)], input=archive.stdout, check=True)
        paths = {f"before ({BASE})": str(old_src / "src"), "now": str(ROOT / "src")}
        saved = os.environ.get("PYTHONPATH")
        try:
            for r in range(rounds):
                for name, path in paths.items():
                    os.environ["PYTHONPATH"] = path  # the server process imports tether from here
                    work = Path(tmp) / f"{name[:3]}{r}"
                    work.mkdir()
                    runs[name].append(throughput(events, work, 500, 4)["api_eps"])
        finally:
            if saved is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = saved
    return {k: statistics.median(v) for k, v in runs.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=4000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--http", type=int, default=0, metavar="ROUNDS", help="also measure end to end over HTTP")
    ap.add_argument("--write", action="store_true", help="record in benchmarks/RESULTS.md")
    args = ap.parse_args()
    events = events_with_pii(args.events)
    spool = bench_spool(events, args.rounds)
    wal = bench_wal(events, args.rounds)
    server = bench_server(events, args.rounds)
    http = bench_http(events, args.http) if args.http else {}
    load = os.getloadavg()[0]
    flag = f" --http {args.http}" if args.http else ""
    lines = [f"`python benchmarks/client_spool.py --events {args.events} --rounds {args.rounds}{flag} --write` — "
             f"{platform.machine()}, {os.cpu_count()} cores, load average {load:.1f} at the start of the write, "
             f"Python {sys.version.split()[0]}; median of {args.rounds} rounds, ways interleaved in each round. "
             f"{args.events} simulated production events, a third of the prompts with an e-mail, card, phone or SSN.",
             "", "Spooling (batches of 100, one fsync per batch file): events/s (wall) and CPU per event:", "",
             "| way | events/s | ratio to raw | CPU us/event |", "|---|---|---|---|"]
    raw = spool["raw (before)"][0]
    lines += [f"| {k} | {v:,.0f} | {v / raw:.2f}x | {c:,.0f} |" for k, (v, c) in spool.items()]
    lines += ["", f"SDK `log_generation` then `flush` ({wal['n']['events']:,.0f} generations, mock server answering "
              "200); CPU per event counts the caller and the worker thread:", "",
              "| write-ahead log | log_* calls/s | logged and acknowledged/s | CPU us/event |", "|---|---|---|---|"]
    lines += [f"| {m} | {wal[m]['log']:,.0f} | {wal[m]['total']:,.0f} | {wal[m]['cpu']:,.0f} |" for m in ("off", "on")]
    lines += ["", "Server work per event (CPU time, one thread), events/s:", "", "| | events/s |", "|---|---|"]
    lines += [f"| {k} | {v:,.0f} |" for k, v in server.items()]
    if http:
        lines += ["", f"End to end over HTTP (uvicorn, SQLite, batches of 500, 4 client threads; median of {args.http} "
                  "runs, before and now interleaved), events/s acknowledged:", "", "| server | events/s |", "|---|---|"]
        lines += [f"| {k} | {v:,.0f} |" for k, v in http.items()]
    red, enc = spool["redacted, unkeyed (chosen)"], spool["AES-256-GCM, 0600 key file"]
    lines += ["", f"Reading: redacting before spooling costs {red[1]:,.0f} us of CPU per event against {enc[1]:,.0f} "
              f"for AES-GCM ({red[0] / raw:.2f}x vs {enc[0] / raw:.2f}x the raw write's events/s). Redaction is kept "
              "(README, production): an encrypted spool's key would sit beside it, readable by whoever reads the "
              "spool and in every backup of the folder, while a redacted spool holds nothing to steal; the spool is "
              "the failure path, and the write-ahead log, which pays the redaction on every event, is off by default. "
              f"The write-ahead log takes log_* from {wal['off']['log']:,.0f} to {wal['on']['log']:,.0f} calls/s "
              f"({wal['off']['cpu']:,.0f} -> {wal['on']['cpu']:,.0f} us of CPU per event)."]
    body = "\n".join(lines)
    print(body)
    if args.write:
        write_subsection("SDK spool and write-ahead log", body)


if __name__ == "__main__":
    main()
