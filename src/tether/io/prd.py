"""PRD / FastChat reviewer files on Vicuna80 (bcdnlp/PRD `data/vicuna80/ratings-*`).

The import takes one rating file or a folder (every `answer_X-vs-answer_Y-...jsonl` below it).

- Display order comes from the file name: in `answer_X-vs-answer_Y-<reviewer>-reviewer...jsonl`
  X was shown first. `score` 1 = first shown better, 2 = second shown better, 3 = tie (int or
  string). Both orders of a (question, model pair) map to ONE canonical order, `a` being the
  model whose name sorts first, so they share `pair_id` `prd-vicuna80-q<id>-<a>-vs-<b>`.
- Raters: an LLM reviewer is its folder's name (`gpt4`, `gpt35`, `claude`, `bard`,
  `vicuna-13b`). Human files hold up to 3 anonymous ratings per question; the 1st, 2nd and
  3rd rating of a question in a file are raters `prd-human-1`, `prd-human-2`, `prd-human-3`.
  These are rating slots, not people: the same id in another file or question need not be
  the same person (PRD publishes no worker ids). LLM reviewers are AI raters: their comparisons
  carry interface `llm-judge`, like `tether raters judge`'s, so the audit reports them beside
  the humans and keeps them out of the humans' 0.4 rule.
- The campaign is `prd-vicuna80/<file stem>`: each file is one reviewing batch (one reviewer,
  one model pair, one display order). This also keeps apart the two gpt35 runs that PRD ships
  for gpt35-vs-gpt4 (`answer-gpt35-vs-answer-gpt4-...` and `answer_gpt35-vs-answer_gpt4-...`).
- Texts: the question (and its category, the task type) from `prompts/vicuna_questions.jsonl`;
  answers from `generations/answer_<model>.jsonl` of the `vicuna80` folder, and for guanaco
  models from qlora's `<size>-guanaco-vicuna-generations-*.jsonl` (`generation_truncated`, the
  answer without the run-on "### Human:" turn), found in `generations/` or in a
  `qlora_vicuna_generations/` folder beside `vicuna80` or above it. PRD's `guanaco-33b` is
  qlora's `30b`.

Export: refused (see `PRD_EXPORT_REFUSAL`). A PRD file keeps no text, no rater and no v1 field
but the verdict: its name must carry model names and its lines answer ids that a comparison
does not have, so it could not give back what was imported.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tether.io.errors import BadLine, InputError
from tether.io.jsonl import iter_jsonl
from tether.io.sources import FieldError, get_int, get_str, read_objects
from tether.records import LLM_JUDGE_INTERFACE, Choice, Comparison, Side

CAMPAIGN_PREFIX = "prd-vicuna80/"
HUMAN = "human"
_FILE = re.compile(r"^answer[_-](?P<first>.+?)-vs-answer[_-](?P<rest>.+)-reviewer(?:[_-]threeclass)?\.jsonl$")
_GUANACO = re.compile(r"^guanaco-(\d+)b$")
_QLORA_SIZE = {"33": "30"}  # PRD's guanaco-33b is qlora's 30b
_LLM_KEYS = ("review_id", "answer1_id", "answer2_id", "reviewer_id", "metadata", "text")

PRD_EXPORT_REFUSAL = (
    "kind 'prd' cannot be exported losslessly: a PRD reviewer file names its two models in the file "
    "name and refers to answers by id, and keeps no prompt or answer text, no rater id and none of "
    "confidence, campaign, interface, rubric_version, created_at or extra keys; export 'comparisons' "
    "(Tether v1) instead, which keeps everything"
)


class RatingFile:
    """What a rating file's name and place say: shown-first model, second model, reviewer."""

    def __init__(self, path: Path, models: set[str]) -> None:
        m = _FILE.match(path.name)
        if m is None:
            raise FieldError(None, "not a PRD rating file name (answer_X-vs-answer_Y-<reviewer>-reviewer...jsonl)")
        self.path = path
        self.first = m.group("first")
        rest = m.group("rest")
        folder = path.parent.name.removeprefix("ratings-") if path.parent.name.startswith("ratings-") else None
        if folder and rest.endswith("-" + folder):
            self.second, self.reviewer = rest[: -len(folder) - 1], folder
        else:  # a loose file: the second model is the longest known model name that prefixes the rest
            known = sorted((x for x in models if rest.startswith(x + "-")), key=len, reverse=True)
            if not known:
                raise FieldError(None, f"cannot tell the second model from the reviewer in {rest!r}")
            self.second, self.reviewer = known[0], rest[len(known[0]) + 1:]
        self.rater_base = "prd-human" if self.reviewer == HUMAN else self.reviewer
        self.a, self.b = sorted((self.first, self.second))
        self.shown_first = Side.A if self.first == self.a else Side.B
        self.campaign = CAMPAIGN_PREFIX + path.name.removesuffix(".jsonl")


