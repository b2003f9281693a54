"""Prompt sets (annotation sets, production windows) from JSONL or text files, or from stored records."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tether.records import Comparison, Event, EventType, PreferencePair

TEXT_KEYS = ("prompt", "text", "question", "instruction", "input")


@dataclass(frozen=True)
class PromptRecord:
    """One prompt and, when the file says so, its language and the response that was logged for it."""

    text: str
    lang: str | None = None
    response: str | None = None


def _strip_chat_wrapper(text: str) -> str:
    # OpenAssistant/QLoRA style: "### Human: ... ### Assistant:"
    if text.startswith("### Human:"):
        text = text[len("### Human:") :]
        cut = text.rfind("### Assistant:")
        if cut >= 0:
            text = text[:cut]
    return text.strip()


def _text_of(row: dict, key: str | None) -> str | None:
    if key is not None:
        v = row.get(key)
        return v if isinstance(v, str) else None
    inp = row.get("input")
    if isinstance(inp, str) and inp.startswith("### Human:"):
        return inp  # the `prompt` key of such files is a system prompt, not the user's
    if row.get("type") not in (None, "generation"):
        return None  # feedback / correction / outcome events carry no prompt
    for k in TEXT_KEYS:
        if isinstance(row.get(k), str):
            return row[k]
    return None


def read_prompts(path: Path, text_key: str | None = None, limit: int | None = None) -> list[PromptRecord]:
    """Prompts of a JSONL file (.gz ok; key `prompt`/`text`/... or `text_key`, plus `response` when there) or a
    .txt file (one per line)."""
    opener = gzip.open if path.suffix == ".gz" else open
    out: list[PromptRecord] = []
    stem = path.name.removesuffix(".gz")
    with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            if stem.endswith(".txt"):
                out.append(PromptRecord(line.rstrip("\n")))
            else:
                try:
                    row = json.loads(line)
                except ValueError as exc:
                    raise ValueError(f"{path}:{lineno}: not JSON ({exc})") from None
                if not isinstance(row, dict):
                    raise ValueError(f"{path}:{lineno}: expected a JSON object")
                text = _text_of(row, text_key)
                if text is None:
                    if text_key is not None or row.get("type") in (None, "generation"):
                        keys = text_key or "/".join(TEXT_KEYS)
                        raise ValueError(f"{path}:{lineno}: no prompt text (looked for key {keys})")
                    continue
                lang = row.get("lang") or row.get("language") or (row.get("attributes") or {}).get("sim.language")
                response = row.get("response")  # generation events log the answer; reward models score the pair
                out.append(PromptRecord(_strip_chat_wrapper(text), lang if isinstance(lang, str) else None,
                                        response if isinstance(response, str) else None))
            if limit is not None and len(out) >= limit:
                break
    return out


def prompts_of_events(events: Iterable[Event], since: datetime | None = None,
                      until: datetime | None = None) -> list[PromptRecord]:
    """The prompts of logged generations in [since, until), with their responses and `sim.language` attribute."""
    out = []
    for e in events:
        if e.type is EventType.GENERATION and e.prompt and (since is None or e.timestamp >= since) and (
                until is None or e.timestamp < until):
            lang = e.attributes.get("sim.language")
            out.append(PromptRecord(e.prompt, lang if isinstance(lang, str) else None, e.response))
    return out


def prompts_of_judgments(records: Iterable[Comparison | PreferencePair]) -> list[PromptRecord]:
    """Each distinct prompt of annotated comparisons or preference pairs, with one response that was judged."""
    seen: dict[str, PromptRecord] = {}
    for r in records:
        if r.prompt not in seen:
            response = r.response_a if isinstance(r, Comparison) else r.chosen
            seen[r.prompt] = PromptRecord(r.prompt, response=response)
    return list(seen.values())
