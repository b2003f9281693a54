"""Recall and precision of the redactor per PII type on a labelled set (JSONL of text + spans).

Two ways to get the findings of a labelled text: `Redactor.find` on it (`evaluate`), or, end to end, read them
back from what a pipeline stored for it (`findings_in_stored`): the server replaces each finding by its keyed
placeholder and keeps every other character, so the stored text tells which spans of the sent text were
replaced and as which type. Both are scored alike (`Tally`)."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tether.deploy.pii import PII_TYPES, Finding, Redactor

# keyed (`<EMAIL_k1_3f2a…>`), legacy (`<EMAIL_3f2a9c>`) and the SDK spool's unkeyed (`<EMAIL>`) placeholders
PLACEHOLDER = re.compile(r"<(" + "|".join(PII_TYPES) + r")(?:_[a-z][a-z0-9]{0,7})?(?:_[0-9a-f]{6,64})?>")


def _covers(f: Finding, span: dict) -> bool:
    # a planted value counts as found when a finding of its type removes all of it
    return f.type == span["type"] and f.start <= span["start"] and f.end >= span["end"]


def _removed(found: list[Finding], span: dict) -> bool:
    # every character of the planted value is inside some finding (of any type)
    pos = span["start"]
    for f in found:
        if f.start <= pos < f.end:
            pos = f.end
    return pos >= span["end"]


def read_labelled(path: Path) -> Iterator[dict[str, Any]]:
    """The rows of a labelled JSONL file ({text, spans: [{type, start, end, value}]}), or ValueError naming the line."""
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            row = json.loads(line)
            if not isinstance(row["text"], str) or not isinstance(row["spans"], list):
                raise KeyError("text or spans")
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{lineno}: not a labelled PII row ({exc})") from None
        yield row


class Tally:
    """Counts per type over labelled texts and their findings: gold, recalled (a finding of the type covers the
    whole value), removed (every character inside some finding, whatever its type), predicted, correct (a finding
    overlapping a gold value of its type)."""

    def __init__(self) -> None:
        self.gold: Counter[str] = Counter()
        self.hit: Counter[str] = Counter()
        self.removed: Counter[str] = Counter()
        self.pred: Counter[str] = Counter()
        self.correct: Counter[str] = Counter()
        self.misses: dict[str, list[str]] = {}

    def add(self, spans: list[dict], found: list[Finding]) -> None:
        for span in spans:
            self.gold[span["type"]] += 1
            if any(_covers(f, span) for f in found):
                self.hit[span["type"]] += 1
            if _removed(found, span):
                self.removed[span["type"]] += 1
            else:
                self.misses.setdefault(span["type"], []).append(span["value"])
        for f in found:
            self.pred[f.type] += 1
            if any(f.type == s["type"] and f.start < s["end"] and s["start"] < f.end for s in spans):
                self.correct[f.type] += 1

    def result(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for t in sorted(set(self.gold) | set(self.pred)):
            g, p = self.gold[t], self.pred[t]
            out[t] = {"gold": g, "recall": self.hit[t] / g if g else float("nan"), "predicted": p,
                      "precision": self.correct[t] / p if p else float("nan"),
                      "removed": self.removed[t] / g if g else float("nan")}
        out["_misses"] = self.misses  # type: ignore[assignment]
        return out


def evaluate(redactor: Redactor, path: Path) -> dict[str, dict[str, float]]:
    """Per type: gold count, recall, precision (a prediction is correct if it overlaps a gold span of its type),
    and `removed`: the share of planted values that redaction removes whatever type it calls them (a URL token
    caught as a SECRET is not recalled as a URL_TOKEN but does not leak)."""
    tally = Tally()
    for row in read_labelled(path):
        tally.add(row["spans"], redactor.find(row["text"]))
    return tally.result()


def findings_in_stored(sent: str, stored: str, redactor: Redactor | None = None) -> list[Finding] | None:
    """The spans of `sent` that became placeholders in `stored`, as findings; None when `stored` is not `sent`
    with some spans replaced by placeholders (the pipeline changed it otherwise).

    Between two placeholders the stored text is the sent text verbatim; where that literal occurs more than
    once, the span whose keyed pseudonym (under `redactor`, the tenant's) equals the stored placeholder is the
    one that was replaced; without a redactor (unkeyed placeholders), the shortest."""
    parts = PLACEHOLDER.split(stored)  # literal, type, literal, type, ..., literal
    literals, types = parts[0::2], parts[1::2]
    placeholders = [m.group(0) for m in PLACEHOLDER.finditer(stored)]
    if not sent.startswith(literals[0]):
        return None
    pos = len(literals[0])
    found: list[Finding] = []
    for i, type_ in enumerate(types):
        nxt = literals[i + 1]
        last = i + 1 == len(types)
        ends = [len(sent) - len(nxt)] if last else _occurrences(sent, nxt, pos + 1)
        ends = [e for e in ends if e > pos and sent.startswith(nxt, e)]
        if not ends:
            return None
        end = ends[0]
        if len(ends) > 1 and redactor is not None:
            end = next((e for e in ends if redactor.pseudonym(type_, sent[pos:e]) == placeholders[i]), end)
        found.append(Finding(type_, pos, end, sent[pos:end]))
        pos = end + len(nxt)
    return found if pos == len(sent) else None


def _occurrences(text: str, sub: str, start: int) -> list[int]:
    out = []
    i = text.find(sub, start)
    while i != -1 and len(out) < 64:
        out.append(i)
        i = text.find(sub, i + 1)
    return out
