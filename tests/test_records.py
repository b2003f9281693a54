"""Validation lives in the records: the same bad input is refused the same way everywhere."""

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tether.comparison_fields import ComparisonFields, comparison_fields
from tether.io import InputError, import_file
from tether.records import Comparison, Event, PreferencePair
from tether.store import Store

BASE = {"prompt": "p", "response_a": "x", "response_b": "y", "shown_first": "a", "choice": "b", "rater": "r"}


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"shown_first": "left"}, "shown_first"),
        ({"choice": "first"}, "choice"),
        ({"rater": 7}, "rater"),
        ({"confidence": 1.5}, "confidence"),
        ({"prompt": "nul\x00byte"}, "prompt"),
        ({"created_at": "yesterday"}, "created_at"),
    ],
)
def test_comparison_rejects_bad_fields_naming_the_key(change: dict, key: str):
    with pytest.raises(ValidationError) as err:
        Comparison.model_validate({**BASE, **change})
    assert err.value.errors()[0]["loc"] == (key,)


def test_default_pair_id_depends_on_the_three_texts_only():
    a = Comparison.model_validate({**BASE, "rater": "r1"})
    b = Comparison.model_validate({**BASE, "rater": "r2", "shown_first": "b"})
    c = Comparison.model_validate({**BASE, "response_b": "z"})
    assert a.pair_id == b.pair_id != c.pair_id
    assert a.dedup_key() != b.dedup_key()


def test_event_requires_the_fields_of_its_type():
    with pytest.raises(ValidationError, match="model, prompt, response required"):
        Event.model_validate({"event_id": "e", "type": "generation", "trace_id": "t",
                              "timestamp": "2026-01-01T00:00:00Z"})
    with pytest.raises(ValidationError, match="not a boolean"):
        Event.model_validate({"event_id": "e", "type": "feedback", "trace_id": "t", "name": "thumbs",
                              "value": True, "timestamp": "2026-01-01T00:00:00Z"})


def test_preference_pair_bounds():
    with pytest.raises(ValidationError):
        PreferencePair(prompt="p", chosen="c", rejected="r", p_chosen=0.2)
    with pytest.raises(ValidationError):
        PreferencePair(prompt="p", chosen="c", rejected="r", weight=-1)


def test_nul_in_a_file_is_refused_on_every_backend_and_nothing_is_lost(store: Store, tmp_path: Path):
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(BASE) + "\n")
    import_file(store, "comparisons", good)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**BASE, "rater": "r2"}) + "\n" + json.dumps({**BASE, "response_b": "a\x00b"}) + "\n")
    with pytest.raises(InputError) as err:
        import_file(store, "comparisons", bad)
    assert (err.value.line, err.value.key) == (2, "response_b")
    assert [c.rater for c in store.iter_comparisons()] == ["r"]


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_timestamps_without_a_utc_time_are_validation_errors(stamp: str) -> None:
    """They raised OverflowError (a 500 over HTTP, a traceback past --skip-bad); now they name the field."""
    from pydantic import ValidationError

    from tether.records import Event

    with pytest.raises(ValidationError, match="(?s)timestamp.*out of range once converted to UTC"):
        Event(event_id="e", type="feedback", trace_id="t", timestamp=stamp, name="thumbs", value=1)
    with pytest.raises(ValidationError, match="created_at"):
        Comparison(prompt="p", response_a="a", response_b="b", shown_first="a", choice="a", rater="r",
                   created_at=stamp)


# -- the import path's fast validation (comparison_fields) against the model ----------------------------------------

_TEXT = st.one_of(st.text(max_size=8), st.sampled_from(["", "a", "b", "tie", "nul\x00", "A"]))
_ANY = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), _TEXT,
                 st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
