"""Import and export: the v1 formats, HH-RLHF, TRL, Hugging Face datasets, PandaLM, PRD, Label Studio and Argilla."""

from pathlib import Path

from tether.io.argilla import read_argilla
from tether.io.errors import BadLine, InputError
from tether.io.exporter import export_file
from tether.io.formats import FORMATS, Format, get_format, register
from tether.io.hf import read_hf, read_hf_comparisons, write_hf, write_hf_comparisons
from tether.io.hh_rlhf import read_hh_rlhf, write_hh_rlhf
from tether.io.importer import ImportReport, import_file
from tether.io.jsonl import write_jsonl
from tether.io.labelstudio import read_labelstudio
from tether.io.pandalm import read_pandalm, write_pandalm
from tether.io.prd import read_prd, refuse_prd_export
from tether.io.trl import read_trl, write_trl
from tether.io.v1 import (
    comparisons_to_v1,
    event_to_v1,
    pairs_to_v1,
    rating_to_v1,
    read_comparison_fields,
    read_comparisons,
    read_events,
    read_pairs,
    read_ratings,
)


def _write_comparisons(store, path: Path, **filters) -> int:  # noqa: ANN001
    return write_jsonl(path, comparisons_to_v1(store.iter_comparisons(**filters)))


def _write_ratings(store, path: Path, **filters) -> int:  # noqa: ANN001
    return write_jsonl(path, (rating_to_v1(r) for r in store.iter_ratings(**filters)))


def _write_pairs(store, path: Path, set_name: str | None = None, **_: object) -> int:  # noqa: ANN001
    return write_jsonl(path, pairs_to_v1(store.iter_pairs(set_name=set_name)))


def _write_events(store, path: Path, project: str | None = None, **_: object) -> int:  # noqa: ANN001
    """Each event with the project (tenant) it is stored under; one project, or all of them."""
    projects = [project] if project is not None else store.event_projects()
    return write_jsonl(path, ({**event_to_v1(e), "project": p} for p in projects for e in store.iter_events(project=p)))


register(Format("comparisons", "comparisons", "Tether v1 comparisons (JSONL)", read_comparisons,
                _write_comparisons, import_reader=read_comparison_fields))
register(Format("ratings", "ratings", "Tether v1 ratings: one response on a scale (JSONL)", read_ratings,
                _write_ratings))
register(Format("pairs", "pairs", "Tether v1 preference pairs (JSONL)", read_pairs, _write_pairs))
register(Format("events", "events", "Tether v1 production events (JSONL)", read_events, _write_events))
register(Format("hh-rlhf", "pairs", "Anthropic HH-RLHF chosen/rejected transcripts (JSONL, .gz)", read_hh_rlhf,
                write_hh_rlhf))
register(Format("trl", "pairs", "TRL preference dataset, standard or conversational (JSONL or JSON)", read_trl,
                write_trl))
register(Format("hf", "pairs", "Hugging Face dataset in TRL columns: a save_to_disk folder or a .parquet file",
                read_hf, write_hf, folders=True))
register(Format("hf-comparisons", "comparisons", "Hugging Face dataset of v1 comparisons: a save_to_disk folder or "
                "a .parquet file", read_hf_comparisons, write_hf_comparisons, folders=True))
register(Format("pandalm", "comparisons", "PandaLM multi-annotator test set or judge file (JSON)", read_pandalm,
                write_pandalm))
register(Format("labelstudio", "comparisons", "Label Studio JSON export of a Pairwise labeling config",
                read_labelstudio))
register(Format("argilla", "comparisons", "Argilla 2.x dataset with ranking or rating questions (to_disk folder "
                "or records JSON)", read_argilla, folders=True))
register(Format("prd", "comparisons", "PRD / FastChat Vicuna80 reviewer files (folder or file)", read_prd,
                refuse_prd_export, folders=True))

__all__ = [
    "BadLine",
    "FORMATS",
    "Format",
    "ImportReport",
    "InputError",
    "export_file",
    "get_format",
    "import_file",
    "read_comparisons",
    "read_events",
    "read_pairs",
    "read_ratings",
    "register",
    "write_jsonl",
]
