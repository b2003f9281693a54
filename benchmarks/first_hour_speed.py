"""First-hour command speed: `shift drift` (with and without `--ensemble`), `shift sample`, `reward train` for 10
steps and `sim policy --seconds 30`, each run as a user runs it (a fresh `tether` process in a project made with
`tether init`), on fixed inputs from the bundled data.

Inputs: annotation = the first 150 distinct PandaLM instructions (`data/pandalm/testset-v1.json`), production =
the first 646 OASST questions (`data/oasst_prompts/oa_questions.jsonl`); reward pairs = the first 100 HH-RLHF
harmless test pairs (`tether import hh-rlhf` then `tether export pairs`); the ensemble for `--ensemble` is trained
once in setup (2 members, 2 steps each). Each command is timed `--repeat` times: wall time and the child's CPU time
(user + sys, `resource.getrusage(RUSAGE_CHILDREN)` deltas, the steadier figure on a shared machine); the first run
(the project's embedding cache is empty: `shift drift` computes every embedding) and the median of the later runs
are reported. `shift sample` runs after `shift drift` on the same prompts, so it finds them cached from run 1 on.
`--base SRC` times a second source tree (e.g. main's `src/`) in the same run, alternating with this one,
and checks that both print the same results (timings stripped).

    python benchmarks/first_hour_speed.py --base /path/to/main/src --repeat 3 [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
SECTION = "### First-hour command speed"
TARGETS = {"shift drift": 4.0, "shift sample": 5.0, "sim policy --seconds 30": 33.0}
TRAIN_OVERHEAD_TARGET = 4.0


def tether_bin() -> str:
    """The `tether` console script of the running interpreter's environment."""
    found = Path(sys.executable).with_name("tether")
    return str(found) if found.exists() else shutil.which("tether") or "tether"


