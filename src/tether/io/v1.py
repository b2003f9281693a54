"""The v1 interchange formats of FORMATS.md: comparisons, ratings, preference pairs, events."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from tether.comparison_fields import ComparisonFields, comparison_fields
from tether.io.errors import BadLine, bad_from_validation
from tether.io.jsonl import iter_jsonl
from tether.records import Comparison, Event, PreferencePair, Rating

R = TypeVar("R", bound=BaseModel)
Item = tuple[int, Any] | BadLine


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def read_records(path: Path, model: type[R], on_bytes=None) -> Iterator[tuple[int, R] | BadLine]:  # noqa: ANN001
    """Validate each line of a JSONL file as `model`; bad lines come out as BadLine."""
    for lineno, obj, raw in iter_jsonl(path, on_bytes):
        if isinstance(obj, BadLine):
            yield obj
            continue
        try:
            yield lineno, model.model_validate(obj)
        except ValidationError as exc:
            yield bad_from_validation(str(path), lineno, exc, raw)


def read_comparisons(path: Path, on_bytes=None) -> Iterator[tuple[int, Comparison] | BadLine]:  # noqa: ANN001
    return read_records(path, Comparison, on_bytes)


def read_comparison_fields(path: Path, on_bytes=None) -> Iterator[tuple[int, ComparisonFields] | BadLine]:  # noqa: ANN001
    """`read_comparisons` for the import path: the same lines accepted and refused with the same errors, as plain
    fields (`comparison_fields`, the model only for lines outside its common shape)."""
    for lineno, obj, raw in iter_jsonl(path, on_bytes):
        if isinstance(obj, BadLine):
            yield obj
            continue
        fields = comparison_fields(obj)
        if fields is not None:
            yield lineno, fields
            continue
        try:
            yield lineno, ComparisonFields.of(Comparison.model_validate(obj))
        except ValidationError as exc:
            yield bad_from_validation(str(path), lineno, exc, raw)


def read_ratings(path: Path, on_bytes=None) -> Iterator[tuple[int, Rating] | BadLine]:  # noqa: ANN001
    return read_records(path, Rating, on_bytes)


def read_pairs(path: Path, on_bytes=None) -> Iterator[tuple[int, PreferencePair] | BadLine]:  # noqa: ANN001
    return read_records(path, PreferencePair, on_bytes)


def read_events(path: Path, on_bytes=None) -> Iterator[tuple[int, Event] | BadLine]:  # noqa: ANN001
    return read_records(path, Event, on_bytes)


_COMPARISON_OPTIONAL = ("confidence", "campaign", "interface", "rubric_version")


def comparison_to_v1(c: Comparison) -> dict[str, Any]:
    """A comparison as a v1 object: documented keys first, then kept metadata."""
    out: dict[str, Any] = {
        "prompt": c.prompt,
        "response_a": c.response_a,
        "response_b": c.response_b,
        "shown_first": c.shown_first.value,
        "choice": c.choice.value,
        "rater": c.rater,
        "pair_id": c.pair_id,
        "objective": c.objective,
        "task_type": c.task_type,
    }
    return _with_optional(out, c, _COMPARISON_OPTIONAL)


def _with_optional(out: dict[str, Any], record: Comparison | Rating, optional: tuple[str, ...]) -> dict[str, Any]:
    """`out` with the record's optional keys that have a value, its time, then its kept metadata."""
    for key in optional:
        value = getattr(record, key)
        if value is not None:
            out[key] = value
    if record.created_at is not None:
        out["created_at"] = _iso(record.created_at)
    for key, value in record.extras.items():
        out.setdefault(key, value)
    return out


_RATING_OPTIONAL = ("scale_labels", "campaign", "interface", "rubric_version", "rationale")


def rating_to_v1(r: Rating) -> dict[str, Any]:
    """A rating as a v1 object: documented keys first, then kept metadata."""
    out: dict[str, Any] = {
        "prompt": r.prompt if isinstance(r.prompt, str) else [t.model_dump() for t in r.prompt],
        "response": r.response,
        "score": r.score,
        "scale_min": r.scale_min,
        "scale_max": r.scale_max,
        "rater": r.rater,
        "item_id": r.item_id,
        "objective": r.objective,
        "task_type": r.task_type,
    }
    return _with_optional(out, r, _RATING_OPTIONAL)


def pair_to_v1(p: PreferencePair) -> dict[str, Any]:
    """A preference pair as a v1 object."""
    out: dict[str, Any] = {
        "prompt": p.prompt,
        "chosen": p.chosen,
        "rejected": p.rejected,
        "weight": p.weight,
        "tie": p.tie,
        "objective": p.objective,
    }
    if p.p_chosen is not None:
        out["p_chosen"] = p.p_chosen
    if p.provenance:
        out["provenance"] = p.provenance
    for key, value in p.extras.items():
        out.setdefault(key, value)
    return out


def event_to_v1(e: Event) -> dict[str, Any]:
    """An event as a v1 object (keys without a value are left out)."""
    out: dict[str, Any] = {
        "event_id": e.event_id,
        "type": e.type.value,
        "trace_id": e.trace_id,
        "timestamp": _iso(e.timestamp),
    }
    for key in ("model", "prompt", "response", "name", "value", "corrected_response"):
        value = getattr(e, key)
        if value is not None:
            out[key] = value
    if e.attributes:
        out["attributes"] = e.attributes
    for key, value in e.extras.items():
        out.setdefault(key, value)
    return out


def comparisons_to_v1(items: Iterable[Comparison]) -> Iterator[dict[str, Any]]:
    return (comparison_to_v1(c) for c in items)


def pairs_to_v1(items: Iterable[PreferencePair]) -> Iterator[dict[str, Any]]:
    return (pair_to_v1(p) for p in items)
