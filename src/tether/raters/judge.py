"""AI raters: an LLM judge behind any OpenAI-compatible chat-completions endpoint, stored as ordinary comparisons.

Each pair is judged in both display orders by default, and each verdict becomes a `Comparison` (rater
`judge:<model>`, interface `llm-judge`, `shown_first` as displayed, `choice` canonical), so `tether audit`
measures the judge's position bias and swap consistency exactly as it does a human's.

A failed call (connection error, timeout, HTTP 408/409/425/429/5xx, a body that is no chat completion) is
retried with exponential backoff up to `max_retries` times, then the judgment is left out and counted
(`unjudged`); a completion whose text holds no readable verdict is the model's own answer, counted
`unparsed` and not retried. Neither is ever stored as a verdict.

    key = load_api_key(env="OPENAI_API_KEY")
    result = judge(read_items(path), JudgeConfig(base_url, model, rubric), api_key=key)
    result.comparisons, result.unjudged, result.unparsed
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tether.records import LLM_JUDGE_INTERFACE, Choice, Comparison, Side

INTERFACE = LLM_JUDGE_INTERFACE
MAX_RETRIES = 5
_RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})

USER_TEMPLATE = """\
Compare the two answers to the user's request below, following the rubric you were given.

[User request]
{prompt}

[The start of answer A]
{first}
[The end of answer A]

[The start of answer B]
{second}
[The end of answer B]

{objective}Reply with your verdict only: [[A]] if A is better, [[B]] if B is better, [[tie]] if neither is."""
OBJECTIVE_LINE = "Judge the answers on this objective only: {objective}.\n\n"


class JudgeError(RuntimeError):
    """The judge cannot run at all (bad key, bad endpoint, bad input); message never holds the API key."""


@dataclass(frozen=True)
class JudgeItem:
    """One pair to judge, in canonical order; `rubric` (with its version) overrides the config's for this item (a
    campaign's rubric per task type), `extras` go onto the comparison (e.g. item_kind of a campaign's gold item)."""

    prompt: str
    response_a: str
    response_b: str
    task_type: str = "default"
    pair_id: str | None = None
    objective: str = "overall"
    rubric: str | None = None
    rubric_version: str | None = None
    extras: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return self.prompt, self.response_a, self.response_b, self.objective


@dataclass(frozen=True)
class JudgeConfig:
    base_url: str
    model: str
    rubric: str
    both_orders: bool = True
    concurrency: int = 4
    max_retries: int = MAX_RETRIES
    retry_wait: float = 1.0  # first wait; doubles on each retry
    timeout: float = 120.0
    temperature: float = 0.0
    campaign: str | None = None

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise JudgeError(f"base URL must start with http:// or https://, got {self.base_url!r}")
        if not self.model.strip():
            raise JudgeError("model name is empty")
        if self.concurrency < 1 or self.max_retries < 0 or self.retry_wait < 0:
            raise JudgeError("concurrency must be >= 1, retries and retry wait >= 0")

    @property
    def rater(self) -> str:
        return f"judge:{self.model}"

    @property
    def rubric_version(self) -> str:
        return "sha256:" + hashlib.sha256(self.rubric.encode("utf-8")).hexdigest()[:12]


@dataclass
class JudgeResult:
    comparisons: list[Comparison] = field(default_factory=list)
    unjudged: int = 0  # the call failed after every retry
    unparsed: int = 0  # the judge answered, but not with a verdict we can read
    retries: int = 0
    failures: list[str] = field(default_factory=list)  # one reason per unjudged/unparsed judgment (no key)


def load_api_key(env: str | None = None, file: Path | None = None) -> str | None:
    """The endpoint's key from an environment variable or a file only its owner can read (mode 0600 or tighter)."""
    if env and file:
        raise JudgeError("give the API key by environment variable or by file, not both")
    if env:
        key = os.environ.get(env)
        if not key:
            raise JudgeError(f"environment variable {env} is not set or empty")
        return key.strip()
    if file:
        path = Path(file)
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError as exc:
            raise JudgeError(f"{path}: cannot read the API key file ({exc.strerror})") from None
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise JudgeError(f"{path}: API key file is readable by others (mode {mode:o}); run chmod 600 {path}")
        key = path.read_text(encoding="utf-8").strip()
        if not key:
            raise JudgeError(f"{path}: API key file is empty")
        return key
    return None


