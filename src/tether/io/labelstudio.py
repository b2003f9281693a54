"""Label Studio pairwise exports (the "JSON" export: a JSON array of tasks with their annotations).

Format: https://labelstud.io/guide/export.html#Label-Studio-JSON-format-of-annotated-tasks — each task has
`id`, `data` (the fields the labeling config shows), `project` and `annotations`; each annotation has `id`,
`completed_by`, `created_at`, `lead_time`, `was_cancelled` and a `result` list. The `Pairwise` control tag
(https://labelstud.io/tags/pairwise.html) writes one result `{"type": "pairwise", "from_name": ..., "value":
{"selected": "left" | "right"}}` (Label Studio's `tags/control/Pairwise.js`); its `toName="left,right"` names
the two objects compared, shown left then right.

- The two responses: the task fields named in the result's `to_name` when it lists two fields of `data`, else
  the first pair present of `answer1`/`answer2` (the "Human Preferences collection for RLHF" template),
  `text1`/`text2` (the "Pairwise Classification" template), `response1`/`response2`, `response_a`/`response_b`.
  The left one is response `a` and was shown first; `selected` left -> `a`, right -> `b`.
- The prompt: the first of `data.prompt`, `instruction`, `question`, `input`, `context`.
- Rater `labelstudio-<completed_by>` (the user id; an exported user object gives its email, else its id);
  campaign `labelstudio-project-<project>`; interface `label-studio`; `created_at` the annotation's.
- Objective `overall`, or the `from_name` of each Pairwise tag when one annotation holds several.
- Cancelled (skipped) annotations, tasks without annotations and annotations without a Pairwise result are
  counted as skipped, not errors; a `selected` other than left/right is a bad line (the task's line).
Task ids, annotation ids, lead times and the field names are kept as metadata (`labelstudio_*`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tether.io.errors import BadLine, Skipped
from tether.io.sources import FieldError, read_items
from tether.records import Choice, Comparison, Side

RESPONSE_FIELDS = (("answer1", "answer2"), ("text1", "text2"), ("response1", "response2"),
                   ("response_a", "response_b"))
PROMPT_FIELDS = ("prompt", "instruction", "question", "input", "context")
INTERFACE = "label-studio"
_SELECTED = {"left": Choice.A, "right": Choice.B}


def _text(data: dict[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise FieldError(f"data.{key}", f"expected text, got {type(value).__name__} ({value!r:.80})")
    return value


def response_fields(data: dict[str, Any], result: dict[str, Any]) -> tuple[str, str]:
    """(left field, right field) of the task data that a Pairwise result compared."""
    to_name = result.get("to_name")
    if isinstance(to_name, str) and "," in to_name:
        names = [n.strip() for n in to_name.split(",")]
        if len(names) == 2 and all(n in data for n in names):
            return names[0], names[1]
    for left, right in RESPONSE_FIELDS:
        if left in data and right in data:
            return left, right
    known = ", ".join(f"{a}/{b}" for a, b in RESPONSE_FIELDS)
    raise FieldError("data", f"cannot tell which task fields were compared: the result's to_name names no two "
                             f"fields of data, and data has none of {known} (it has {', '.join(sorted(data))})")


def prompt_field(data: dict[str, Any]) -> str:
    for key in PROMPT_FIELDS:
        if key in data:
            return key
    raise FieldError("data", f"no prompt field: expected one of {', '.join(PROMPT_FIELDS)} in the task data")


def _rater(annotation: dict[str, Any], where: str) -> str:
    who = annotation.get("completed_by")
    if isinstance(who, dict):  # some exports carry the user object
        who = who.get("email") or who.get("id")
    if isinstance(who, bool) or not isinstance(who, int | str) or who == "":
        raise FieldError(f"{where}.completed_by", f"expected a user id, got {who!r:.80}")
    return f"labelstudio-{who}"


def task_items(task: dict[str, Any]) -> Iterator[Comparison | str]:
    """The comparisons of one exported task, and a reason string for each annotation left out."""
    data = task.get("data")
    if not isinstance(data, dict):
        raise FieldError("data", "missing or not an object (is this Label Studio's JSON export?)")
    annotations = task.get("annotations")
    if annotations is None or annotations == []:
        yield "task without annotations"
        return
    if not isinstance(annotations, list):
        raise FieldError("annotations", f"expected a list, got {type(annotations).__name__}")
    project = task.get("project")
    campaign = f"labelstudio-project-{project}" if project is not None else "labelstudio"
    for i, annotation in enumerate(annotations):
        where = f"annotations[{i}]"
        if not isinstance(annotation, dict):
            raise FieldError(where, f"expected an object, got {type(annotation).__name__}")
        if annotation.get("was_cancelled"):
            yield "cancelled (skipped) annotation"
            continue
        results = annotation.get("result")
        if not isinstance(results, list):
            raise FieldError(f"{where}.result", "missing or not a list")
        pairwise = [(j, r) for j, r in enumerate(results) if isinstance(r, dict) and r.get("type") == "pairwise"]
        if not pairwise:
            yield "annotation without a Pairwise result"
            continue
        rater = _rater(annotation, where)
        for j, result in pairwise:
            value = result.get("value")
            selected = value.get("selected") if isinstance(value, dict) else None
            if selected not in _SELECTED:
                raise FieldError(f"{where}.result[{j}].value.selected",
                                 f"expected 'left' or 'right', got {selected!r:.80}")
            left, right = response_fields(data, result)
            prompt = prompt_field(data)
            meta = {"labelstudio_task": task.get("id"), "labelstudio_annotation": annotation.get("id"),
                    "labelstudio_fields": [prompt, left, right]}
            if annotation.get("lead_time") is not None:
                meta["labelstudio_lead_time"] = annotation["lead_time"]
            yield Comparison.model_validate({
                **meta,
                "prompt": _text(data, prompt), "response_a": _text(data, left), "response_b": _text(data, right),
                "shown_first": Side.A, "choice": _SELECTED[selected], "rater": rater,
                "objective": str(result.get("from_name", "overall")) if len(pairwise) > 1 else "overall",
                "campaign": campaign, "interface": INTERFACE, "created_at": annotation.get("created_at"),
            })


def read_labelstudio(path: Path, on_bytes: Callable[[int], None] | None = None
                     ) -> Iterator[tuple[int, Comparison] | BadLine | Skipped]:
    """Comparisons from a Label Studio JSON export (a task with a bad annotation is one bad line)."""
    return read_items(Path(path), task_items, on_bytes)
