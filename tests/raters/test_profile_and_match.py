"""Written target profiles, candidate files, match scores with reasons, the ranked recruit list."""

from __future__ import annotations

from pathlib import Path

import pytest

from tether.io import InputError
from tether.raters.match import match, rank, score_attribute
from tether.raters.profile import AttributeSpec, load_profile, read_candidates
from tether.records import Rater

DATA = Path(__file__).parents[1] / "data" / "raters"


def test_toml_and_yaml_profiles_are_the_same():
    assert load_profile(DATA / "profile.toml") == load_profile(DATA / "profile.yaml")


def test_csv_and_jsonl_candidates_are_the_same():
    csv_ = {r.id: r for r in read_candidates(DATA / "candidates.csv")}
    jsonl = {r.id: r for r in read_candidates(DATA / "candidates.jsonl")}
    assert csv_.keys() == jsonl.keys() == {"ana", "ben", "cruz", "dev", "eli"}
    for rid in csv_:
        a, b = csv_[rid].attributes, jsonl[rid].attributes
        assert {k: v if isinstance(v, list) else [v] if k == "languages" else v for k, v in a.items()} == \
               {k: v if isinstance(v, list) else [v] if k == "languages" else v for k, v in b.items()}, rid


def test_scores_follow_the_written_rules():
    level = AttributeSpec(key="k", scale=["none", "basic", "intermediate", "expert"], min="intermediate")
    assert score_attribute(level, "expert").score == 1.0
    assert score_attribute(level, "basic").score == pytest.approx(1 - 1 / 3)  # one level short of three
    assert score_attribute(level, None).score == 0.0
    target = AttributeSpec(key="t", scale=["low", "medium", "high"], target="high")
    assert [score_attribute(target, v).score for v in ("high", "medium", "low")] == [1.0, 0.5, 0.0]
    langs = AttributeSpec(key="languages", all_of=["en", "es"])
    assert score_attribute(langs, ["EN", "es", "fr"]).score == 1.0
    assert score_attribute(langs, "es").score == 0.5
    assert "missing ['en']" in score_attribute(langs, "es").reason
    years = AttributeSpec(key="y", min=4)
    assert score_attribute(years, 2).score == 0.5 and score_attribute(years, 9).score == 1.0
    assert score_attribute(years, "lots").score == 0.0


def test_ranked_recruit_list_with_reasons():
    profile = load_profile(DATA / "profile.toml")
    ranked = rank(profile, read_candidates(DATA / "candidates.csv"))
    order = [m.rater.id for m in ranked]
    # eligible first (domain knowledge >= intermediate is required), by weighted score
    assert [m.rater.id for m in ranked if m.eligible] == ["ana", "dev", "ben"]
    assert order[3:] == ["cruz", "eli"]
    ana, dev, ben = ranked[:3]
    assert ana.score == pytest.approx(1.0)
    weights = {a.key: a.weight for a in profile.attribute}
    # dev is not a clinician: loses exactly the background weight
    assert dev.score == pytest.approx(1 - weights["background"] / sum(weights.values()))
    assert "background='software engineer' not in" in dev.reason
    cruz = next(m for m in ranked if m.rater.id == "cruz")
    assert not cruz.eligible and cruz.reason.startswith("domain_knowledge=basic 1 level(s) outside")
    eli = ranked[-1]
    assert "domain_knowledge unknown" in eli.reason


def test_unknown_attributes_on_the_rater_record_are_read():
    profile = load_profile(DATA / "profile.toml")
    r = Rater.model_validate({"id": "x", "domain_knowledge": "expert"})  # extra key, not in attributes
    assert match(profile, r).parts[0].score == 1.0


@pytest.mark.parametrize("text, needle", [
    ('name = "p"\n[[attribute]]\nkey = "k"\nweight = 1\n', "give a rule"),
    ('name = "p"\n[[attribute]]\nkey = "k"\nscale = ["a", "b"]\nmin = "c"\n', "not on its scale"),
    ('name = "p"\n[[attribute]]\nkey = "k"\nmin = 1\nweight = -1\n', "attribute.0.weight"),
    ('name = "p"\n[[attribute]]\nkey = "k"\nmin = 1\nbogus = 2\n', "attribute.0.bogus"),
    ('name = "p"\nattribute = []\n', "attribute"),
    ('name = \n', "not valid TOML"),
])
def test_bad_profiles_name_file_and_key(tmp_path: Path, text: str, needle: str):
    path = tmp_path / "p.toml"
    path.write_text(text)
    with pytest.raises(ValueError) as err:
        load_profile(path)
    assert str(path) in str(err.value) and needle in str(err.value)


def test_bad_candidate_files_name_file_and_line(tmp_path: Path):
    bad = tmp_path / "c.jsonl"
    bad.write_text('{"id": "a"}\n{"name": "no id"}\n')
    with pytest.raises(InputError) as err:
        read_candidates(bad)
    assert err.value.line == 2 and "id" in str(err.value)
    dup = tmp_path / "d.csv"
    dup.write_text("id,x\na,1\na,2\n")
    with pytest.raises(InputError, match=r"d.csv:3: key 'id': rater 'a' appears twice"):
        read_candidates(dup)
    noid = tmp_path / "n.csv"
    noid.write_text("name,x\na,1\n")
    with pytest.raises(InputError, match="needs an 'id' column"):
        read_candidates(noid)
