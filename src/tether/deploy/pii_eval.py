"""Recall and precision of the redactor per PII type on a labelled set (JSONL of text + spans)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from tether.deploy.pii import Finding, Redactor


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


def evaluate(redactor: Redactor, path: Path) -> dict[str, dict[str, float]]:
    """Per type: gold count, recall, precision (a prediction is correct if it overlaps a gold span of its type),
    and `removed`: the share of planted values that redaction removes whatever type it calls them (a URL token
    caught as a SECRET is not recalled as a URL_TOKEN but does not leak)."""
    gold: Counter[str] = Counter()
    hit: Counter[str] = Counter()
    removed: Counter[str] = Counter()
    pred: Counter[str] = Counter()
    correct: Counter[str] = Counter()
    misses: dict[str, list[str]] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            row = json.loads(line)
            text, spans = row["text"], row["spans"]
        except (ValueError, KeyError) as exc:
            raise ValueError(f"{path}:{lineno}: not a labelled PII row ({exc})") from None
        found = redactor.find(text)
        for span in spans:
            gold[span["type"]] += 1
            if any(_covers(f, span) for f in found):
                hit[span["type"]] += 1
            if _removed(found, span):
                removed[span["type"]] += 1
            else:
                misses.setdefault(span["type"], []).append(span["value"])
        for f in found:
            pred[f.type] += 1
            if any(f.type == s["type"] and f.start < s["end"] and s["start"] < f.end for s in spans):
                correct[f.type] += 1
    out: dict[str, dict[str, float]] = {}
    for t in sorted(set(gold) | set(pred)):
        out[t] = {
            "gold": gold[t],
            "recall": hit[t] / gold[t] if gold[t] else float("nan"),
            "predicted": pred[t],
            "precision": correct[t] / pred[t] if pred[t] else float("nan"),
            "removed": removed[t] / gold[t] if gold[t] else float("nan"),
        }
    out["_misses"] = misses  # type: ignore[assignment]
    return out
