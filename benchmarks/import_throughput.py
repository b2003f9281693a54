"""Import throughput and peak memory of `tether import comparisons FILE` on SQLite and PostgreSQL.

Generates a synthetic v1 comparisons file, imports it through the real path
(`tether.io.import_file(store, "comparisons", path)`), imports it a second time (idempotent
re-import), and, side by side in the same run on the same file: SQLAlchemy 2's own bulk path
(`session.execute(insert(Model), rows)`, the same validation), a raw driver bulk load (sqlite3
`executemany` / psycopg `COPY`) of the same rows without validation, and that raw loop with its writes
in a second thread overlapping the parsing; on a sample, the naive ORM `session.add_all`.
Each measurement runs in its own child process so peak RSS is its own.

    python benchmarks/import_throughput.py --rows 1000000 --backend both --out benchmarks/results_import.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import string
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from import_loaders import LOADERS

POSTGRES_ADMIN_URL = os.environ.get("TETHER_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
OBJECTIVES = ["overall", "helpfulness", "harmlessness", "honesty"]
TASK_TYPES = ["qa", "code", "summarization", "creative", "chat", "reasoning"]
DUPLICATE_RATE = 0.01  # exact repeats of an earlier line: a re-sent batch, deduplicated on import


# -- synthetic data ------------------------------------------------------------------------------


def _texts(rng: random.Random, vocab: list[str], n: int, words: tuple[int, int]) -> list[str]:
    lo, hi = words
    return [" ".join(rng.choices(vocab, k=rng.randint(lo, hi))).capitalize() + "." for _ in range(n)]


def generate(path: Path, rows: int, seed: int = 0) -> dict[str, int]:
    """Write `rows` v1 comparisons: ~rows/5 prompts, ~2*rows/5 responses, 50 raters, 1% repeats."""
    rng = random.Random(seed)
    vocab = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 10))) for _ in range(5000)]
    n_prompts, n_responses = max(1, rows // 5), max(2, 2 * rows // 5)
    n_pairs = max(1, rows // 4)
    prompts = _texts(rng, vocab, n_prompts, (20, 60))  # ~250 characters
    responses = _texts(rng, vocab, n_responses, (30, 90))  # ~400 characters
    raters = [f"rater-{i:03d}" for i in range(50)]
    start = datetime(2025, 1, 1, tzinfo=UTC)
    recent: list[bytes] = []
    repeats = 0
    with open(path, "wb") as fh:
        for i in range(rows):
            if recent and rng.random() < DUPLICATE_RATE:
                fh.write(rng.choice(recent))
                repeats += 1
                continue
            pair = rng.randrange(n_pairs)
            choice = "tie" if rng.random() < 0.1 else rng.choice("ab")
            obj = {
                "prompt": prompts[pair % n_prompts],
                "response_a": responses[(2 * pair) % n_responses],
                "response_b": responses[(2 * pair + 1) % n_responses],
                "shown_first": rng.choice("ab"),
                "choice": choice,
                "rater": rng.choice(raters),
                "objective": rng.choice(OBJECTIVES),
                "task_type": TASK_TYPES[pair % len(TASK_TYPES)],
                "confidence": round(rng.random(), 2),
                "campaign": f"campaign-{pair % 8}",
                "interface": "web",
                "rubric_version": "v3",
                "created_at": (start + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
                "source_batch": f"batch-{i // 10_000}",  # an unknown key: kept as metadata
            }
            line = orjson.dumps(obj) + b"\n"
            fh.write(line)
            if len(recent) < 1000:
                recent.append(line)
            else:
                recent[rng.randrange(1000)] = line
    return {"rows": rows, "prompts": n_prompts, "responses": n_responses, "pairs": n_pairs, "repeats": repeats}


def head(path: Path, out: Path, rows: int) -> None:
    """The first `rows` lines of `path` (the sample both baselines and tether import)."""
    with open(path, "rb") as src, open(out, "wb") as dst:
        for i, line in enumerate(src):
            if i >= rows:
                break
            dst.write(line)


# -- databases -----------------------------------------------------------------------------------


def new_database(backend: str, workdir: Path) -> str:
    """A fresh, empty database URL on `backend`."""
    if backend == "sqlite":
        return f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:8]}.db'}"
    from sqlalchemy import create_engine, text

    name = f"tether_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"


def drop_database(url: str) -> None:
    if url.startswith("sqlite:///"):
        db = Path(url[len("sqlite:///") :])
        for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            p.unlink(missing_ok=True)
        return
    from sqlalchemy import create_engine, text

    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


# -- the measured loaders (each runs in a child process) -----------------------------------------


def _peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent at exec."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(loader: str, url: str, path: Path) -> None:
    """Run one loader in this (fresh) process and print its figures as one JSON line."""
    rss_start = _peak_rss_mb()  # interpreter and imports
    result = LOADERS[loader](url, path)
    usage = resource.getrusage(resource.RUSAGE_SELF)  # all threads of this process; not the database server
    result["cpu_s"] = usage.ru_utime + usage.ru_stime
    result["peak_rss_mb"] = _peak_rss_mb()
    result["start_rss_mb"] = rss_start
    print(json.dumps(result))


def measure(loader: str, url: str, path: Path, lines: int) -> dict[str, Any]:
    """One loader on one file in a child process: seconds, rows/s (input lines), peak RSS."""
    proc = subprocess.run(
        [sys.executable, __file__, "--child", loader, "--url", url, "--file", str(path)],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{loader} on {url} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result.update(loader=loader, lines=lines, rows_per_s=lines / result["seconds"])
    return result


def _progress(backend: str, name: str, r: dict[str, Any]) -> None:
    print(f"  {backend:10s} {name:18s} {r['rows_per_s']:>10,.0f} rows/s {r['seconds']:7.1f} s "
          f"cpu {r['cpu_s']:6.1f} s  peak RSS {r['peak_rss_mb']:6.0f} MB", flush=True)


def run_backend(backend: str, workdir: Path, full: Path, rows: int, sample: Path, sample_rows: int,
                baselines: bool = True) -> dict:
    """Every measurement on one backend, each on a fresh database."""
    out: dict[str, Any] = {}

    def fresh(name: str, loader: str, path: Path, lines: int, *, again: bool = False) -> None:
        url = new_database(backend, workdir)
        try:
            out[name] = measure(loader, url, path, lines)
            _progress(backend, name, out[name])
            if again:
                out[name + "_again"] = measure(loader, url, path, lines)
                _progress(backend, name + "_again", out[name + "_again"])
        finally:
            drop_database(url)

    fresh("tether", "tether", full, rows, again=True)
    if not baselines:
        return out
    # the peers on the same file, in the same run: SQLAlchemy's bulk path (same validation), the bare driver
    # (no validation), and the bare driver with its writes overlapping the parsing in a second thread
    fresh("sa_bulk", "sa_bulk", full, rows)
    fresh("raw", "raw", full, rows)
    fresh("raw_overlap", "raw_overlap", full, rows)
    fresh("sample_tether", "tether", sample, sample_rows)
    fresh("sample_orm", "orm", sample, sample_rows)
    out["ratio_vs_orm"] = out["sample_tether"]["rows_per_s"] / out["sample_orm"]["rows_per_s"]
    for peer in ("sa_bulk", "raw", "raw_overlap"):
        out[f"ratio_vs_{peer}"] = out["tether"]["rows_per_s"] / out[peer]["rows_per_s"]
        out[f"cpu_ratio_vs_{peer}"] = out["tether"]["cpu_s"] / out[peer]["cpu_s"]
    return out


def markdown(results: dict[str, Any]) -> str:
    """A results table for benchmarks/RESULTS.md."""
    lines = ["| backend | run | rows | rows/s | wall s | client CPU s | peak RSS MB |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for backend, res in results["backends"].items():
        for name, r in res.items():
            if isinstance(r, dict):
                lines.append(f"| {backend} | {name} | {r['lines']:,} | {r['rows_per_s']:,.0f} | {r['seconds']:.1f} "
                             f"| {r['cpu_s']:.1f} | {r['peak_rss_mb']:.0f} |")
    lines.append("")
    for backend, res in results["backends"].items():
        if "ratio_vs_orm" not in res:
            continue
        lines.append(f"- {backend}: rows/s tether / ORM add_all (sample) = {res['ratio_vs_orm']:.2f}x; tether / "
                     f"SQLAlchemy bulk insert = {res['ratio_vs_sa_bulk']:.2f}x; tether / raw driver = "
                     f"{res['ratio_vs_raw']:.2f}x; tether / raw driver overlapped = {res['ratio_vs_raw_overlap']:.2f}x"
                     f" (client CPU s ratios: {res['cpu_ratio_vs_sa_bulk']:.2f}, {res['cpu_ratio_vs_raw']:.2f}, "
                     f"{res['cpu_ratio_vs_raw_overlap']:.2f})")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="comparisons in the synthetic file")
    ap.add_argument("--sample", type=int, default=100_000, help="rows for the side-by-side baselines")
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--out", type=Path, help="write the figures as JSON here")
    ap.add_argument("--workdir", type=Path, help="where the file and SQLite databases go (default: a temp dir)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-baselines", action="store_true", help="only tether's import and re-import")
    ap.add_argument("--child", choices=sorted(LOADERS), help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child, args.url, args.file)
        return

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tether-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        full = workdir / f"comparisons-{args.rows}-{args.seed}.jsonl"
        t0 = time.perf_counter()
        shape = generate(full, args.rows, args.seed)
        print(f"generated {full} ({full.stat().st_size / 2**20:,.0f} MB, {shape}) "
              f"in {time.perf_counter() - t0:.0f} s", flush=True)
        sample_rows = min(args.sample, args.rows)
        sample = workdir / f"sample-{sample_rows}.jsonl"
        head(full, sample, sample_rows)
        backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
        results: dict[str, Any] = {
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "file_mb": full.stat().st_size / 2**20,
            "shape": shape,
            "backends": {b: run_backend(b, workdir, full, args.rows, sample, sample_rows, not args.no_baselines)
                         for b in backends},
        }
        print(markdown(results))
        if args.out:
            args.out.write_text(json.dumps(results, indent=2) + "\n")
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
