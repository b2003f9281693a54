"""PII redaction cost: time per MB from 1 KB to 1 MB on backtracking bait and on ordinary text, and events/s.

1. Curve: `Redactor.redact` on inputs built to make a backtracking regex engine go quadratic (the
   hardening issue's `'a.'*n + '='`, long digit/separator runs, `a@a@...`, unterminated
   `-----BEGIN ... PRIVATE KEY-----` markers, ...) and on ordinary text (hh-rlhf dialogues, the
   labelled PII rows), at 1 KB .. 1 MB. Linear time means a flat time per MB: the goal is max/min <= 2
   per row. Each cell: the best of 5 rounds, a round repeating the call for at least 0.15 s of CPU.
   All times are CPU time of this process (`time.process_time`): on a shared machine wall time also
   counts the waits for a core, which swings by 2x and more between rounds.
2. The redactor before the hardening (`git show REV:src/tether/deploy/pii.py`, loaded as a module) on
   the same inputs while one call stays under a few seconds (it is quadratic on the bait).
3. Events/s of `Redactor.redact_event`, old and new, on simulated production traffic
   (`World(0).production_stream`), on pii_set-like events (a labelled row as prompt, another as
   response, a user id attribute) and on hh-rlhf dialogues (prompt = the first human turn, response =
   the rest); best of 5 passes, old and new interleaved; events per CPU second.

    python benchmarks/pii_redaction.py --write
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import itertools
import json
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from tether.deploy.pii import Redactor
from tether.records import Event

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).with_name("RESULTS.md")
SECTION = "## PII redaction"
SECRET = b"benchmark-secret-0123456789abcdef"
SIZES = (1_000, 8_000, 64_000, 512_000, 1_000_000)
BASELINE_REV = "1795f74"  # the last commit with the original redactor


def _cycle(unit: str, n: int) -> str:
    return (unit * (n // len(unit) + 1))[:n]


def hh_text() -> str:
    with gzip.open(ROOT / "data" / "hh-rlhf" / "harmless-base_test.jsonl.gz", "rt", encoding="utf-8") as fh:
        return "".join(json.loads(line)["chosen"] for line in itertools.islice(fh, 800))


def pii_rows() -> list[dict]:
    return [json.loads(x) for x in (ROOT / "tests/data/pii/pii_set.jsonl").read_text(encoding="utf-8").splitlines()]


def inputs() -> dict[str, Callable[[int], str]]:
    prose = hh_text()
    rows = "\n".join(r["text"] for r in pii_rows())
    return {
        "bait: `a.`*n + `=` (the issue's input)": lambda n: "a." * ((n - 1) // 2) + "=",
        "bait: `password` + 40 word chars + `=`, repeated": lambda n: _cycle("password" + "a" * 40 + "=", n),
        "bait: `1-1-1-...`": lambda n: _cycle("1-", n),
        "bait: `1 1 1 ...`": lambda n: _cycle("1 ", n),
        "bait: `0 0 0 ...` / `+1 +1 ...`": lambda n: _cycle("0 +1 ", n),
        "bait: `a@a@a@...`": lambda n: _cycle("a@", n),
        "bait: `x@a.a.a.a...` (one long domain)": lambda n: "x@" + _cycle("a.", n - 2),
        "bait: `-----BEGIN RSA PRIVATE KEY-----` without END": lambda n: _cycle("-----BEGIN RSA PRIVATE KEY-----\n", n),
        "bait: `-----BEGIN ` repeated": lambda n: _cycle("-----BEGIN ", n),
        "bait: `a at b dot ` repeated (spelled e-mail)": lambda n: _cycle("a at b dot ", n),
        "bait: `de89 ` repeated (IBAN prefix)": lambda n: _cycle("de89 ", n),
        "many findings: `10.1.2.3 ` repeated": lambda n: _cycle("10.1.2.3 ", n),
        "fold path: full-width digits, zero-width spaces": lambda n: _cycle("４１１１\u200b1111 ", n),
        "ordinary: hh-rlhf dialogues (first 8,000 characters, repeated)": lambda n: _cycle(prose[:8000], n),
        "ordinary: labelled PII rows (pii_set)": lambda n: _cycle(rows, n),
    }


def per_mb(fn: Callable[[str], object], text: str, budget_s: float = 0.15, rounds: int = 5) -> float:
    """CPU seconds per MB (1e6 characters) of fn(text): best of `rounds`, each repeating for >= budget_s."""
    best = float("inf")
    for _ in range(rounds):
        reps, start = 0, time.process_time()
        while True:
            fn(text)
            reps += 1
            elapsed = time.process_time() - start
            if elapsed >= budget_s:
                break
        best = min(best, elapsed / reps)
    return best / len(text) * 1e6


def load_baseline(rev: str):
    """The redactor module as of `rev` (None when git or the revision is not available)."""
    try:
        src = subprocess.run(["git", "show", f"{rev}:src/tether/deploy/pii.py"], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    path = Path("/tmp") / f"tether_pii_baseline_{rev}.py"
    path.write_text(src, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"tether_pii_baseline_{rev}", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def event_sets() -> dict[str, list[Event]]:
    from tether.sim import World
    from tether.sim.config import ProductionConfig

    sim = list(itertools.islice(World(0).production_stream(ProductionConfig(requests_per_day=100)), 5000))
    rows = pii_rows()
    ts = datetime(2026, 1, 1, tzinfo=UTC)
    labelled = [Event(event_id=f"e{i}", type="generation", trace_id=f"t{i}", timestamp=ts, model="m",
                      prompt=rows[i]["text"], response=rows[(i * 7 + 3) % len(rows)]["text"],
                      attributes={"enduser.id": f"user-{i % 97}", "session": f"s{i % 13}"})
                for i in range(len(rows))]
    with gzip.open(ROOT / "data" / "hh-rlhf" / "harmless-base_test.jsonl.gz", "rt", encoding="utf-8") as fh:
        dialogues = [json.loads(line)["chosen"] for line in itertools.islice(fh, 1000)]
    hh = []
    for i, d in enumerate(dialogues):
        first, _, rest = d.partition("\n\nAssistant:")
        hh.append(Event(event_id=f"h{i}", type="generation", trace_id=f"h{i}", timestamp=ts, model="m",
                        prompt=first, response=rest, attributes={"enduser.id": f"user-{i % 97}"}))
    return {"simulated production traffic (World(0))": sim, "pii_set rows as prompt + response": labelled,
            "hh-rlhf dialogues": hh}


def events_per_s(redactors: list, events: list[Event], rounds: int = 5) -> list[float]:
    """Events/s of each redactor, best of `rounds` passes, the redactors interleaved so both see the same load."""
    best = [float("inf")] * len(redactors)
    for _ in range(rounds):
        for i, redactor in enumerate(redactors):
            start = time.process_time()
            for e in events:
                redactor.redact_event(e)
            best[i] = min(best[i], time.process_time() - start)
    return [len(events) / b for b in best]


def accuracy(old_mod) -> str:
    """Recall / precision per type on the three labelled sets, before and after (pii_eval)."""
    from tether.deploy.pii_eval import evaluate

    out = []
    for name, note in (("pii_set", "the original labelled set"),
                       ("pii_hard", "formats the redactor missed; the detectors were built for these"),
                       ("pii_unseen", "formats the detectors were NOT designed around; written before them")):
        path = ROOT / "tests" / "data" / "pii" / f"{name}.jsonl"
        new = evaluate(Redactor(SECRET), path)
        old = evaluate(old_mod.Redactor(SECRET), path) if old_mod is not None else None
        misses = new.pop("_misses")
        if old is not None:
            old.pop("_misses")
        out += ["", f"`tests/data/pii/{name}.jsonl` ({note}):", "",
                "| type | planted | recall before | recall | precision before | precision | removed (any type) |",
                "|---|---|---|---|---|---|---|"]
        for t, v in new.items():
            o = old.get(t, {}) if old is not None else {}
            out.append(f"| {t} | {v['gold']} | {o.get('recall', float('nan')):.3f} | {v['recall']:.3f} | "
                       f"{o.get('precision', float('nan')):.3f} | {v['precision']:.3f} | {v['removed']:.3f} |")
        if name == "pii_unseen":
            out += ["", "Missed unseen formats, first 3 per type: " + "; ".join(
                f"{t}: " + ", ".join(f"`{m!r}`" for m in ms[:3]) for t, ms in sorted(misses.items()))]
    return "\n".join(out)


def _fmt_size(n: int) -> str:
    return f"{n // 1_000_000} MB" if n >= 1_000_000 else f"{n // 1000} KB"


def run(sizes: tuple[int, ...], rev: str, old_cap_s: float) -> str:
    new = Redactor(SECRET)
    base_mod = load_baseline(rev)
    old = base_mod.Redactor(SECRET) if base_mod is not None else None
    lines = [
        f"`python benchmarks/pii_redaction.py --write` — {platform.machine()}, Python {platform.python_version()}, "
        "2-core shared dev machine, other work running. CPU seconds per MB (10^6 characters) of `Redactor.redact` "
        "(`time.process_time`); each cell the best of 5 rounds of >= 0.15 s.", "",
        "| input | " + " | ".join(_fmt_size(s) for s in sizes) + " | max/min |",
        "|---|" + "---|" * (len(sizes) + 1),
    ]
    worst = 0.0
    old_rows = []
    for name, make in inputs().items():
        cells = [per_mb(new.redact, make(s)) for s in sizes]
        ratio = max(cells) / min(cells)
        worst = max(worst, ratio)
        lines.append(f"| {name} | " + " | ".join(f"{c:.3f}" for c in cells) + f" | {ratio:.2f} |")
        print(lines[-1], flush=True)
        if old is not None:
            row = []
            for s in sizes:
                text = make(s)
                t0 = time.process_time()
                old.redact(text)
                once = time.process_time() - t0
                if once > old_cap_s:
                    row.append(f"{once / s * 1e6:.1f} (1 run)")
                    break
                row.append(f"{per_mb(old.redact, text, budget_s=0.05, rounds=1):.3f}")
            old_rows.append(f"| {name} | " + " | ".join(row + ["(skipped)"] * (len(sizes) - len(row))) + " |")
    lines += ["", f"Worst max/min across sizes: {worst:.2f} (goal <= 2)."]
    if old_rows:
        lines += ["", f"The redactor before the hardening (`{rev}`), same inputs, s/MB; a size is skipped once "
                  f"one call took over {old_cap_s:.0f} s:", "",
                  "| input | " + " | ".join(_fmt_size(s) for s in sizes) + " |", "|---|" + "---|" * len(sizes)]
        lines += old_rows
    lines += ["", "Events per CPU second of `Redactor.redact_event` (best of 5 passes, old and new interleaved, one "
              "thread):", "",
              f"| events | n | mean characters | before (`{rev}`) | after | after / before |",
              "|---|---|---|---|---|---|"]
    for name, evs in event_sets().items():
        chars = sum(len(e.prompt or "") + len(e.response or "") for e in evs) / len(evs)
        if old is not None:
            after, before = events_per_s([new, old], evs)
        else:
            after, before = events_per_s([new], evs)[0], float("nan")
        lines.append(f"| {name} | {len(evs)} | {chars:.0f} | {before:,.0f} | {after:,.0f} | {after / before:.2f} |")
        print(lines[-1], flush=True)
    lines += ["", "Recall and precision per type (`tether.deploy.pii_eval`; recall: a finding of the type covers the "
              "whole planted value; removed: every character of it is inside some finding, whatever its type):"]
    lines.append(accuracy(base_mod))
    return "\n".join(lines)


BEGIN, END = "<!-- pii_redaction.py: begin -->", "<!-- pii_redaction.py: end -->"


def write_section(body: str) -> None:
    """Put the generated block between its markers in the PII section (created at the end if absent)."""
    text = RESULTS.read_text(encoding="utf-8")
    block = f"{BEGIN}\n{body.strip()}\n{END}"
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\n### Cost: linear time, and events/s\n\n{block}\n"
    RESULTS.write_text(text, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default=",".join(str(s) for s in SIZES), help="input sizes in characters")
    ap.add_argument("--baseline", default=BASELINE_REV, help="git revision of the redactor to compare with")
    ap.add_argument("--old-cap", type=float, default=3.0, help="stop timing the old redactor past this many s/call")
    ap.add_argument("--write", action="store_true", help=f"write the '{SECTION}' section of RESULTS.md")
    args = ap.parse_args()
    body = run(tuple(int(s) for s in args.sizes.split(",")), args.baseline, args.old_cap)
    print(body)
    if args.write:
        write_section(body)


if __name__ == "__main__":
    main()
