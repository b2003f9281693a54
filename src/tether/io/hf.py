"""Hugging Face `datasets` in and out: a `save_to_disk` folder or a Parquet file, in TRL's column names.

Export writes one row per preference pair: TRL's `prompt`, `chosen`, `rejected` (text), then Tether's `weight`,
`p_chosen` (null when there is no soft label), `tie`, `objective`, and `provenance` and `extras` as JSON strings
(free-form metadata has no one Arrow type across rows; a JSON string keeps every key and value as it was). A
conversational pair's messages travel in `extras` (`prompt_messages`, ...), so the round trip is lossless while
the text columns stay what TRL's standard format expects. `load_from_disk(path)` / `load_dataset("parquet", ...)`
read the result, and `tether import hf` reads it back equal field for field.

Kind `hf-comparisons` does the same for comparisons: the v1 comparison fields as columns (`created_at` as
ISO 8601 text, `extras` as JSON), also lossless.

Import also reads datasets made elsewhere: any of TRL's four preference shapes (explicit or implicit prompt,
standard or conversational), every split of a DatasetDict one after another. Needs `datasets` (`tether[hf]`).
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tether.io.errors import BadLine, bad_from_validation
from tether.io.sources import FieldError
from tether.io.trl import trl_to_pair
from tether.records import Comparison, PreferencePair

# (column, Arrow type name) in order; JSON-string columns hold free-form metadata
PAIR_COLUMNS = (("prompt", "string"), ("chosen", "string"), ("rejected", "string"), ("weight", "float64"),
                ("p_chosen", "float64"), ("tie", "bool_"), ("objective", "string"), ("provenance", "string"),
                ("extras", "string"))
COMPARISON_COLUMNS = (("prompt", "string"), ("response_a", "string"), ("response_b", "string"),
                      ("shown_first", "string"), ("choice", "string"), ("rater", "string"), ("pair_id", "string"),
                      ("objective", "string"), ("task_type", "string"), ("confidence", "float64"),
                      ("campaign", "string"), ("interface", "string"), ("rubric_version", "string"),
                      ("created_at", "string"), ("extras", "string"))
PARQUET_SUFFIX = ".parquet"
BATCH = 1000
SAVED_MARKERS = ("dataset_info.json", "state.json", "dataset_dict.json")  # what save_to_disk leaves in a folder


def need_datasets() -> Any:
    """The `datasets` module, or a ValueError saying how to install it."""
    try:
        import datasets
    except ImportError:
        raise ValueError("kind 'hf' needs the Hugging Face `datasets` package: pip install 'tether[hf]'") from None
    return datasets


def _json_column(row: dict[str, Any], key: str) -> dict[str, Any]:
    value = row.pop(key, None)
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        raise FieldError(key, f"expected a JSON object (as a string), got {type(value).__name__}")
    try:
        decoded = json.loads(value)
    except json.JSONDecodeError as exc:
        raise FieldError(key, f"not valid JSON: {exc}") from None
    if not isinstance(decoded, dict):
        raise FieldError(key, f"expected a JSON object, got {type(decoded).__name__}")
    return decoded


def row_to_pair(row: dict[str, Any]) -> PreferencePair:
    """One dataset row (Tether's export or any TRL preference shape) as a preference pair."""
    row = dict(row)
    extras = _json_column(row, "extras")
    provenance = _json_column(row, "provenance")
    for key in ("weight", "p_chosen", "tie", "objective"):  # Arrow fills a column's gaps with nulls
        if key in row and row[key] is None:
            del row[key]
    if provenance:
        row["provenance"] = provenance
    if all(isinstance(row.get(k), str) for k in ("prompt", "chosen", "rejected")):
        # explicit-prompt text rows, Tether's own included (a conversational pair's messages are in extras)
        return PreferencePair.model_validate({**extras, **row})
    return trl_to_pair({**extras, **row})  # implicit prompt or message lists: TRL's rules


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any], int]]:
    """(row number from 1, row, bytes to report) for a Parquet file or a saved Dataset / DatasetDict folder."""
    if path.is_dir():
        datasets = need_datasets()
        try:
            loaded = datasets.load_from_disk(str(path))
        except FileNotFoundError as exc:
            raise ValueError(f"{path}: not a folder written by Dataset.save_to_disk ({exc})") from None
        parts = list(loaded.values()) if isinstance(loaded, datasets.DatasetDict) else [loaded]
    else:
        need_datasets()
        import pyarrow.parquet as pq

        try:
            parts = [pq.ParquetFile(path)]
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a file that is not Parquet
            raise ValueError(f"{path}: not a Parquet file ({exc})") from None
    total = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size
    n_rows = sum(p.num_rows if hasattr(p, "num_rows") else p.metadata.num_rows for p in parts) or 1
    number = 0
    for part in parts:
        batches = part.iter(batch_size=BATCH) if hasattr(part, "iter") else (
            b.to_pydict() for b in part.iter_batches(batch_size=BATCH))
        for batch in batches:
            names = list(batch)
            size = len(batch[names[0]]) if names else 0
            for i in range(size):
                number += 1
                yield number, {k: batch[k][i] for k in names}, (total * size // n_rows if i == size - 1 else 0)


def _read(path: Path, convert: Callable[[dict[str, Any]], Any], on_bytes: Callable[[int], None] | None
          ) -> Iterator[tuple[int, Any] | BadLine]:
    path = Path(path)
    need_datasets()  # a clear error now, not at the first row
    name = str(path)

    def records() -> Iterator[tuple[int, Any] | BadLine]:
        for number, row, done in _rows(path):
            try:
                yield number, convert(row)
            except FieldError as exc:
                yield BadLine(name, number, exc.key, exc.message, json.dumps(row, default=str)[:200])
            except ValidationError as exc:
                yield bad_from_validation(name, number, exc, json.dumps(row, default=str)[:200])
            if done and on_bytes is not None:
                on_bytes(done)

    return records()


def read_hf(path: Path, on_bytes: Callable[[int], None] | None = None
            ) -> Iterator[tuple[int, PreferencePair] | BadLine]:
    """Preference pairs from a saved dataset folder or a Parquet file; a bad row is a BadLine naming its number."""
    return _read(path, row_to_pair, on_bytes)


def row_to_comparison(row: dict[str, Any]) -> Comparison:
    """One row of an exported comparisons dataset (the v1 fields as columns, `extras` as JSON) as a comparison."""
    row = dict(row)
    extras = _json_column(row, "extras")
    return Comparison.model_validate({**extras, **{k: v for k, v in row.items() if v is not None}})


def read_hf_comparisons(path: Path, on_bytes: Callable[[int], None] | None = None
                        ) -> Iterator[tuple[int, Comparison] | BadLine]:
    """Comparisons from a saved dataset folder or a Parquet file in the v1 comparison columns."""
    return _read(path, row_to_comparison, on_bytes)


def pair_to_row(pair: PreferencePair) -> dict[str, Any]:
    """A pair as one row of the exported dataset (see the module docstring for the columns)."""
    return {"prompt": pair.prompt, "chosen": pair.chosen, "rejected": pair.rejected, "weight": pair.weight,
            "p_chosen": pair.p_chosen, "tie": pair.tie, "objective": pair.objective,
            "provenance": json.dumps(pair.provenance, ensure_ascii=False, sort_keys=True),
            "extras": json.dumps(pair.extras, ensure_ascii=False, sort_keys=True)}


def comparison_to_row(c: Comparison) -> dict[str, Any]:
    """A comparison as one row: the v1 fields as columns (`created_at` in ISO 8601), `extras` as JSON."""
    row = c.model_dump(mode="json", exclude=set(c.extras))
    row["extras"] = json.dumps(c.extras, ensure_ascii=False, sort_keys=True)
    return row


def _batches(rows: Iterator[dict[str, Any]], columns: list[str]) -> Iterator[dict[str, list[Any]]]:
    batch: dict[str, list[Any]] = {k: [] for k in columns}
    for row in rows:
        for k in columns:
            batch[k].append(row[k])
        if len(batch[columns[0]]) == 10 * BATCH:
            yield batch
            batch = {k: [] for k in columns}
    if batch[columns[0]]:
        yield batch


def write_rows(path: Path, rows: Iterator[dict[str, Any]], spec: tuple[tuple[str, str], ...] = PAIR_COLUMNS
               ) -> int:
    """Write rows as Parquet (`path` ends in .parquet, streamed) or as a `save_to_disk` folder."""
    datasets = need_datasets()
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(name, getattr(pa, kind)()) for name, kind in spec])
    columns = [name for name, _ in spec]
    n = 0
    if path.suffix == PARQUET_SUFFIX:
        with pq.ParquetWriter(path, schema) as writer:
            for batch in _batches(rows, columns):
                writer.write_table(pa.Table.from_pydict(batch, schema=schema))
                n += len(batch[columns[0]])
            return n
    tables = [pa.Table.from_pydict(b, schema=schema) for b in _batches(rows, columns)]
    table = pa.concat_tables(tables) if tables else schema.empty_table()
    datasets.Dataset(table).save_to_disk(str(path))
    return table.num_rows


def write_hf(store, path: Path, set_name: str | None = None, **_: object) -> int:  # noqa: ANN001
    """Write stored pairs as a Hugging Face dataset: Parquet for a `.parquet` name, else a saved-dataset folder."""
    with contextlib.closing(store.iter_pairs(set_name=set_name)) as pairs:
        return write_rows(Path(path), (pair_to_row(p) for p in pairs))


def write_hf_comparisons(store, path: Path, objective: str | None = None,  # noqa: ANN001
                         campaign: str | None = None, **_: object) -> int:
    """Write stored comparisons as a Hugging Face dataset (v1 columns): Parquet or a saved-dataset folder."""
    with contextlib.closing(store.iter_comparisons(objective=objective, campaign=campaign)) as comparisons:
        return write_rows(Path(path), (comparison_to_row(c) for c in comparisons), COMPARISON_COLUMNS)


def replace_output(partial: Path, path: Path) -> None:
    """Move a finished folder into place; an existing folder is replaced only if it is a saved dataset."""
    if path.is_dir():
        if not any((path / m).exists() for m in SAVED_MARKERS):
            raise ValueError(f"{path}: is a folder that does not hold a saved dataset; not replacing it")
        shutil.rmtree(path)
    partial.replace(path)
