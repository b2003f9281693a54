"""The import path's validation of a v1 comparison line: `comparison_fields` accepts the common shape of a valid
line as plain fields (`ComparisonFields`), a subset of what `records.Comparison` accepts with the same values, and
leaves every other line to the model, which also names every error. Building a model object costs as much as
validating it, so a bulk import of millions of lines skips it (`tests/test_records.py` holds the two together)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, NamedTuple

from tether.records import Comparison, _check_integers, _utc, content_hash, default_pair_id


class ComparisonFields(NamedTuple):
    """A comparison as plain values, for the import path: what `Comparison` would hold, without a model object
    (building one costs as much as validating it). Made by `comparison_fields`, or `of` a `Comparison`."""

    prompt: str
    response_a: str
    response_b: str
    shown_first: str
    choice: str
    rater: str
    pair_id: str
    objective: str
    task_type: str
    confidence: float | None
    campaign: str | None
    interface: str | None
    rubric_version: str | None
    created_at: datetime | None
    extra: dict[str, Any] | None

    @classmethod
    def of(cls, c: Comparison) -> ComparisonFields:
        return cls(c.prompt, c.response_a, c.response_b, c.shown_first.value, c.choice.value, c.rater,
                   c.pair_id or "", c.objective, c.task_type, c.confidence, c.campaign, c.interface, c.rubric_version,
                   c.created_at, c.__pydantic_extra__ or None)

    def dedup_key(self) -> str:
        """`Comparison.dedup_key`, the same digest."""
        return content_hash(self.pair_id, self.rater, self.objective, self.shown_first, self.campaign or "",
                            self.interface or "", self.rubric_version or "",
                            self.created_at.isoformat() if self.created_at else "")


_COMPARISON_KEYS = frozenset(Comparison.model_fields)
_OPTIONAL_TEXT = ("campaign", "interface", "rubric_version")
# RFC 3339 as JSON writers emit it; anything else (a space, a date alone, epoch numbers...) goes to the model
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)?")


def comparison_fields(obj: dict[str, Any]) -> ComparisonFields | None:
    """The fields of `Comparison.model_validate(obj)` for the common shape of a valid v1 line, 4x faster; None
    when `obj` is anything else (invalid, or valid in a rarer form): then the model decides and names the error.

    It accepts a subset of what the model accepts and gives the same values
    (`tests/test_records.py::test_comparison_fields_agree_with_the_model` holds them together)."""
    get = obj.get
    prompt, a, b, rater = get("prompt"), get("response_a"), get("response_b"), get("rater")
    if type(prompt) is not str or type(a) is not str or type(b) is not str or type(rater) is not str or not rater:
        return None
    shown, choice = get("shown_first"), get("choice")
    if (shown != "a" and shown != "b") or (choice != "a" and choice != "b" and choice != "tie"):
        return None
    if type(shown) is not str or type(choice) is not str:
        return None
    pair_id, objective, task_type = get("pair_id"), get("objective", "overall"), get("task_type", "default")
    if (pair_id is not None and type(pair_id) is not str) or type(objective) is not str or type(task_type) is not str:
        return None
    for key in _OPTIONAL_TEXT:
        value = get(key)
        if value is not None and type(value) is not str:
            return None
    confidence = get("confidence")
    if confidence is not None:
        if (type(confidence) is not float and type(confidence) is not int) or not 0.0 <= confidence <= 1.0:
            return None
        confidence = float(confidence)
    created = get("created_at")
    if created is not None:
        if type(created) is not str or not _RFC3339.fullmatch(created):
            return None
        try:
            created = _utc(datetime.fromisoformat(created))
        except ValueError:
            return None
    for value in (prompt, a, b, rater, pair_id, objective, task_type, *map(get, _OPTIONAL_TEXT)):
        if value is not None and "\x00" in value:
            return None
    extra = None
    if len(obj) > len(_COMPARISON_KEYS) or not _COMPARISON_KEYS.issuperset(obj):
        extra = {k: v for k, v in obj.items() if k not in _COMPARISON_KEYS} or None
        if extra:
            try:
                _check_integers(extra, "")
            except ValueError:
                return None
    if pair_id is None:
        pair_id = default_pair_id(prompt, a, b)
    return ComparisonFields(prompt, a, b, shown, choice, rater, pair_id, objective, task_type, confidence,
                            get("campaign"), get("interface"), get("rubric_version"), created, extra)