def read_items(path: Path) -> list[JudgeItem]:
    """Pairs from campaign-item or comparison JSONL (prompt, response_a, response_b, task_type, pair_id).

    Other keys (choice, rater, kind...) are ignored; a pair repeated in the file (e.g. one comparison per rater)
    is judged once."""
    from tether.io.errors import BadLine
    from tether.io.jsonl import iter_jsonl

    items: dict[tuple[str, str, str], JudgeItem] = {}
    for lineno, obj, _ in iter_jsonl(Path(path)):
        if isinstance(obj, BadLine):
            raise JudgeError(f"{path}:{lineno}: {obj.message}")
        missing = [k for k in ("prompt", "response_a", "response_b") if not isinstance(obj.get(k), str)]
        if missing:
            raise JudgeError(f"{path}:{lineno}: missing or non-string {', '.join(missing)}")
        task_type = obj.get("task_type", "default")
        pair_id = obj.get("pair_id")
        if not isinstance(task_type, str) or not (pair_id is None or isinstance(pair_id, str)):
            raise JudgeError(f"{path}:{lineno}: task_type and pair_id must be strings")
        key = (obj["prompt"], obj["response_a"], obj["response_b"])
        items.setdefault(key, JudgeItem(*key, task_type=task_type, pair_id=pair_id))
    if not items:
        raise JudgeError(f"{path}: no pairs to judge")
    return list(items.values())


_BRACKETED = re.compile(r"\[\[\s*(a|b|c|tie)\s*\]\]", re.IGNORECASE)
_OUTPUT = re.compile(r"\boutput\s*\(\s*(a|b)\s*\)", re.IGNORECASE)
_BARE = re.compile(r"^(?:verdict|answer|choice|winner)?\s*[:=]?\s*(a|b|tie)$", re.IGNORECASE)
_TOKENS = {"a": "first", "b": "second", "c": "tie", "tie": "tie", "1": "first", "2": "second"}


def parse_verdict(text: str) -> str | None:
    """'first', 'second' or 'tie' (display terms) from a judge's reply, or None when it cannot be read.

    Reads a bare 'A'/'B'/'tie', MT-Bench's '[[A]]' ('[[C]]' is a tie), AlpacaEval's 'Output (a)', and JSON
    {"choice": ...} (also "verdict"/"winner"). Conflicting verdicts in one reply are unreadable, not guessed."""
    text = text.strip()
    obj = _json_object(text)
    if obj is not None:
        for key in ("choice", "verdict", "winner", "preference"):
            value = obj.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool):
                return _token(str(value))
        return None
    for pattern in (_BRACKETED, _OUTPUT):
        found = {_TOKENS[m.lower()] for m in pattern.findall(text)}
        if found:
            return found.pop() if len(found) == 1 else None
    cleaned = re.sub(r"[*`\"'.!\s]+$", "", re.sub(r"^[*`\"'\s]+", "", text))
    match = _BARE.match(cleaned)
    return _TOKENS[match.group(1).lower()] if match else None


def _token(value: str) -> str | None:
    v = value.strip().strip("[]().\"' ").lower()
    v = re.sub(r"^(output|answer|assistant|response)\s*", "", v).strip("() ")
    return _TOKENS.get(v)


def _json_object(text: str) -> dict[str, Any] | None:
    body = re.sub(r"^```(?:json)?\s*|\s*```$", "", text)
    if not body.startswith("{"):
        return None
    try:
        obj = json.loads(body)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def _canonical(verdict: str, shown_first: Side) -> Choice:
    if verdict == "tie":
        return Choice.TIE
    return Choice(shown_first.value if verdict == "first" else shown_first.other.value)


