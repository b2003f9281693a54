"""Comparisons -> integer arrays: codes, items per (pair_id, objective), display frame, groups, errors."""

from __future__ import annotations

import numpy as np
import pytest

from tether.audit import build_table
from tether.records import Comparison


def _c(pid: str, rater: str, shown: str, choice: str, **kw) -> Comparison:
    return Comparison(prompt=f"p{pid}", response_a=f"a{pid}", response_b=f"bb{pid}", pair_id=pid, rater=rater,
                      shown_first=shown, choice=choice, **kw)


def test_codes_and_columns():
    rows = [_c("1", "r1", "a", "a", campaign="c", interface="web", batch=7),
            _c("1", "r2", "b", "tie", objective="safety", task_type="t2"),
            _c("2", "r1", "b", "b", task_type="t1")]
    t = build_table(rows)
    assert t.n_judgments == 3 and t.n_items == 3  # pair 1 on two objectives = two items
    assert t.label.tolist() == [0, 2, 1] and t.shown_first.tolist() == [0, 1, 1]
    assert t.rater_names == ["r1", "r2"] and t.rater.tolist() == [0, 1, 0]
    assert t.len_a.tolist() == [2, 2, 2] and t.len_b.tolist() == [3, 3, 3]
    assert t.campaign.tolist() == [0, -1, -1] and t.batch_names == ["7"] and t.interface_names == ["web"]
    assert [(e.pair_id, e.objective, e.task_type) for e in t.examples] == [
        ("1", "overall", "default"), ("1", "safety", "t2"), ("2", "overall", "t1")]
    assert t.counts().tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]]
    groups = t.groups()
    assert list(groups) == [("default", "overall"), ("t1", "overall"), ("t2", "safety")]
    assert groups[("t1", "overall")].examples[0].pair_id == "2" and groups[("t1", "overall")].rater_names == ["r1"]
    assert list(t.by_task_type()) == ["default", "t1", "t2"]


def test_display_frame():
    t = build_table([_c("1", "r", "a", "a"), _c("1", "r", "b", "a"), _c("1", "s", "b", "b"), _c("1", "s", "a", "tie")])
    # first / second / tie as the rater saw it
    assert t.in_display_frame().label.tolist() == [0, 1, 0, 2]
    assert np.array_equal(t.label, np.array([0, 0, 1, 2]))  # the original is untouched


def test_one_pair_id_with_two_task_types_is_an_error():
    with pytest.raises(ValueError, match="pair_id '1'.*two task types"):
        build_table([_c("1", "r", "a", "a", task_type="x"), _c("1", "s", "a", "a", task_type="y")])
    with pytest.raises(TypeError, match="Comparison"):
        build_table([{"prompt": "p"}])