_STAMP = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                 timezones=st.sampled_from([None, UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=5))]))
    .map(lambda d: d.isoformat()),
    st.sampled_from(["2025-01-01T00:00:00Z", "2025-01-01T00:00:00.1234567Z", "2025-01-01 00:00:00Z", "2025-01-01",
                     "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2025-02-30T00:00:00Z",
                     "2025-01-01T24:00:00Z", "2025-01-01T00:00:60Z", "2025-01-01T00:00:00+25:00", "1735689600"]),
)
_FIELDS = {
    "prompt": _TEXT, "response_a": _TEXT, "response_b": _TEXT, "rater": _TEXT, "pair_id": st.one_of(st.none(), _TEXT),
    "shown_first": _TEXT, "choice": _TEXT, "objective": _TEXT, "task_type": _TEXT, "campaign": _TEXT,
    "interface": _TEXT, "rubric_version": _TEXT,
    "confidence": st.one_of(st.floats(-0.5, 1.5), st.integers(-1, 2), st.sampled_from([0, 1, 0.0, 1.0, True, "0.5"])),
    "created_at": st.one_of(_STAMP, st.integers(0, 2**40)),
}


@st.composite
def _comparison_objects(draw) -> dict:
    obj = {k: draw(st.sampled_from(["a", "b"])) if k in ("shown_first", "choice") else "text"
           for k in ("prompt", "response_a", "response_b", "shown_first", "choice", "rater")}
    for key in draw(st.sets(st.sampled_from(sorted(_FIELDS)))):  # some fields changed, mostly to odd values
        obj[key] = draw(st.one_of(_FIELDS[key], _ANY))
    for key in draw(st.sets(st.sampled_from(["prompt", "choice", "rater"]), max_size=1)):
        del obj[key]
    obj.update(draw(st.dictionaries(st.sampled_from(["meta", "source", "n"]), _ANY, max_size=2)))
    return obj


@settings(max_examples=1500, deadline=None)
@given(_comparison_objects())
def test_comparison_fields_agree_with_the_model(obj: dict):
    """The fast path accepts only what the model accepts, with the very same values; the rest it leaves to it."""
    fast = comparison_fields(obj)
    try:
        model = ComparisonFields.of(Comparison.model_validate(obj))
    except ValidationError:
        assert fast is None
        return
    if fast is not None:
        assert fast == model
        assert [type(v) for v in fast] == [type(v) for v in model]
        assert fast.created_at is None or fast.created_at.isoformat() == model.created_at.isoformat()
        assert fast.dedup_key() == Comparison.model_validate(obj).dedup_key()


def test_comparison_fields_take_the_common_shape():
    line = {**BASE, "pair_id": "p1", "objective": "safety", "task_type": "code", "confidence": 1, "campaign": "c",
            "interface": "web", "rubric_version": "v2", "created_at": "2025-03-01T10:00:00.5+02:00", "batch": "b7"}
    fast = comparison_fields(line)
    assert fast == ComparisonFields.of(Comparison.model_validate(line))
    assert fast.created_at == datetime(2025, 3, 1, 8, 0, 0, 500000, tzinfo=UTC)
    assert fast.extra == {"batch": "b7"} and fast.confidence == 1.0
    assert comparison_fields(BASE).pair_id == Comparison.model_validate(BASE).pair_id


def test_integers_past_64_bits_are_refused_with_their_path_wherever_they_nest() -> None:
    base = {"event_id": "e", "type": "feedback", "trace_id": "t", "timestamp": "2026-01-01T00:00:00Z", "name": "thumbs",
            "value": 1}
    ok = {"a": [1, {"b": 2**64 - 1, "c": -(2**63)}], "flag": True, "s": "x" * 10}
    assert Event.model_validate({**base, "attributes": ok}).attributes == ok
    for attrs, path in (({"a": [1, {"b": 2**64}]}, "a[1].b"), ({"deep": {"x": [[-(2**63) - 1]]}}, "deep.x[0][0]")):
        with pytest.raises(ValueError, match=re.escape(path)):
            Event.model_validate({**base, "attributes": attrs})
    with pytest.raises(ValueError, match="extra_key"):
        Event.model_validate({**base, "extra_key": {"n": 2**70}})
