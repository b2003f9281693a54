"""PandaLM's test set (a JSON array, several human annotators per item) and its judge files.

Multi-annotator file (`testset-v1.json`): one item per `idx` with `instruction`, `input`,
`response1`, `response2`, `motivation_app` (the task type), `cmp_key` (the two models) and
`annotator1`..`annotatorN`, each 0 = tie, 1 = first better, 2 = second better. Every item is
its own pair (`pair_id` `pandalm-<idx>`), also the 99 items that repeat another item's texts.
`response1` was shown first, so it is response `a` and `shown_first` is `a`. Raters are
`pandalm-annotator1`..`pandalm-annotatorN`; the campaign is `pandalm-testset`.

Judge files (`gpt-3.5-turbo-testset-v1.json`, `pandalm-7b-testset-v1.json`): `idx`,
`<x>_result`, `<x>_reason`, `<x>_reference`. They hold no texts: the texts come from
`testset-v1.json` in the same folder. The judge (the rater id) is the file name before
`-testset`; the campaign is `pandalm-judges`. Verdicts 0/1/2 or "1"/"2"/"Tie". "garbage" is how
PandaLM marks a judge answer it could not parse (25 of GPT-3.5's 999): it holds no verdict, so the
item is skipped and counted in the import report; any other value is a bad line.

The prompt is the instruction, then a blank line and the input when there is one; both are
also kept as they were (`instruction`, `input`) so that export can write them back.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tether.io.errors import BadLine, InputError, SkipItem
from tether.io.sources import FieldError, get_int, get_str, iter_json_items, read_objects
from tether.records import Choice, Comparison, Side

HUMAN_CAMPAIGN = "pandalm-testset"
JUDGE_CAMPAIGN = "pandalm-judges"
RATER_PREFIX = "pandalm-"
TESTSET_NAME = "testset-v1.json"
_ANNOTATOR = re.compile(r"^annotator(\d+)$")
_ITEM_KEYS = ("idx", "motivation_app", "cmp_key", "instruction", "input", "response1", "response2")
# display terms -> canonical terms, response1 (= a) being shown first
_BY_SCORE = {0: Choice.TIE, 1: Choice.A, 2: Choice.B}
_VERDICTS = {"0": Choice.TIE, "1": Choice.A, "2": Choice.B, "tie": Choice.TIE}


def pair_id(idx: int) -> str:
    return f"pandalm-{idx}"


def prompt_text(instruction: str, input_: str) -> str:
    """The prompt: the instruction, and the input after a blank line when there is one."""
    return f"{instruction}\n\n{input_}" if input_ else instruction


def _score(obj: dict[str, Any], key: str) -> Choice:
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise FieldError(key, f"expected an integer score, got {type(value).__name__} ({value!r:.80})")
    number = int(value) if isinstance(value, int) or value.strip().isdigit() else None
    if number not in _BY_SCORE:
        raise FieldError(key, f"unknown score value {value!r} (0 = tie, 1 = first better, 2 = second better)")
    return _BY_SCORE[number]


def _response(obj: dict[str, Any], key: str, raw: dict[str, Any]) -> str:
    # PandaLM's file has a few responses stored as JSON booleans (idx 157-164: the model answered
    # "True"); they become that text, and the JSON value is kept (`raw_values`) for export.
    value = obj.get(key)
    if isinstance(value, bool):
        raw[key] = value
        return str(value)
    return get_str(obj, key)


def _item(obj: dict[str, Any]) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    item: dict[str, Any] = {k: get_str(obj, k) for k in _ITEM_KEYS if k not in ("idx", "response1", "response2")}
    item["response1"], item["response2"] = _response(obj, "response1", raw), _response(obj, "response2", raw)
    item["idx"] = get_int(obj, "idx")
    item["raw_values"] = raw
    return item


def _base(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "prompt": prompt_text(item["instruction"], item["input"]),
        "response_a": item["response1"],
        "response_b": item["response2"],
        "shown_first": Side.A,
        "pair_id": pair_id(item["idx"]),
        "task_type": item["motivation_app"],
        "idx": item["idx"],
        "cmp_key": item["cmp_key"],
        "instruction": item["instruction"],
        "input": item["input"],
        **({"raw_values": item["raw_values"]} if item["raw_values"] else {}),
    }


def human_comparisons(obj: dict[str, Any]) -> list[Comparison]:
    """The judgments of one multi-annotator item, one per `annotatorN` key."""
    item = _item(obj)
    slots = sorted((int(m.group(1)), k) for k in obj if (m := _ANNOTATOR.match(k)))
    if not slots:
        raise FieldError("annotator1", "missing required key (no annotatorN key in this item)")
    extras = {k: v for k, v in obj.items() if k not in _ITEM_KEYS and not _ANNOTATOR.match(k)}
    base = _base(item)
    return [
        Comparison.model_validate({**extras, **base, "choice": _score(obj, key), "rater": f"{RATER_PREFIX}{key}",
                                   "campaign": HUMAN_CAMPAIGN})
        for _, key in slots
    ]


def _judge_name(path: Path, prefix: str) -> str:
    stem = path.name.removesuffix(".gz").removesuffix(".json")
    return stem.split("-testset")[0] if "-testset" in stem else prefix


def _testset_items(path: Path) -> dict[int, dict[str, Any]]:
    """The items of the `testset-v1.json` beside a judge file, by idx."""
    testset = path.parent / TESTSET_NAME
    if not testset.exists():
        raise InputError(BadLine(str(path), 0, None, f"a PandaLM judge file needs {TESTSET_NAME} in the same "
                                                     f"folder for the texts; {testset} does not exist"))
    items: dict[int, dict[str, Any]] = {}
    for line, obj, _raw in iter_json_items(testset):
        if isinstance(obj, BadLine):
            raise InputError(obj)
        try:
            item = _item(obj)
        except FieldError as exc:
            raise InputError(BadLine(str(testset), line, exc.key, exc.message)) from None
        items[item["idx"]] = item
    return items


def judge_comparison(obj: dict[str, Any], path: Path, items: dict[int, dict[str, Any]]) -> Comparison:
    """One judge verdict (`<x>_result`) on a test-set item."""
    keys = [k for k in obj if k.endswith("_result")]
    if not keys:
        raise FieldError("annotator1", "missing required key (neither annotatorN nor a judge's <x>_result key)")
    key = keys[0]
    prefix = key.removesuffix("_result")
    idx = get_int(obj, "idx")
    if idx not in items:
        raise FieldError("idx", f"no item with idx {idx} in {TESTSET_NAME}")
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise FieldError(key, f"expected a verdict (0, 1, 2 or 'Tie'), got {type(value).__name__}")
    choice = _VERDICTS.get(str(value).strip().lower())
    if isinstance(value, str) and value.strip().lower() == "garbage":
        raise SkipItem(f"{key} 'garbage' (PandaLM could not parse the judge's answer)")
    if choice is None:
        raise FieldError(key, f"unusable verdict {value!r} (expected 0, 1, 2 or 'Tie')")
    extras = {}
    for k, v in obj.items():
        if k in ("idx", key):
            continue
        extras[k.removeprefix(prefix + "_") if k.startswith(prefix + "_") else k] = v
    return Comparison.model_validate({**extras, **_base(items[idx]), "choice": choice,
                                      "rater": _judge_name(path, prefix), "campaign": JUDGE_CAMPAIGN})


def read_pandalm(path: Path, on_bytes: Callable[[int], None] | None = None
                 ) -> Iterator[tuple[int, Comparison] | BadLine]:
    """Read a PandaLM multi-annotator file or a judge file (told apart item by item)."""
    path = Path(path)
    items: dict[int, dict[str, Any]] | None = None

    def convert(obj: dict[str, Any], _line: int) -> list[Comparison] | Comparison:
        nonlocal items
        if any(_ANNOTATOR.match(k) for k in obj) or not any(k.endswith("_result") for k in obj):
            return human_comparisons(obj)
        if items is None:
            items = _testset_items(path)
        return judge_comparison(obj, path, items)

    return read_objects(path, convert, on_bytes)


def _score_of(c: Comparison) -> int:
    if c.choice is Choice.TIE:
        return 0
    return 1 if c.picked_first_shown else 2


def comparisons_to_items(comparisons: Iterator[Comparison]) -> list[dict[str, Any]]:
    """Group judgments by pair into PandaLM items; a judgment PandaLM cannot hold raises ValueError."""
    items: dict[str, dict[str, Any]] = {}
    for c in comparisons:
        m = _ANNOTATOR.match(c.rater.removeprefix(RATER_PREFIX))
        if not c.rater.startswith(RATER_PREFIX) or m is None:
            raise ValueError(
                f"cannot write rater {c.rater!r} (pair {c.pair_id}) in PandaLM's multi-annotator shape: only "
                f"raters {RATER_PREFIX}annotator1..N have a column; pick them with --campaign {HUMAN_CAMPAIGN}"
            )
        first, second = (c.response_a, c.response_b) if c.shown_first is Side.A else (c.response_b, c.response_a)
        extras = c.extras
        item = items.get(c.pair_id or "")
        if item is None:
            idx = extras.get("idx", len(items))
            item = items[c.pair_id or ""] = {
                "idx": idx,
                "motivation_app": c.task_type,
                "cmp_key": extras.get("cmp_key", ""),
                "instruction": extras.get("instruction", c.prompt),
                "input": extras.get("input", ""),
                "response1": first,
                "response2": second,
            }
            item.update(extras.get("raw_values", {}))  # PandaLM's boolean responses go back as booleans
        elif (str(item["response1"]), str(item["response2"])) != (first, second):
            raise ValueError(f"pair {c.pair_id} was shown in both orders; a PandaLM item has one display order")
        item[m.group(0)] = _score_of(c)
    for item in items.values():  # annotator columns in number order, as PandaLM writes them
        slots = sorted((k for k in item if _ANNOTATOR.match(k)), key=lambda k: int(k[len("annotator"):]))
        scores = {k: item.pop(k) for k in slots}
        item.update(scores)
    return list(items.values())


def write_pandalm(store, path: Path, objective: str | None = None, campaign: str | None = None,  # noqa: ANN001
                  **_: object) -> int:
    """Write stored comparisons as a PandaLM multi-annotator JSON array (PandaLM's own layout)."""
    # closing(): a refusal midway must end the store's cursor now, not whenever the generator is collected
    with contextlib.closing(store.iter_comparisons(objective=objective, campaign=campaign)) as comparisons:
        items = comparisons_to_items(comparisons)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # json.dumps(items, indent=4) is how PandaLM wrote testset-v1.json: the file comes back byte for byte.
    path.write_text(json.dumps(items, indent=4), encoding="utf-8")
    return len(items)