class _Caller:
    """POSTs chat completions with retries; the key lives only in the client's headers."""

    def __init__(self, config: JudgeConfig, api_key: str | None) -> None:
        import httpx

        self.config = config
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(base_url=config.base_url.rstrip("/"), headers=headers, timeout=config.timeout)
        self.httpx = httpx

    def close(self) -> None:
        self.client.close()

    def call(self, item: JudgeItem, shown_first: Side) -> tuple[str | None, int, str]:
        """(reply text or None when every try failed, retries used, reason of the last failure)."""
        first, second = ((item.response_a, item.response_b) if shown_first is Side.A
                         else (item.response_b, item.response_a))
        objective = "" if item.objective == "overall" else OBJECTIVE_LINE.format(objective=item.objective)
        body = {"model": self.config.model, "temperature": self.config.temperature,
                "messages": [{"role": "system", "content": item.rubric or self.config.rubric},
                             {"role": "user", "content": USER_TEMPLATE.format(prompt=item.prompt, first=first,
                                                                              second=second, objective=objective)}]}
        reason = ""
        for attempt in range(self.config.max_retries + 1):
            if attempt:
                time.sleep(self.config.retry_wait * 2 ** (attempt - 1))
            try:
                resp = self.client.post("/chat/completions", json=body)
            except self.httpx.HTTPError as exc:  # connection refused, timeout...: transient
                reason = f"{type(exc).__name__}"
                continue
            if resp.status_code in (401, 403):
                raise JudgeError(f"{self.config.base_url}: the endpoint refused the API key (HTTP "
                                 f"{resp.status_code})")
            if resp.status_code in _RETRY_STATUS:
                reason = f"HTTP {resp.status_code}"
                continue
            if resp.status_code != 200:
                return None, attempt, f"HTTP {resp.status_code} (not retried)"
            try:
                return str(resp.json()["choices"][0]["message"]["content"] or ""), attempt, ""
            except (ValueError, KeyError, IndexError, TypeError):  # a truncated body, a proxy's page: transient
                reason = "response is not an OpenAI chat completion"
        return None, self.config.max_retries, f"{reason} after {self.config.max_retries} retries"


def judge_jobs(items: Iterable[JudgeItem], config: JudgeConfig,
               done: Collection[tuple[str | None, str, Side]] = ()) -> list[tuple[JudgeItem, Side]]:
    """(item, display order) to call: both orders unless config.both_orders is off, less those in `done`
    ((pair_id, objective, shown_first) the judge answered before: a rerun resumes instead of repeating)."""
    jobs = [(item, order) for item in items for order in ((Side.A, Side.B) if config.both_orders else (Side.A,))
            if (item.pair_id, item.objective, order) not in done]
    if not config.rubric.strip() and any(not (item.rubric or "").strip() for item, _ in jobs):
        raise JudgeError("rubric is empty")
    return jobs


def judge(items: Sequence[JudgeItem] | Iterable[JudgeItem], config: JudgeConfig, api_key: str | None = None,
          on_progress: Callable[[int], None] | None = None,
          done: Collection[tuple[str | None, str, Side]] = ()) -> JudgeResult:
    """Judge every pair (both display orders unless config.both_orders is off) but those in `done`; failures are
    counted, never stored."""
    jobs = judge_jobs(items, config, done)
    result = JudgeResult()
    caller = _Caller(config, api_key)
    now = datetime.now(UTC)
    try:
        with ThreadPoolExecutor(max_workers=config.concurrency) as pool:
            futures = {pool.submit(caller.call, item, order): (item, order) for item, order in jobs}
            try:
                for future in as_completed(futures):
                    item, order = futures[future]
                    reply, retries, reason = future.result()
                    result.retries += retries
                    where = f"pair {item.pair_id or item.prompt[:40]!r} ({order.value} shown first)"
                    if reply is None:
                        result.unjudged += 1
                        result.failures.append(f"{where}: unjudged, {reason}")
                    elif (verdict := parse_verdict(reply)) is None:
                        result.unparsed += 1
                        shown = reply[:80].replace(api_key, "***") if api_key else reply[:80]  # an echoing server
                        result.failures.append(f"{where}: unparseable verdict {shown!r}")
                    else:
                        result.comparisons.append(Comparison(
                            prompt=item.prompt, response_a=item.response_a, response_b=item.response_b,
                            shown_first=order, choice=_canonical(verdict, order), rater=config.rater,
                            pair_id=item.pair_id, task_type=item.task_type, objective=item.objective,
                            campaign=config.campaign, interface=INTERFACE,
                            rubric_version=item.rubric_version or config.rubric_version, created_at=now,
                            **item.extras))
                    if on_progress is not None:
                        on_progress(1)
            except JudgeError:
                for f in futures:
                    f.cancel()
                raise
    finally:
        caller.close()
    # a stable order whatever the threads did: the file and the store read the same on every run
    index = {i.key: n for n, i in enumerate(item for item, _ in jobs)}
    result.comparisons.sort(key=lambda c: (index[(c.prompt, c.response_a, c.response_b, c.objective)],
                                           c.shown_first.value))
    return result
