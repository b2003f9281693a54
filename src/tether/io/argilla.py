"""Argilla 2.x datasets with ranking or rating questions: `Dataset.to_disk` / `to_hub` folders, records JSON.

Layout (https://docs.argilla.io/latest/how_to_guides/import_export/, SDK `datasets/_io/_disk.py`):
`Dataset.to_disk(path)` writes `path/.argilla/dataset.json` (name, ...), `path/.argilla/settings.json`
(`fields` and `questions`, each `{"name", "settings": {"type", ...}}`; a ranking question's
`settings.options` is `[{"value", "text", "description"}]` in display order) and `path/records.json`: a JSON
array of `Record.to_dict()` — `{"id", "fields": {...}, "metadata", "suggestions", "responses": {question:
[{"value", "user_id", ("status")}]}, "vectors", "_server_id"}`. `dataset.records.to_json(file)` writes the
same array alone. A file is read as that array (a `.argilla/settings.json` beside it is used when present).
`Dataset.to_hub` repositories (downloaded) hold `.argilla/` and Parquet files of flattened records instead
(`<question>.responses`, `.responses.users`, `.responses.status` columns); they are read too (needs `tether[hf]`).

- Ranking question: its options name the record's response fields (Argilla's RLHF recipe: `values=
  ["response1", "response2"]`); a response's value is the options best first (SDK 2.x), or
  `[{"value", "rank"}]` where equal ranks are a tie. Each two ranked options give one comparison.
- Rating questions named after the field they rate (`<field>_rating` or `rating_<field>`): one user's
  ratings of two fields give one comparison, the higher rating chosen, equal ratings a tie.
- Display order: the ranking options' order (settings), else the order of the record's fields; the first
  of the two is response `a` and `shown_first`.
- The prompt: the record's first field that is not compared (`prompt` in the recipe).
- Rater `argilla-<user_id>`; campaign `argilla-<dataset name>` (from `.argilla/dataset.json`, else
  `argilla`); interface `argilla`; objective `overall`, or the question name when a record holds several
  ranking questions (all rating questions together are one, `rating`).
- Draft and discarded responses, and records without responses, are counted as skipped.
Errors name the record by its position in the array (records.json is written on one line), as the line.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tether.io.errors import BadLine, InputError, Skipped
from tether.io.sources import FieldError, convert_items, read_items
from tether.records import Choice, Comparison, Side

RECORDS = "records.json"
SETTINGS = Path(".argilla") / "settings.json"
DATASET = Path(".argilla") / "dataset.json"
INTERFACE = "argilla"
USED_STATUSES = (None, "submitted")


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(BadLine(str(path), 1, None, f"cannot read Argilla settings: {exc}")) from None


class Settings:
    """What `.argilla/settings.json` and `dataset.json` say: field order, question types, option order, name."""

    def __init__(self, root: Path | None) -> None:
        self.fields: list[str] = []
        self.types: dict[str, str] = {}
        self.options: dict[str, list[str]] = {}
        self.name = "argilla"
        if root is None:
            return
        if (root / SETTINGS).is_file():
            settings = _json(root / SETTINGS)
            if isinstance(settings, dict):
                self.fields = [f["name"] for f in settings.get("fields") or [] if isinstance(f, dict) and "name" in f]
                for q in settings.get("questions") or []:
                    if not isinstance(q, dict) or not isinstance(q.get("settings"), dict):
                        continue
                    self.types[q.get("name")] = q["settings"].get("type")
                    opts = q["settings"].get("options")
                    if isinstance(opts, list):
                        self.options[q.get("name")] = [o.get("value") for o in opts if isinstance(o, dict)]
        if (root / DATASET).is_file():
            dataset = _json(root / DATASET)
            if isinstance(dataset, dict) and isinstance(dataset.get("name"), str):
                self.name = f"argilla-{dataset['name']}"


def _rated_field(question: str, fields: dict[str, Any]) -> str | None:
    m = re.fullmatch(r"(.+)_rating|rating_(.+)", question)
    field = m and (m.group(1) or m.group(2))
    return field if field in fields else None


def _ranks(value: Any, key: str) -> dict[str, float]:
    """option -> rank (1 = best) from an SDK value (options best first) or a list of {value, rank}."""
    if not isinstance(value, list):
        raise FieldError(key, f"expected a ranking (a list of options), got {type(value).__name__}")
    ranks: dict[str, float] = {}
    for i, item in enumerate(value):
        if isinstance(item, str):
            ranks[item] = i + 1
        elif isinstance(item, dict) and isinstance(item.get("value"), str):
            rank = item.get("rank", i + 1)
            if isinstance(rank, bool) or not isinstance(rank, int | float):
                raise FieldError(f"{key}[{i}].rank", f"expected a number, got {rank!r:.80}")
            ranks[item["value"]] = rank
        else:
            raise FieldError(f"{key}[{i}]", f"expected an option name or {{value, rank}}, got {item!r:.80}")
    return ranks


def _users(responses: list[Any], key: str) -> Iterator[tuple[str, Any] | str]:
    """(user id, value) of each usable response; the status of each one left out."""
    if not isinstance(responses, list):
        raise FieldError(key, f"expected a list of responses, got {type(responses).__name__}")
    for i, r in enumerate(responses):
        if not isinstance(r, dict) or "value" not in r or not r.get("user_id"):
            raise FieldError(f"{key}[{i}]", "expected {value, user_id}")
        if r.get("status") not in USED_STATUSES:
            yield f"{r.get('status')} response"
            continue
        yield str(r["user_id"]), r["value"]


def record_items(record: dict[str, Any], settings: Settings) -> Iterator[Comparison | str]:
    """The comparisons of one record, and a reason string for each response left out."""
    fields = record.get("fields")
    if not isinstance(fields, dict):
        raise FieldError("fields", f"missing or not an object in record {record.get('id')!r} (is this Argilla 2.x "
                                   "records JSON?)")
    responses = record.get("responses") or {}
    if not isinstance(responses, dict):
        raise FieldError("responses", f"expected an object of question -> responses, got {type(responses).__name__}")
    order = [f for f in settings.fields if f in fields] + [f for f in fields if f not in settings.fields]
    # group (a ranking question, or "rating") -> user -> {field: score, higher is better}
    scores: dict[str, dict[str, dict[str, float]]] = {}
    ranking_questions = [q for q, rs in responses.items() if settings.types.get(q) == "ranking" or (
        settings.types.get(q) is None and isinstance(rs, list) and rs and isinstance(rs[0], dict)
        and isinstance(rs[0].get("value"), list))]
    for question, rs in responses.items():
        key = f"responses.{question}"
        if question in ranking_questions:
            group = question
        elif (field := _rated_field(question, fields)) is not None and settings.types.get(question) in (None,
                                                                                                      "rating"):
            group = "rating"
        else:
            continue  # a question Tether does not read (labels, text, spans)
        for item in _users(rs, key):
            if isinstance(item, str):
                yield item
                continue
            user, value = item
            by_field = scores.setdefault(group, {}).setdefault(user, {})
            if group == "rating":
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise FieldError(key, f"expected a rating number, got {value!r:.80}")
                by_field[field] = value
                continue
            for option, rank in _ranks(value, key).items():
                if option not in fields:
                    raise FieldError(key, f"ranking option {option!r} is not a field of the record: an option "
                                          "must name the response field it ranks")
                by_field[option] = -rank
    if not scores:
        yield "record without ranking or rating responses"
        return
    compared = {f for users in scores.values() for by_field in users.values() for f in by_field}
    prompt_key = next((f for f in order if f not in compared), None)
    if prompt_key is None or not isinstance(fields[prompt_key], str):
        raise FieldError("fields", "no prompt: every field is a ranked or rated response (or the first other "
                                   "field is not text)")
    several = len(scores) > 1
    for group, users in scores.items():
        shown = settings.options.get(group) or order
        shown = [f for f in shown if f in fields] + [f for f in order if f not in shown]
        for user, by_field in users.items():
            rated = [f for f in shown if f in by_field]
            for first, second in itertools.combinations(rated, 2):
                a, b = by_field[first], by_field[second]
                for f in (first, second):
                    if not isinstance(fields[f], str):
                        raise FieldError(f"fields.{f}", f"expected text, got {type(fields[f]).__name__}")
                yield Comparison.model_validate({
                    "argilla_record": record.get("id"), "argilla_question": group,
                    "argilla_fields": [prompt_key, first, second],
                    "prompt": fields[prompt_key], "response_a": fields[first], "response_b": fields[second],
                    "shown_first": Side.A, "choice": Choice.A if a > b else Choice.B if b > a else Choice.TIE,
                    "rater": f"argilla-{user}", "objective": group if several else "overall",
                    "campaign": settings.name, "interface": INTERFACE,
                })


def hub_records(root: Path, settings: Settings) -> Iterator[dict[str, Any]]:
    """Records of a `Dataset.to_hub` repository on disk (Parquet files of flattened rows, as
    `records.to_datasets()` writes them: field and metadata columns, `<question>.responses`,
    `<question>.responses.users`, `<question>.responses.status`) in the nested `records.json` shape."""
    from tether.io.hf import need_datasets

    need_datasets()
    import pyarrow.parquet as pq

    files = sorted(p for p in root.rglob("*.parquet") if ".argilla" not in p.parts)
    questions = list(settings.types)
    for file in files:
        for batch in pq.ParquetFile(file).iter_batches(batch_size=1000):
            columns = batch.to_pydict()
            for i in range(batch.num_rows):
                row = {k: v[i] for k, v in columns.items()}
                responses = {}
                for q in questions:
                    values = row.get(f"{q}.responses") or []
                    users = row.get(f"{q}.responses.users") or []
                    statuses = row.get(f"{q}.responses.status") or [None] * len(values)
                    responses[q] = [{"value": v, "user_id": u, "status": st}
                                    for v, u, st in zip(values, users, statuses, strict=False)]
                yield {"id": row.get("id"), "fields": {f: row.get(f) for f in settings.fields},
                       "responses": {q: r for q, r in responses.items() if r}}


def read_argilla(path: Path, on_bytes: Callable[[int], None] | None = None
                 ) -> Iterator[tuple[int, Comparison] | BadLine | Skipped]:
    """Comparisons from an Argilla `to_disk` folder, a `to_hub` repository folder (Parquet) or a records JSON file
    (errors name the record number)."""
    path = Path(path)
    if path.is_dir():
        settings = Settings(path)
        if not (path / RECORDS).is_file():
            if settings.fields and any(path.rglob("*.parquet")):
                rows = ((0, record, "") for record in hub_records(path, settings))
                return convert_items(str(path), rows, lambda record: record_items(record, settings), numbered="record")
            raise ValueError(f"{path}: no {RECORDS}, nor Parquet files with .argilla/settings.json; give a folder "
                             "written by Argilla's Dataset.to_disk or to_hub, or a records JSON file")
        records = path / RECORDS
    else:
        records = path
        settings = Settings(path.parent if (path.parent / SETTINGS).is_file() else None)
    return read_items(records, lambda record: record_items(record, settings), on_bytes, numbered="record")
