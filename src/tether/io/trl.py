"""TRL preference datasets (what `datasets.Dataset.to_json` writes: JSON Lines, or a JSON array).

Four shapes are read: explicit prompt (`prompt`, `chosen`, `rejected`) or implicit prompt
(`chosen`, `rejected` only; the prompt is their common prefix, split exactly as TRL's
`extract_prompt` does), each standard (strings) or conversational (lists of
`{"role", "content"}` messages).

A conversation becomes text as one `"{role}: {content}"` block per message, blocks joined by a
blank line ("\\n\\n"); the original messages are kept on the pair (`prompt_messages`,
`chosen_messages`, `rejected_messages`) so that export gives TRL's conversational shape back.

Export writes explicit-prompt records plus the `weight`, `p_chosen` and `tie` columns, the way
a TRL user carries per-sample weights and soft labels next to the preference columns.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from tether.io.errors import BadLine
from tether.io.jsonl import write_jsonl
from tether.io.sources import FieldError, read_objects
from tether.records import PreferencePair

MESSAGE_KEYS = ("prompt_messages", "chosen_messages", "rejected_messages")
_PAIR_COLUMNS = ("prompt", "chosen", "rejected")


def extract_prompt(chosen: Sequence[Any], rejected: Sequence[Any]) -> tuple[Any, Any, Any]:
    """TRL's `extract_prompt` on strings or message lists: (prompt, chosen, rejected).

    Same rule as TRL, quirks included (a space before the first difference goes to the
    completions; identical inputs keep their last element as completion), except that an
    empty input is an error instead of a crash.
    """
    n = min(len(chosen), len(rejected))
    if n == 0:
        raise FieldError("chosen", "chosen or rejected is empty, so no prompt can be split off")
    idx = 0
    for idx in range(n):  # noqa: B007 - idx is read after the loop, as in TRL
        if chosen[idx] != rejected[idx]:
            if idx > 0 and chosen[idx - 1] == " ":  # TRL: remove the space before the completions
                idx -= 1
            break
    return chosen[:idx], chosen[idx:], rejected[idx:]


def render_messages(messages: Sequence[dict[str, str]]) -> str:
    """A conversation as text: "{role}: {content}" per message, joined by a blank line."""
    return "\n\n".join(f"{m['role']}: {m['content']}" for m in messages)


def _messages(value: list[Any], key: str) -> list[dict[str, str]]:
    out = []
    for i, m in enumerate(value):
        if not isinstance(m, dict):
            raise FieldError(f"{key}[{i}]", f"expected a message object, got {type(m).__name__}")
        for field in ("role", "content"):
            if field not in m:
                raise FieldError(f"{key}[{i}].{field}", "missing required key")
            if not isinstance(m[field], str):
                raise FieldError(f"{key}[{i}].{field}", f"expected a string, got {type(m[field]).__name__}")
        out.append(dict(m))
    return out


def _column(obj: dict[str, Any], key: str, conversational: bool | None) -> tuple[Any, bool]:
    if key not in obj:
        raise FieldError(key, "missing required key")
    value = obj[key]
    if isinstance(value, str):
        kind = False
    elif isinstance(value, list):
        kind = True
    else:
        raise FieldError(key, f"expected a string or a list of messages, got {type(value).__name__}")
    if conversational is not None and kind != conversational:
        want = "a list of messages" if conversational else "a string"
        raise FieldError(key, f"expected {want} like the other columns, got {type(value).__name__}")
    return (_messages(value, key) if kind else value), kind


def trl_to_pair(obj: dict[str, Any]) -> PreferencePair:
    """One TRL record (any of the four shapes) as a preference pair."""
    chosen, conversational = _column(obj, "chosen", None)
    rejected, _ = _column(obj, "rejected", conversational)
    if "prompt" in obj and obj["prompt"] is not None:
        prompt, _ = _column(obj, "prompt", conversational)
    else:
        prompt, chosen, rejected = extract_prompt(chosen, rejected)
    rest = {k: v for k, v in obj.items() if k not in _PAIR_COLUMNS and k not in MESSAGE_KEYS}
    if rest.get("p_chosen", 0) is None:
        del rest["p_chosen"]  # our own export writes an empty soft label as null
    if conversational:
        rest.update(prompt_messages=prompt, chosen_messages=chosen, rejected_messages=rejected)
        prompt, chosen, rejected = render_messages(prompt), render_messages(chosen), render_messages(rejected)
    return PreferencePair.model_validate({**rest, "prompt": prompt, "chosen": chosen, "rejected": rejected})


def read_trl(path: Path, on_bytes: Callable[[int], None] | None = None
             ) -> Iterator[tuple[int, PreferencePair] | BadLine]:
    """Read a TRL preference file (JSON Lines or JSON array, .gz too) as preference pairs."""
    return read_objects(Path(path), lambda obj, _line: trl_to_pair(obj), on_bytes)


def pair_to_trl(pair: PreferencePair) -> dict[str, Any]:
    """A pair as an explicit-prompt TRL record with weight, p_chosen and tie columns."""
    extras = pair.extras
    conversational = all(isinstance(extras.get(k), list) for k in MESSAGE_KEYS)
    if conversational:
        row: dict[str, Any] = {"prompt": extras["prompt_messages"], "chosen": extras["chosen_messages"],
                               "rejected": extras["rejected_messages"]}
    else:
        row = {"prompt": pair.prompt, "chosen": pair.chosen, "rejected": pair.rejected}
    row.update(weight=pair.weight, p_chosen=pair.p_chosen, tie=pair.tie)
    if pair.objective != "overall":
        row["objective"] = pair.objective
    if pair.provenance:
        row["provenance"] = pair.provenance
    for key, value in extras.items():
        if key not in MESSAGE_KEYS or not conversational:
            row.setdefault(key, value)
    return row


def write_trl(store, path: Path, set_name: str | None = None, **_: object) -> int:  # noqa: ANN001
    """Write stored pairs as TRL explicit-prompt JSON Lines (loadable with `load_dataset("json")`)."""
    with contextlib.closing(store.iter_pairs(set_name=set_name)) as pairs:  # ends the cursor on an error too
        return write_jsonl(Path(path), (pair_to_trl(p) for p in pairs))
