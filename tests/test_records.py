"""Validation lives in the records: the same bad input is refused the same way everywhere."""

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

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