def run(src: Path, args: list[str], cwd: Path, threads: int | None = None) -> tuple[float, float, str]:
    """(wall s, child CPU s, stdout) of one `tether ARGS` process with `src` first on PYTHONPATH."""
    env = dict(os.environ, PYTHONPATH=str(src), COLUMNS="200", NO_COLOR="1")
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([tether_bin(), *args], cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode not in (0, 1):  # `shift drift` exits 1 when it finds drift
        raise SystemExit(f"tether {' '.join(args)} (PYTHONPATH={src}) failed with {proc.returncode}:\n"
                         f"{proc.stdout}\n{proc.stderr}")
    return wall, cpu, proc.stdout


def write_inputs(work: Path) -> None:
    """annotation.jsonl (150 PandaLM instructions) and production.jsonl (646 OASST questions)."""
    seen: list[str] = []
    for row in json.loads((DATA / "pandalm" / "testset-v1.json").read_text(encoding="utf-8")):
        if row["instruction"] not in seen:
            seen.append(row["instruction"])
    with (work / "annotation.jsonl").open("w", encoding="utf-8") as fh:
        for text in seen[:150]:
            fh.write(json.dumps({"prompt": text}) + "\n")
    lines = (DATA / "oasst_prompts" / "oa_questions.jsonl").read_text(encoding="utf-8").splitlines()[:646]
    (work / "production.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def setup(src: Path, work: Path) -> Path:
    """A project with the inputs, 100 training pairs and a 2-member ensemble; returns the project folder."""
    project = work / "proj"
    run(src, ["init", str(project)], work)
    write_inputs(project)
    run(src, ["import", "hh-rlhf", str(DATA / "hh-rlhf" / "harmless-base_test.jsonl.gz"), "--set", "hh"], project)
    run(src, ["export", "pairs", "all-pairs.jsonl", "--set", "hh"], project)
    lines = (project / "all-pairs.jsonl").read_text(encoding="utf-8").splitlines()[:100]
    (project / "train.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    run(src, ["reward", "train", "ens", "--pairs", "train.jsonl", "--ensemble", "2", "--max-steps", "2",
              "--batch-size", "8", "--max-length", "64"], project)
    return project


DRIFT = ["shift", "drift", "--annotation", "annotation.jsonl", "--production", "production.jsonl",
         "--report", "drift.html"]
COMMANDS: dict[str, list[str]] = {
    "shift drift": DRIFT,
    "shift drift --ensemble": [*DRIFT, "--ensemble", "ens"],
    "shift sample": ["shift", "sample", "--budget", "25", "--out", "picks.jsonl", "--annotation", "annotation.jsonl",
                     "--production", "production.jsonl"],
    "reward train (10 steps)": ["reward", "train", "rm", "--pairs", "train.jsonl", "--max-steps", "10",
                                "--batch-size", "8", "--max-length", "64"],
    "sim policy --seconds 30": ["sim", "policy", "sim-policy", "--seconds", "30"],
}
_TIMING = re.compile(r"\d+(\.\d+)?s\b|\([\d.]+ pairs/s\)|in [\d.]+s")
_TRAIN_SECONDS = re.compile(r"trained \d+ steps on \d+ pairs in ([\d.]+)s")


def comparable(name: str, stdout: str, project: Path) -> str:
    """What must be the same before and after: the printed results without timings, plus the files written."""
    text = _TIMING.sub("<t>", stdout)
    if name == "shift sample":
        text += (project / "picks.jsonl").read_text(encoding="utf-8")
    if name.startswith("sim policy"):  # a time-budgeted run: its step count (and loss) follow the machine's speed
        text = re.sub(r"for \d+ steps.*", "", text)
        text = re.sub(r"gold on held-out prompts: .*", "", text)
    return text


def measure(sides: dict[str, Path], repeat: int, only: list[str]) -> dict[str, dict[str, list[dict]]]:
    """Each command `repeat` times on each side, the sides alternating; results[side][command] = runs."""
    results: dict[str, dict[str, list[dict]]] = {s: {c: [] for c in only} for s in sides}
    outputs: dict[str, dict[str, str]] = {s: {} for s in sides}
    with tempfile.TemporaryDirectory(prefix="first-hour-") as tmp:
        projects = {}
        for side, src in sides.items():
            (Path(tmp) / side).mkdir()
            print(f"setup {side} ({src}) ...", flush=True)
            projects[side] = setup(src, Path(tmp) / side)
        for r in range(repeat):
            for name in only:
                for side, src in sides.items():
                    wall, cpu, stdout = run(src, COMMANDS[name], projects[side])
                    row = {"wall": wall, "cpu": cpu}
                    m = _TRAIN_SECONDS.search(stdout)
                    if m:
                        row["steps_s"] = float(m.group(1))
                    results[side][name].append(row)
                    outputs[side][name] = comparable(name, stdout, projects[side])
                    extra = f", steps {row['steps_s']:.2f} s" if "steps_s" in row else ""
                    print(f"  [{r + 1}/{repeat}] {side:6} {name:26} wall {wall:6.2f} s  cpu {cpu:6.2f} s{extra}",
                          flush=True)
        if len(sides) > 1:
            first, *rest = sides
            for name in only:
                for other in rest:
                    same = outputs[first][name] == outputs[other][name]
                    print(f"same output ({first} vs {other}) for {name}: {'yes' if same else 'NO'}")
                    if not same:
                        print(f"--- {first}\n{outputs[first][name]}\n--- {other}\n{outputs[other][name]}")
    return results


def med(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def table(results: dict[str, dict[str, list[dict]]]) -> str:
    """Markdown: per command and side, the first run (a cold embedding cache: the project is new) and the median of
    the later runs (`shift drift`/`sample` then read the prompts' embeddings from the project's cache), wall and CPU."""
    sides = list(results)
    cols = [f"{s} {part} {what}" for s in sides for part in ("run 1", "runs 2+") for what in ("wall s", "CPU s")]
    rows = ["| command | " + " | ".join(cols) + " | target (wall) |", "|---" * (1 + len(cols)) + "|---|"]

    def cells(runs: list[dict], value) -> list[str]:  # noqa: ANN001
        rest = runs[1:] or runs
        return [f"{value(runs[0], 'wall'):.2f}", f"{value(runs[0], 'cpu'):.2f}",
                f"{statistics.median(value(r, 'wall') for r in rest):.2f}",
                f"{statistics.median(value(r, 'cpu') for r in rest):.2f}"]

    for name in next(iter(results.values())):
        row = [c for s in sides for c in cells(results[s][name], lambda r, k: r[k])]
        target = TARGETS.get(name)
        rows.append(f"| `{name}` | " + " | ".join(row) + f" | {f'<= {target:g} s' if target else ''} |")
        if all("steps_s" in r for s in sides for r in results[s][name]):
            row = [c for s in sides for c in cells(results[s][name], lambda r, k: r[k] - r["steps_s"]
                                                    if k == "wall" else r[k])]
            row = [c if i % 2 == 0 else "" for i, c in enumerate(row)]  # overhead is wall minus the steps' wall
            rows.append(f"| `{name}` overhead (wall minus its steps) | " + " | ".join(row)
                        + f" | <= {TRAIN_OVERHEAD_TARGET:g} s |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", type=Path, help="a second source tree (its src/) to time beside this one")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", action="append", choices=list(COMMANDS), help="time only this command; repeat")
    ap.add_argument("--write", action="store_true", help=f"append the table to {RESULTS.name}")
    args = ap.parse_args()
    sides = {"before": args.base.resolve()} if args.base else {}
    sides["after" if args.base else "this"] = ROOT / "src"
    results = measure(sides, args.repeat, args.only or list(COMMANDS))
    load = os.getloadavg()[0]
    text = table(results)
    print(text)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average {load:.1f} at the end; "
          f"median of {args.repeat}")
    if args.write:
        cmd = "python benchmarks/first_hour_speed.py" + (" --base MAIN/src" if args.base else "") + \
            f" --repeat {args.repeat}"
        body = (f"\n{SECTION}\n\n`{cmd}` — {platform.machine()}, {os.cpu_count()} cores, load average {load:.1f} "
                f"at the end, median of {args.repeat}.\n\n{text}\n")
        RESULTS.write_text(RESULTS.read_text(encoding="utf-8") + body, encoding="utf-8")


if __name__ == "__main__":
    main()
