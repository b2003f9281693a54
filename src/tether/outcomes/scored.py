"""Scored responses with their outcomes: the rows an outcome audit reads, from JSONL files.

One line is one response: ``prompt`` + ``response`` (or ``completion`` / ``solution``), or a ``trace_id``;
a reward ``score`` (or ``reward``), unless a reward model scores the responses; and an outcome: ``passed``
(boolean), ``outcome`` / ``value`` / ``is_correct`` (a number, a boolean, or a status such as ``"passed"``
/ ``"failed"`` / ``"timeout"``). Scores and outcomes may come in two files joined by ``trace_id``, else by
``task_id`` + sample index, else by prompt and response text. Responses to the same prompt form a group
(``prompt_id``, else ``task_id``, else the prompt text): best-of-n selection and outcome pairs work within
groups. Slices are read from the line or its ``attributes``: ``task_type``, ``language``, ``model``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tether.io.errors import MAX_LISTED, BadLine, InputError
from tether.io.jsonl import iter_jsonl
from tether.records import content_hash

__all__ = ["ScoredResponse", "read_scored", "join_outcomes", "outcome_value", "SLICE_KEYS"]

RESPONSE_KEYS = ("response", "completion", "solution")
SCORE_KEYS = ("score", "reward")
OUTCOME_KEYS = ("passed", "outcome", "value", "is_correct")
SAMPLE_KEYS = ("sample", "sample_index", "sample_id", "completion_id")
GROUP_KEYS = ("prompt_id", "task_id")
SLICE_KEYS = {"task_type": ("task_type",), "language": ("language", "lang"),
              "model": ("model_version", "model")}
EVENT_TYPES = {"generation", "feedback", "correction", "outcome"}
PASS_WORDS = {"passed", "pass", "correct", "resolved", "success", "true", "yes"}
FAIL_WORDS = {"failed", "fail", "incorrect", "wrong", "unresolved", "failure", "false", "no", "timeout", "error",
              "killed"}


def outcome_value(raw: Any) -> float:
    """An outcome as a number in [0, 1]-style scale: booleans 1/0, numbers as given, status words 1/0; anything
    else is a ValueError saying what is accepted."""
    if isinstance(raw, bool):
        return 1.0 if raw else 0.0
    if isinstance(raw, int | float):
        if not math.isfinite(raw):
            raise ValueError(f"outcome {raw!r} is not a finite number")
        return float(raw)
    if isinstance(raw, str):
        word = raw.strip().lower()
        if word in PASS_WORDS:
            return 1.0
        if word in FAIL_WORDS:
            return 0.0
        try:
            return outcome_value(float(word))
        except ValueError:
            pass
    raise ValueError(f"outcome {raw!r} is not a boolean, a number or a status word "
                     f"({', '.join(sorted(PASS_WORDS))} / {', '.join(sorted(FAIL_WORDS))})")


@dataclass
class ScoredResponse:
    """One response with its reward score (None until scored) and its outcome value (None until joined)."""

    line: int
    prompt: str | None
    response: str | None
    score: float | None
    value: float | None
    group: str
    keys: tuple[str, ...]
    trace_id: str | None = None
    slices: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def passed(self, threshold: float = 0.5) -> bool:
        return self.value is not None and self.value >= threshold


def _first(obj: dict[str, Any], keys: Sequence[str]) -> tuple[str | None, Any]:
    for k in keys:
        if k in obj and obj[k] is not None:
            return k, obj[k]
    return None, None


def _text(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj[key]
    if isinstance(value, list):  # a conversation: rendered one turn a line, as the other readers do
        try:
            return "\n".join(f"{t['role']}: {t['content']}" for t in value)
        except (KeyError, TypeError):
            raise ValueError(f"{where}: key {key!r}: a list must hold {{role, content}} turns") from None
    if not isinstance(value, str):
        raise ValueError(f"{where}: key {key!r}: expected text, got {type(value).__name__}")
    return value


def _row(obj: dict[str, Any], lineno: int, path: str, need_score: bool, need_outcome: bool) -> ScoredResponse:
    where = f"{path}:{lineno}"
    attrs = obj.get("attributes") if isinstance(obj.get("attributes"), dict) else {}
    look = {**attrs, **obj}
    prompt = _text(obj, "prompt", where) if obj.get("prompt") is not None else None
    rkey, _ = _first(obj, RESPONSE_KEYS)
    response = _text(obj, rkey, where) if rkey else None
    trace = obj.get("trace_id")
    if trace is not None and not isinstance(trace, str | int):
        raise ValueError(f"{where}: key 'trace_id': expected text, got {type(trace).__name__}")
    trace = None if trace is None else str(trace)
    skey, score = _first(obj, SCORE_KEYS)
    if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)
                              or not math.isfinite(score)):
        raise ValueError(f"{where}: key {skey!r}: expected a finite number, got {score!r:.60}")
    if need_score and score is None:
        raise ValueError(f"{where}: missing key 'score' (a reward score; or give --model to score the responses)")
    okey, raw = _first(obj, OUTCOME_KEYS)
    value = None
    if raw is not None:
        try:
            value = outcome_value(raw)
        except ValueError as exc:
            raise ValueError(f"{where}: key {okey!r}: {exc}") from None
    elif need_outcome:
        raise ValueError(f"{where}: missing key 'passed' (or 'outcome' / 'value' / 'is_correct'): the outcome of "
                         "this response")
    _, task = _first(obj, ("task_id",))
    _, sample = _first(obj, SAMPLE_KEYS)
    keys = []  # every identity the line has, most specific first: a join uses the first one both sides share
    if trace is not None:
        keys.append(f"trace:{trace}")
    if task is not None and sample is not None:
        keys.append(f"sample:{task}\x1f{sample}")
    if prompt is not None and response is not None:
        keys.append("text:" + content_hash(prompt, response))
    if not keys:
        raise ValueError(f"{where}: missing key 'prompt' and 'response' (or 'trace_id', or 'task_id' with "
                         "'sample'): nothing says which response this line is about")
    gkey, gid = _first(obj, GROUP_KEYS)
    group = f"{gkey}:{gid}" if gid is not None else ("prompt:" + content_hash(prompt) if prompt is not None
                                                      else f"trace:{trace}")
    slices = {}
    for name, aliases in SLICE_KEYS.items():
        _, v = _first(look, aliases)
        if v is not None and not isinstance(v, dict | list):
            slices[name] = str(v)
    known = {"prompt", *RESPONSE_KEYS, *SCORE_KEYS, *OUTCOME_KEYS, "trace_id"}
    meta = {k: v for k, v in obj.items() if k not in known}
    return ScoredResponse(lineno, prompt, response, None if score is None else float(score), value, group,
                          tuple(keys), trace, slices, meta)


def read_scored(path: str | Path, *, need_score: bool = True, need_outcome: bool = True,
                side: str = "responses", outcome_name: str | None = None) -> list[ScoredResponse]:
    """Read a JSONL file of scored responses; every bad line is collected and an InputError names the first (file,
    line and key) with a count of the rest. An empty file is an error too.

    Exported production events (FORMATS.md, Event) read as they are: on the `responses` side only `generation`
    events count, on the `outcomes` side only `outcome` events (of `outcome_name`, when given); feedback and
    corrections are left out on both."""
    if side not in ("responses", "outcomes"):
        raise ValueError(f"side must be 'responses' or 'outcomes', got {side!r}")
    wanted = "generation" if side == "responses" else "outcome"
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    rows: list[ScoredResponse] = []
    bad: list[BadLine] = []
    n_bad = 0
    for lineno, obj, raw in iter_jsonl(path):
        if isinstance(obj, BadLine):
            n_bad += 1
            if len(bad) < MAX_LISTED:
                bad.append(obj)
            continue
        kind = obj.get("type")
        if isinstance(kind, str) and kind in EVENT_TYPES and kind != wanted:
            continue
        if outcome_name is not None and obj.get("name") != outcome_name:
            continue
        try:
            rows.append(_row(obj, lineno, str(path), need_score, need_outcome))
        except ValueError as exc:
            n_bad += 1
            if len(bad) < MAX_LISTED:
                msg = str(exc).removeprefix(f"{path}:{lineno}: ")
                bad.append(BadLine(str(path), lineno, None, msg, raw))
    if bad:
        raise InputError(bad[0], bad, n_bad)
    if not rows:
        what = f"no outcome named {outcome_name!r}" if outcome_name is not None else f"no {side}"
        raise InputError(BadLine(str(path), 0, None, f"{what} in the file"))
    return rows


def join_outcomes(scored: Iterable[ScoredResponse], outcomes: Iterable[ScoredResponse], *,
                  outcomes_file: str = "outcomes") -> tuple[list[ScoredResponse], int]:
    """Each scored response with the outcome of the same key (trace, task + sample, or prompt + response);
    returns (joined rows, number of scored responses left without an outcome). A key with two different outcomes
    is a ValueError naming both lines."""
    by_key: dict[str, ScoredResponse] = {}
    for o in outcomes:
        for key in o.keys:
            seen = by_key.get(key)
            if seen is not None and seen.value != o.value:
                raise ValueError(f"{outcomes_file}: lines {seen.line} and {o.line} give different outcomes for the "
                                 f"same response (same {key.split(':', 1)[0]} key)")
            by_key[key] = o
    joined, missing = [], 0
    for s in scored:
        o = next((by_key[k] for k in s.keys if k in by_key), None)
        if o is None:
            if s.value is None:
                missing += 1
                continue
            joined.append(s)
            continue
        joined.append(replace(s, value=o.value, slices={**o.slices, **s.slices}, meta={**o.meta, **s.meta},
                              prompt=s.prompt if s.prompt is not None else o.prompt,
                              response=s.response if s.response is not None else o.response))
    return joined, missing
