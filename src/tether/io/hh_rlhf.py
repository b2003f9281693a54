"""Anthropic HH-RLHF: `chosen`/`rejected` whole transcripts (JSON Lines, often .gz) <-> preference pairs.

The prompt is the shared transcript up to and including the last "\\n\\nAssistant:" that both
transcripts share; `chosen` and `rejected` are what follows it (usually starting with a space).
TRL's DPO example (`extract_anthropic_prompt`) cuts at the last "\n\nAssistant:" of `chosen`
alone; on 4 of the 2,312 harmless-base test records that cut is not a prefix of `rejected`
(the last human turns differ), which the shared-prefix rule avoids. Export writes
`prompt + chosen` and `prompt + rejected` back, so an HH line round-trips byte for byte.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tether.io.errors import BadLine
from tether.io.sources import FieldError, get_str, read_objects
from tether.records import PreferencePair

ASSISTANT = "\n\nAssistant:"
_TURN_MARKER = re.compile(r"\n\n(Human|Assistant):")


def transcript_turns(text: str) -> list[tuple[str, str]]:
    """An HH-RLHF transcript as (role, text) turns: "\\n\\nHuman: ..." and "\\n\\nAssistant: ..." in order.

    Text before the first marker is a turn with role "" (context); a last turn left empty (the open
    "\\n\\nAssistant:" a prompt ends with) is dropped. Text without markers is one "" turn."""
    parts = _TURN_MARKER.split(text)
    turns = [("", parts[0].strip())] if parts[0].strip() else []
    turns += [(role, body.strip()) for role, body in zip(parts[1::2], parts[2::2], strict=True)]
    if turns and len(parts) > 1 and not turns[-1][1]:
        turns.pop()
    return turns


def split_transcripts(chosen: str, rejected: str) -> tuple[str, str, str]:
    """(prompt, chosen, rejected): the shared transcript to the last common "\\n\\nAssistant:", and the rest."""
    n = min(len(chosen), len(rejected))
    common = 0
    while common < n and chosen[common] == rejected[common]:
        common += 1
    cut = chosen.rfind(ASSISTANT, 0, common)  # the whole marker must lie in the shared part
    if cut < 0:
        raise FieldError("chosen", 'chosen and rejected share no "\\n\\nAssistant:" turn, so there is no prompt')
    end = cut + len(ASSISTANT)
    return chosen[:end], chosen[end:], rejected[end:]


def objective_for(path: Path) -> str:
    """HH-RLHF's subsets name their objective: harmless-* -> harmlessness, helpful-* -> helpfulness."""
    name = str(path).lower()
    if "harmless" in name:
        return "harmlessness"
    if "helpful" in name:
        return "helpfulness"
    return "overall"


def read_hh_rlhf(path: Path, on_bytes: Callable[[int], None] | None = None
                 ) -> Iterator[tuple[int, PreferencePair] | BadLine]:
    """Read an HH-RLHF file as preference pairs (objective from the subset name, see `objective_for`)."""
    path = Path(path)
    objective = objective_for(path)
    known = {"chosen", "rejected"}

    def convert(obj: dict[str, Any], line: int) -> PreferencePair:
        prompt, chosen, rejected = split_transcripts(get_str(obj, "chosen"), get_str(obj, "rejected"))
        extras = {k: v for k, v in obj.items() if k not in known}
        for key in ("prompt", "weight", "p_chosen", "tie", "objective", "provenance"):
            if key in extras:  # would silently overwrite a pair field: name it instead
                raise FieldError(key, "not an HH-RLHF key (this file looks like TRL or v1 pairs)")
        return PreferencePair(prompt=prompt, chosen=chosen, rejected=rejected, objective=objective,
                              provenance={"source": "hh-rlhf", "file": path.name, "line": line}, **extras)

    return read_objects(path, convert, on_bytes)


def pair_to_hh(pair: PreferencePair) -> dict[str, Any]:
    """A pair as an HH-RLHF record: two whole transcripts, plus any keys the pair was imported with."""
    return {"chosen": pair.prompt + pair.chosen, "rejected": pair.prompt + pair.rejected, **pair.extras}


def write_hh_rlhf(store, path: Path, set_name: str | None = None, **_: object) -> int:  # noqa: ANN001
    """Write stored pairs as HH-RLHF lines (json.dumps layout, UTF-8 kept); ties are left out.

    HH-RLHF has no place for weight, p_chosen or objective, and a trainer reading it takes
    `chosen` as better, so tie pairs are skipped (and counted on the console).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = ties = 0
    opener = gzip.open if path.suffix == ".gz" else open
    pairs = store.iter_pairs(set_name=set_name)
    # closing(): an error midway must end the store's cursor now (an open one blocks schema changes)
    with contextlib.closing(pairs), opener(path, "wt", encoding="utf-8", newline="") as fh:  # type: ignore[operator]
        for pair in pairs:
            if pair.tie:
                ties += 1
                continue
            # ensure_ascii=False and the default separators are exactly how HH-RLHF's lines are written.
            fh.write(json.dumps(pair_to_hh(pair), ensure_ascii=False))
            fh.write("\n")
            written += 1
    if ties:
        sys.stderr.write(f"hh-rlhf: left out {ties} tie pairs (HH-RLHF has no ties)\n")
    return written


__all__ = ["objective_for", "pair_to_hh", "read_hh_rlhf", "split_transcripts", "write_hh_rlhf"]