class Texts:
    """Questions and answers of one vicuna80 folder, loaded once per model."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.questions: dict[int, tuple[str, str]] = {}
        for folder in ("prompts", "prompt"):
            qfile = root / folder / "vicuna_questions.jsonl"
            if qfile.exists():
                for line, obj, _raw in iter_jsonl(qfile):
                    if isinstance(obj, BadLine):
                        raise InputError(obj)
                    try:
                        qid = get_int(obj, "question_id")
                        self.questions[qid] = (get_str(obj, "text"), get_str(obj, "category", required=False)
                                               or "default")
                    except FieldError as exc:
                        raise InputError(BadLine(str(qfile), line, exc.key, exc.message)) from None
                break
        self._answers: dict[str, dict[int, tuple[str, str | None]]] = {}

    def answer_file(self, model: str) -> Path | None:
        own = self.root / "generations" / f"answer_{model}.jsonl"
        if own.exists():
            return own
        m = _GUANACO.match(model)
        if m is None:
            return None
        size = _QLORA_SIZE.get(m.group(1), m.group(1))
        pattern = f"{size}b-guanaco-vicuna-generations-*.jsonl"
        places = [self.root / "generations"]
        for up in [self.root, *self.root.parents][:4]:
            places.append(up / "qlora_vicuna_generations")
        for place in places:
            found = sorted(place.glob(pattern)) if place.is_dir() else []
            if found:
                return found[0]
        return None

    def answers(self, model: str) -> dict[int, tuple[str, str | None]]:
        """question id -> (answer text, answer id) for `model`."""
        if model in self._answers:
            return self._answers[model]
        path = self.answer_file(model)
        table: dict[int, tuple[str, str | None]] = {}
        if path is not None:
            key = "text" if path.name.startswith("answer_") else "generation_truncated"
            for line, obj, _raw in iter_jsonl(path):
                if isinstance(obj, BadLine):
                    raise InputError(obj)
                try:
                    table[get_int(obj, "question_id")] = (get_str(obj, key),
                                                          get_str(obj, "answer_id", required=False))
                except FieldError as exc:
                    raise InputError(BadLine(str(path), line, exc.key, exc.message)) from None
        self._answers[model] = table
        return table


def find_root(path: Path) -> Path:
    """The vicuna80 folder: the nearest folder at or above `path` with a `generations/` folder."""
    start = path if path.is_dir() else path.parent
    for up in [start, *start.parents][:4]:
        if (up / "generations").is_dir():
            return up
    for found in sorted(start.rglob("generations")):  # a folder above vicuna80 (e.g. PRD's data/)
        if found.is_dir():
            return found.parent
    raise InputError(BadLine(str(path), 0, None, "no generations/ folder at or above this path: PRD ratings "
                                                 "need vicuna80/generations/answer_<model>.jsonl for the texts"))


def rating_files(path: Path) -> list[Path]:
    """The PRD rating files of a folder (recursively, sorted), or the one file given."""
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*.jsonl") if _FILE.match(p.name))


def _models(texts: Texts) -> set[str]:
    names = {p.name.removeprefix("answer_").removesuffix(".jsonl")
             for p in (texts.root / "generations").glob("answer_*.jsonl")}
    return names | {f"guanaco-{s}b" for s in ("7", "13", "33", "65")}


def _choice(obj: dict[str, Any], f: RatingFile) -> Choice:
    value = obj.get("score")
    if "score" not in obj:
        raise FieldError("score", "missing required key")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise FieldError("score", f"expected 1, 2 or 3, got {type(value).__name__} ({value!r:.80})")
    score = str(value).strip()
    if score == "3":
        return Choice.TIE
    if score not in ("1", "2"):
        raise FieldError("score", f"unknown score value {value!r} (1 = first shown better, 2 = second, 3 = tie)")
    shown = f.shown_first if score == "1" else f.shown_first.other
    return Choice(shown.value)


def _read_file(f: RatingFile, texts: Texts, on_bytes: Callable[[int], None] | None
               ) -> Iterator[tuple[int, Comparison] | BadLine]:
    slot: dict[int, int] = {}  # human ratings: how many of this question we have seen in this file

    def convert(obj: dict[str, Any], _line: int) -> Comparison:
        qid = get_int(obj, "question_id")
        if qid not in texts.questions:
            raise FieldError("question_id", f"question {qid} is not in {texts.root}/prompts/vicuna_questions.jsonl")
        question, category = texts.questions[qid]
        if "text" in obj and f.reviewer == HUMAN and get_str(obj, "text") != question:
            raise FieldError("text", f"does not match question {qid}'s text in vicuna_questions.jsonl")
        choice = _choice(obj, f)
        answers = {}
        for model in (f.a, f.b):
            found = texts.answers(model).get(qid)
            if found is None:
                where = texts.answer_file(model) or f"{texts.root}/generations/answer_{model}.jsonl"
                raise FieldError("question_id", f"no answer of model {model!r} to question {qid} (looked in {where})")
            answers[model] = found
        extras: dict[str, Any] = {"question_id": qid, "model_a": f.a, "model_b": f.b}
        if f.reviewer == HUMAN:
            slot[qid] = slot.get(qid, 0) + 1
            rater = f"{f.rater_base}-{slot[qid]}"
            extras.update({k: v for k, v in obj.items() if k not in ("question_id", "text", "score")})
        else:
            rater = f.rater_base
            extras["interface"] = LLM_JUDGE_INTERFACE  # an AI rater: audited beside the humans, not as one
            for key, model in (("answer1_id", f.first), ("answer2_id", f.second)):
                given, expected = obj.get(key), answers[model][1]
                if given is not None and expected is not None and given != expected:
                    raise FieldError(key, f"answer id {given!r} is not {model}'s answer to question {qid} "
                                          f"({expected!r}), which the file name says was shown there")
            extras.update({("review" if k == "text" else k): v for k, v in obj.items()
                           if k not in ("question_id", "score")})
        return Comparison.model_validate({
            **extras,
            "prompt": question,
            "response_a": answers[f.a][0],
            "response_b": answers[f.b][0],
            "shown_first": f.shown_first,
            "choice": choice,
            "rater": rater,
            "pair_id": f"prd-vicuna80-q{qid}-{f.a}-vs-{f.b}",
            "task_type": category,
            "campaign": f.campaign,
        })

    return read_objects(f.path, convert, on_bytes)


def read_prd(path: Path, on_bytes: Callable[[int], None] | None = None
             ) -> Iterator[tuple[int, Comparison] | BadLine]:
    """Read PRD rating files (a folder, or one file) as comparisons."""
    path = Path(path)
    files = rating_files(path)
    if not files:
        raise InputError(BadLine(str(path), 0, None, "no PRD rating files (answer_X-vs-answer_Y-...jsonl) here"))
    root = find_root(path)
    texts = Texts(root)
    if not texts.questions:
        raise InputError(BadLine(str(root), 0, None, "no prompts/vicuna_questions.jsonl in the vicuna80 folder"))
    models = _models(texts)
    for file in files:
        try:
            rating = RatingFile(file, models)
        except FieldError as exc:
            yield BadLine(str(file), 0, None, exc.message)
            continue
        yield from _read_file(rating, texts, on_bytes)


def refuse_prd_export(store, path: Path, **_: object) -> int:  # noqa: ANN001
    """PRD export is refused: it could not be lossless (see PRD_EXPORT_REFUSAL)."""
    raise ValueError(PRD_EXPORT_REFUSAL)
