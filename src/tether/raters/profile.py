"""A written target profile of the raters a task needs, and candidate rater files (JSONL or CSV).

A profile (TOML or YAML) lists attributes, each with a weight and whether it is required:

    name = "clinical-helpfulness"
    description = "Practising clinicians who read English and Spanish"
    [[attribute]]
    key = "domain_knowledge"
    scale = ["none", "basic", "intermediate", "expert"]   # ordinal: a minimum level
    min = "intermediate"
    weight = 3
    required = true
    [[attribute]]
    key = "languages"
    all_of = ["en", "es"]          # or any_of; works on a list or a single value
    weight = 2
    [[attribute]]
    key = "technical_tolerance"
    scale = ["low", "medium", "high"]
    target = "medium"              # ordinal: closeness to a target level
    [[attribute]]
    key = "years_experience"
    min = 3                        # numeric: a minimum (and/or max)
"""

from __future__ import annotations

import csv
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, model_validator

from tether.io.errors import BadLine, InputError, bad_from_validation
from tether.io.jsonl import iter_jsonl
from tether.records import Rater, RaterProfile


class AttributeSpec(BaseModel):
    """What the profile wants of one attribute, how much it counts, and whether it is a must."""

    model_config = ConfigDict(extra="forbid")
    key: StrictStr = Field(min_length=1)
    weight: float = Field(default=1.0, gt=0.0, allow_inf_nan=False)
    required: bool = False
    scale: list[StrictStr] | None = None
    min: float | StrictStr | None = None
    max: float | StrictStr | None = None
    target: StrictStr | None = None
    any_of: list[Any] | None = None
    all_of: list[Any] | None = None
    equals: Any = None

    @model_validator(mode="after")
    def _one_rule(self) -> AttributeSpec:
        rules = [n for n in ("min", "max", "target", "any_of", "all_of", "equals") if getattr(self, n) is not None]
        if not rules:
            raise ValueError(f"attribute {self.key!r}: give a rule (min, max, target, any_of, all_of or equals)")
        if self.scale is not None:
            for name in ("min", "max", "target"):
                value = getattr(self, name)
                if value is not None and value not in self.scale:
                    raise ValueError(f"attribute {self.key!r}: {name}={value!r} is not on its scale {self.scale}")
        elif self.target is not None:
            raise ValueError(f"attribute {self.key!r}: 'target' needs a 'scale'")
        else:
            for name in ("min", "max"):
                if isinstance(getattr(self, name), str):
                    raise ValueError(f"attribute {self.key!r}: {name} is a level name but there is no 'scale'")
        return self


class TargetProfile(BaseModel):
    """A written target rater population."""

    model_config = ConfigDict(extra="forbid")
    name: StrictStr = Field(min_length=1)
    description: StrictStr = ""
    attribute: list[AttributeSpec] = Field(min_length=1)

    def to_record(self) -> RaterProfile:
        """The profile as the shared `RaterProfile` record (for `Store.save_profile`)."""
        return RaterProfile(name=self.name, description=self.description,
                            attributes={a.key: a.model_dump(exclude_none=True, exclude={"key"})
                                        for a in self.attribute})


def load_profile(path: Path) -> TargetProfile:
    """Read a TOML or YAML target profile; errors name the file and the key."""
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = tomllib.loads(text)
    except Exception as exc:  # noqa: BLE001 - tomllib and yaml raise different types
        raise ValueError(f"{path}: not valid {'YAML' if path.suffix in ('.yaml', '.yml') else 'TOML'}: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    try:
        return TargetProfile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        raise ValueError(f"{path}: key {key!r}: {err['msg']}") from None


def _rater_from(obj: dict[str, Any]) -> Rater:
    """`id`, optional `name`, and every other key (or an `attributes` object) as attributes."""
    attributes = dict(obj.get("attributes") or {})
    attributes.update({k: v for k, v in obj.items() if k not in ("id", "name", "attributes")})
    return Rater(id=obj.get("id"), name=obj.get("name"), attributes=attributes)


def _csv_value(value: str) -> Any:
    """CSV cells: `a;b` is a list, numbers are numbers, true/false are booleans, empty is missing."""
    value = value.strip()
    if ";" in value:
        return [v.strip() for v in value.split(";") if v.strip()]
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def read_candidates(path: Path) -> list[Rater]:
    """Candidate raters from JSONL (one object a line) or CSV (header row, `id` column required)."""
    raters: list[Rater] = []
    if path.suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or "id" not in reader.fieldnames:
                raise InputError(BadLine(str(path), 1, "id", "the header needs an 'id' column"))
            rows = [(i, {k: v.strip() if k in ("id", "name") else _csv_value(v)
                         for k, v in row.items() if k is not None and v is not None and v.strip() != ""})
                    for i, row in enumerate(reader, start=2)]
    else:
        rows = []
        for lineno, obj, _raw in iter_jsonl(path):
            if isinstance(obj, BadLine):
                raise InputError(obj)
            rows.append((lineno, obj))
    seen: set[str] = set()
    for lineno, obj in rows:
        try:
            rater = _rater_from(obj)
        except ValidationError as exc:
            raise InputError(bad_from_validation(str(path), lineno, exc)) from None
        if rater.id in seen:
            raise InputError(BadLine(str(path), lineno, "id", f"rater {rater.id!r} appears twice"))
        seen.add(rater.id)
        raters.append(rater)
    if not raters:
        raise InputError(BadLine(str(path), 0, None, "no candidates in file"))
    return raters


def stored_raters(store) -> list[Rater]:  # noqa: ANN001 - a tether.store.Store
    """Every rater in the store with their attributes (the candidates when no file is given)."""
    return store.raters()
