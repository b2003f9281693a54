"""Planted PII in every field a client can send, end to end: recall and precision per type and field, and a scan of
the database, the server's log, the SDK's spool and every export for the raw values.

A fresh project is served by `tether serve` on 127.0.0.1. Each labelled row (`tests/data/pii/pii_set.jsonl` and
`pii_hard.jsonl`: the formats the detectors were built for; `pii_unseen.jsonl`: formats they were not, reported
apart) is sent as the text of every client-settable field:

- `/v1/events`: prompt, response, corrected_response, outcome value (text), feedback name, model, an attribute
  value, a value nested in attribute lists and objects, an attribute key, an unknown top-level key's value (how
  `user_id` and other metadata arrive) and its name; the card, SSN and phone values also as JSON numbers (an
  attribute and a feedback value); each value also as an event_id and a trace_id (those must be refused: 422).
- `/v1/traces` (OTLP JSON): gen_ai.prompt, gen_ai.completion, gen_ai.request.model, a span attribute, a resource
  attribute, an attribute key, the span name, and the numbers as intValue.
- the SDK with the server down and the write-ahead log on: the spooled prompt (redacted on the client with
  unkeyed placeholders), then replayed.

The stored field is read back (`GET /v1/events`); the spans of the sent text that became placeholders are the
findings (`tether.deploy.pii_eval.findings_in_stored`), scored like `Redactor.find` on text: recall (a finding
of the type covers the whole value) and precision per type and field. A value the server refuses (a model that
is not printable ASCII, a name over 255 characters) is counted as refused, not scored.

Then `tether deploy pairs`, comparisons made from the stored events, and every export kind; the database (every
table), the server's log, the SDK's spool folder and every export file are searched for each planted value.

    python benchmarks/pii_fields.py --write
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
from served_project import Served, new_project, tether

from tether.config import find_project
from tether.deploy.client import Client
from tether.deploy.keyring import Keyring, project_key_file
from tether.deploy.pii import PII_TYPES, Redactor
from tether.deploy.pii_eval import Tally, findings_in_stored, read_labelled
from tether.deploy.process import free_port
from tether.records import Comparison, Event

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "pii"
DESIGNED = ("pii_set.jsonl", "pii_hard.jsonl")
UNSEEN = "pii_unseen.jsonl"
RESULTS = Path(__file__).with_name("RESULTS.md")
BEGIN, END = "<!-- pii_fields.py: begin -->", "<!-- pii_fields.py: end -->"
EXPORTS = ("events", "comparisons", "hf-comparisons", "pandalm", "pairs", "trl", "hf", "hh-rlhf")
NUMBER_TYPES = ("CREDIT_CARD", "SSN", "PHONE")
TS = "2026-11-27T03:00:00Z"
_NAMES = {"an e-mail address": "EMAIL", "a phone number": "PHONE", "a payment card number": "CREDIT_CARD",
          "an IBAN": "IBAN", "a social security number": "SSN", "an IP address": "IP",
          "a secret (password, key or token)": "SECRET", "a URL with a token or credentials": "URL_TOKEN"}


def as_model(text: str) -> str:
    # a model name is one line: line breaks become blanks (same length, so the labelled spans still hold)
    return re.sub(r"\s", " ", text).strip(" ") if text.strip() == text else re.sub(r"\s", " ", text)


def number_of(span: dict) -> int | None:
    """A card, SSN or phone value as the JSON number a client would send: its digits, if it is only digits and
    ASCII separators."""
    v = span["value"]
    if span["type"] not in NUMBER_TYPES or not re.fullmatch(r"\+?[0-9][0-9 .()\-]*", v):
        return None
    return int(re.sub(r"\D", "", v))


def number_field(span: dict, n: int) -> str:
    """The number fields are scored in two groups: the shapes `number_pii` documents (any card; an SSN whose
    area does not start with 0, which a number drops; a North American phone: 10 digits, or 11 with a leading
    1, area code and exchange not starting with 0 or 1) and the rest (other countries' phones, SSNs that lost
    their leading 0), which a bare number cannot be told from a count or an id by."""
    d = str(n)  # as the number holds it: leading zeros gone
    documented = (span["type"] == "CREDIT_CARD" or (span["type"] == "SSN" and len(d) == 9)
                  or (span["type"] == "PHONE" and re.fullmatch(r"1?[2-9][0-9]{2}[2-9][0-9]{6}", d) is not None))
    return "" if documented else ", other shapes"


class Plant:
    """The sent text of each (field, event id) and the labelled spans it carries."""

    def __init__(self, rows: list[dict], tag: str, first_trace: int) -> None:
        self.rows, self.tag = rows, tag
        self.first_trace = first_trace  # OTLP trace ids of this set: first_trace + row, and + 10**9 (models)
        self.sent: dict[tuple[str, str], tuple[str, list[dict]]] = {}
        self.refused: dict[str, int] = defaultdict(int)

    def expect(self, field: str, eid: str, text: str, spans: list[dict]) -> None:
        self.sent[(field, eid)] = (text, spans)

    def events(self) -> list[dict]:
        out = []
        for i, row in enumerate(self.rows):
            text, spans = row["text"], row["spans"]
            t = f"{self.tag}-t{i}"
            gen = {"event_id": f"{self.tag}-g{i}", "type": "generation", "trace_id": t, "timestamp": TS,
                   "model": "m1", "prompt": text, "response": text,
                   "attributes": {"note": text, "nested": {"list": [{"deep": text}]}, text: "k"},
                   "user_note": text, text + " ": 1}
            for f in ("prompt", "response", "attributes.note", "attributes.nested", "attribute key", "metadata value",
                      "metadata key"):
                self.expect(f, gen["event_id"], text, spans)
            out.append(gen)
            out.append({"event_id": f"{self.tag}-c{i}", "type": "correction", "trace_id": t, "timestamp": TS,
                        "corrected_response": text + " (edited)"})
            self.expect("corrected_response", f"{self.tag}-c{i}", text + " (edited)", spans)
            out.append({"event_id": f"{self.tag}-o{i}", "type": "outcome", "trace_id": t, "timestamp": TS,
                        "name": "status", "value": text})
            self.expect("outcome value (text)", f"{self.tag}-o{i}", text, spans)
            out.append({"event_id": f"{self.tag}-f{i}", "type": "feedback", "trace_id": t, "timestamp": TS,
                        "name": text, "value": 1})
            self.expect("feedback name", f"{self.tag}-f{i}", text, spans)
            out.append({"event_id": f"{self.tag}-m{i}", "type": "generation", "trace_id": t, "timestamp": TS,
                        "model": as_model(text), "prompt": "q", "response": "a"})
            self.expect("model", f"{self.tag}-m{i}", as_model(text), spans)
            for j, span in enumerate(row["spans"]):
                n = number_of(span)
                if n is None:
                    continue
                nspan = [{"type": span["type"], "start": 0, "end": len(str(n)), "value": str(n)}]
                eid = f"{self.tag}-n{i}-{j}"
                out.append({"event_id": eid, "type": "feedback", "trace_id": t, "timestamp": TS, "name": "score",
                            "value": n, "attributes": {"number": n}})
                group = number_field(span, n)
                self.expect(f"number (feedback value{group})", eid, str(n), nspan)
                self.expect(f"number (attribute{group})", eid, str(n), nspan)
        return out


def _digits(v: Any) -> str:
    # a stored number as the digits sent (a feedback value is kept as a float); a placeholder as it is
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def stored_text(event: dict, field: str) -> str | None:
    a = event.get("attributes", {})
    return {
        "prompt": lambda: event.get("prompt"), "response": lambda: event.get("response"),
        "corrected_response": lambda: event.get("corrected_response"),
        "outcome value (text)": lambda: event.get("value"), "feedback name": lambda: event.get("name"),
        "model": lambda: event.get("model"), "attributes.note": lambda: a.get("note"),
        "attributes.nested": lambda: a.get("nested", {}).get("list", [{}])[0].get("deep"),
        "attribute key": lambda: next((k for k, v in a.items() if v == "k"), None),
        "metadata value": lambda: event.get("user_note"),
        "metadata key": lambda: next((k[:-1] for k, v in event.items() if v == 1 and k.endswith(" ")), None),
        "number (feedback value)": lambda: _digits(event.get("value")),
        "number (attribute)": lambda: _digits(a.get("number")),
        "number (feedback value, other shapes)": lambda: _digits(event.get("value")),
        "number (attribute, other shapes)": lambda: _digits(a.get("number")),
        "OTLP gen_ai.prompt": lambda: event.get("prompt"), "OTLP gen_ai.completion": lambda: event.get("response"),
        "OTLP span attribute": lambda: a.get("app.note"),
        "OTLP resource attribute": lambda: a.get("resource.enduser.note"),
        "OTLP attribute key": lambda: next((k for k, v in a.items() if v == "k"), None),
        "OTLP span name": lambda: a.get("otel.span_name"), "OTLP model": lambda: event.get("model"),
        "OTLP intValue": lambda: _digits(a.get("app.number")),
        "OTLP intValue, other shapes": lambda: _digits(a.get("app.number")),
    }[field]()


def post_all(http: httpx.Client, path: str, items: list, wrap: Any, plant: Plant, field_of: Any,
             batch: int = 200) -> None:
    """POST items in batches; the items a 422 names are counted refused (per field) and the rest sent again."""
    for i in range(0, len(items), batch):
        part = items[i : i + batch]
        while part:
            r = http.post(path, json=wrap(part))
            if r.status_code == 200:
                break
            if r.status_code != 422:
                raise RuntimeError(f"{path}: {r.status_code} {r.text[:500]}")
            bad = {d["loc"][1] for d in r.json()["detail"] if len(d.get("loc", [])) > 1}
            if not bad:
                bad = set(range(len(part))) if len(part) == 1 else None
            if bad is None:  # one request per item to find the refused ones
                for item in part:
                    post_all(http, path, [item], wrap, plant, field_of, batch=1)
                break
            for k in bad:
                plant.refused[field_of(part[k])] += 1
            part = [x for k, x in enumerate(part) if k not in bad]


def otlp_spans(plant: Plant) -> tuple[list[dict], list[dict]]:
    """One span per row with the text in every OTLP field but the model; one span per row with it as the model."""
    def kv(k: str, v: Any) -> dict:
        return {"key": k, "value": {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v}}

    spans, models = [], []
    for i, row in enumerate(plant.rows, plant.first_trace):
        text, sp = row["text"], row["spans"]
        group = ""
        attrs = [kv("gen_ai.prompt", text), kv("gen_ai.completion", text), kv("gen_ai.request.model", "m1"),
                 kv("app.note", text), kv(text, "k")]
        numbers = [(s, number_of(s)) for s in sp if number_of(s) is not None]
        if numbers:
            s, n = numbers[0]
            attrs.append(kv("app.number", n))
            group = number_field(s, n)
        sid = f"{i:016x}"
        spans.append({"resource": {"attributes": [kv("enduser.note", text)]},
                      "scopeSpans": [{"spans": [{"traceId": f"{i:032x}", "spanId": sid, "name": text,
                                                 "attributes": attrs}]}]})
        for f in ("OTLP gen_ai.prompt", "OTLP gen_ai.completion", "OTLP span attribute", "OTLP resource attribute",
                  "OTLP attribute key", "OTLP span name"):
            plant.expect(f, f"otel-{i:032x}-{sid}", text, sp)
        if numbers:
            plant.expect(f"OTLP intValue{group}", f"otel-{i:032x}-{sid}", str(n),
                         [{"type": s["type"], "start": 0, "end": len(str(n)), "value": str(n)}])
        msid = f"{i + 10**9:016x}"
        models.append({"scopeSpans": [{"spans": [{"traceId": f"{i + 10**9:032x}", "spanId": msid, "name": "chat",
                                                  "attributes": [kv("gen_ai.request.model", as_model(text)),
                                                                 kv("gen_ai.prompt", "q"),
                                                                 kv("gen_ai.completion", "a")]}]}]})
        plant.expect("OTLP model", f"otel-{i + 10**9:032x}-{msid}", as_model(text), sp)
    return spans, models


def id_refusals(http: httpx.Client, rows: list[dict]) -> dict[str, dict[str, int]]:
    """Each planted value, alone and in its row's text, as an event_id and as a trace_id (must be 422); the texts
    of rows without PII (first 256 characters) and UUIDs as ids that must be accepted."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    values = [(s["type"], s["value"]) for r in rows for s in r["spans"]]
    whole = [(s["type"], r["text"]) for r in rows if len(r["text"]) <= 256 for s in r["spans"]]
    clean = [r["text"][:256] for r in rows if not r["spans"]] + [str(uuid.uuid4()) for _ in range(200)]
    for key in ("event_id", "trace_id"):
        for type_, v, how in ([(t, v, "value") for t, v in values] + [(t, v, "row") for t, v in whole]
                              + [(None, c, "") for c in clean]):
            e = {"event_id": "id-probe", "type": "generation", "trace_id": "id-probe-t", "timestamp": TS,
                 "model": "m1", "prompt": "q", "response": "a", key: v}
            if key == "event_id":
                e["event_id"] = v
            r = http.post("/v1/events", json=[e])
            said = None
            if r.status_code == 422:
                m = re.search(r"looks like (.+?); ids", r.text)
                said = _NAMES.get(m.group(1), m.group(1)) if m else "other"
            elif r.status_code != 200:
                raise RuntimeError(f"id probe: {r.status_code} {r.text[:300]}")
            if type_ is None:
                out[key]["clean"] += 1
                out[key]["clean refused"] += said is not None
            else:
                t = "IP" if type_ in ("IPV4", "IPV6") else type_
                row = out[f"{key}:{how}:{t}"]
                row["planted"] += 1
                row["refused"] += said is not None
    return out


def measure(work: Path, designed: list[dict], unseen: list[dict]) -> dict[str, Any]:
    project = work / "proj"
    key = new_project(project)
    log = work / "serve.log"
    tenant = find_project(project).name
    redactor: Redactor = Keyring(project_key_file(find_project(project))).redactor(tenant)
    plants = {"designed": Plant(designed, "d", 1), "unseen": Plant(unseen, "u", 1 + len(designed))}
    with Served(project, log) as server, httpx.Client(base_url=server.url, timeout=120,
                                                      headers={"Authorization": f"Bearer {key}"}) as http:
        field_of = {}
        for plant in plants.values():
            events = plant.events()
            for e in events:
                field_of[e["event_id"]] = {"m": "model", "f": "feedback name"}.get(e["event_id"].split("-")[1][0])
            post_all(http, "/v1/events", events, lambda p: p, plant, lambda e: field_of[e["event_id"]] or "event")
            spans, models = otlp_spans(plant)
            post_all(http, "/v1/traces", spans, lambda p: {"resourceSpans": p}, plant, lambda s: "OTLP span")
            post_all(http, "/v1/traces", models, lambda p: {"resourceSpans": p}, plant, lambda s: "OTLP model")
        # the SDK, server unreachable, write-ahead log on: what it spools; then replayed to the server
        spool = work / "spool"
        sdk_events = [Event.model_validate({"event_id": f"sdk-{i}", "type": "generation", "trace_id": f"sdk-t{i}",
                                            "timestamp": TS, "model": "m1", "prompt": r["text"], "response": "a"})
                      for i, r in enumerate(designed)]
        down = Client(f"http://127.0.0.1:{free_port()}", key, spool_dir=spool, max_retries=0, backoff_base=0.01,
                      write_ahead=True, flush_interval=0.05)
        for e in sdk_events:
            down.log(e)
        down.flush(120)
        down.close()
        spool_files = {p.name: p.read_text(encoding="utf-8") for p in spool.iterdir() if p.is_file()}
        spooled = {}
        for text in spool_files.values():
            for line in text.splitlines():
                d = json.loads(line)
                spooled[d["event_id"]] = d
        with Client(server.url, key, spool_dir=spool) as up:
            replayed = up.replay()
        # read every stored event back through the API
        stored: dict[str, dict] = {}
        traces = {e["trace_id"] for p in plants.values() for e in p.events()}
        traces |= {f"{p.first_trace + i + off:032x}" for p in plants.values() for i in range(len(p.rows))
                   for off in (0, 10**9)}
        traces |= {f"sdk-t{i}" for i in range(len(designed))}
        for t in traces:
            r = http.get("/v1/events", params={"trace_id": t})
            r.raise_for_status()
            for e in r.json()["events"]:
                stored[e["event_id"]] = e
    # every field: recall and precision per type
    tallies: dict[str, dict[str, Tally]] = {}
    changed: dict[str, dict[str, int]] = {}
    for name, plant in plants.items():
        for (field, eid), (sent, spans) in plant.sent.items():
            ev = stored.get(eid)
            if ev is None:
                continue  # refused (counted in plant.refused)
            found = findings_in_stored(sent, stored_text(ev, field) or "", redactor)
            if found is None:
                changed.setdefault(name, defaultdict(int))[field] += 1
                print(f"stored otherwise ({name}, {field}): sent {sent!r} stored {stored_text(ev, field)!r}")
                continue
            tallies.setdefault(name, {}).setdefault(field, Tally()).add(spans, found)
    spool_tally = Tally()
    for i, r in enumerate(designed):
        d = spooled.get(f"sdk-{i}")
        found = findings_in_stored(r["text"], d["prompt"]) if d else None
        if found is not None:
            spool_tally.add(r["spans"], found)
        else:
            changed.setdefault("designed", defaultdict(int))["SDK spool prompt"] += 1
    tallies["designed"]["SDK spool prompt (unkeyed)"] = spool_tally
    # derived data and every export
    tether(project, "deploy", "pairs")
    from tether.store import Store  # noqa: PLC0415 - the project's store, after the server stopped

    store: Store = find_project(project).store()
    gens = [e for e in store.iter_events(project=tenant) if e.type.value == "generation" and e.prompt != "q"]
    store.add_comparisons([Comparison(prompt=e.prompt, response_a=e.response, response_b=e.response + " (v2)",
                                      shown_first="a", choice="a", rater="pandalm-annotator1",
                                      campaign="pii-scan")
                           for e in gens[:2000]])
    db = db_text(store)
    store.close()
    exports = {}
    for kind in EXPORTS:
        out = work / "exports" / (f"{kind}" if kind == "hf" else f"{kind}.jsonl")
        out.parent.mkdir(exist_ok=True)
        tether(project, "export", kind, str(out))
        files = [out] if out.is_file() else [p for p in out.rglob("*") if p.is_file()]
        exports[kind] = "\n".join(p.read_bytes().decode("utf-8", "replace") for p in files)
    places = {"database (every table)": db, "server log": log.read_text(encoding="utf-8", errors="replace"),
              "SDK spool folder": "\n".join(spool_files.values()),
              **{f"export {k}": v for k, v in exports.items()}}
    values = sorted({s["value"] for r in designed for s in r["spans"]})
    numbers = {(str(n), number_field(s, n)) for r in designed for s in r["spans"] if (n := number_of(s)) is not None}
    values += sorted(n for n, group in numbers if not group)
    others = sorted(n for n, group in numbers if group)
    scan = {where: [v for v in values if _raw_in(v, text)] for where, text in places.items()}
    scan_others = {where: [v for v in others if _raw_in(v, text)] for where, text in places.items()}
    sizes = {where: len(text) for where, text in places.items()}
    # ids, in a project of their own: a context-free token accepted as an id is stored raw, and would show in the
    # scan above as a leak of the ids' rule, not of a field's redaction (it is reported in its own table)
    probe = work / "idprobe"
    probe_key = new_project(probe)
    with Served(probe, work / "idprobe.log") as server, httpx.Client(
            base_url=server.url, timeout=120, headers={"Authorization": f"Bearer {probe_key}"}) as http:
        ids = id_refusals(http, designed)
    return {"tallies": tallies, "refused": {k: dict(p.refused) for k, p in plants.items()},
            "changed": {k: dict(v) for k, v in changed.items()}, "ids": {k: dict(v) for k, v in ids.items()},
            "scan": scan, "scan_others": scan_others, "n_others": len(others), "sizes": sizes,
            "n_values": len(values), "replayed": replayed,
            "spooled": len(spooled), "stored": len(stored)}


def _raw_in(value: str, text: str) -> bool:
    # as written, or as a JSON column holds it (`+1\u00a0710...`: non-ASCII escaped)
    return value in text or json.dumps(value)[1:-1] in text


def db_text(store) -> str:  # noqa: ANN001
    from sqlalchemy import MetaData, select

    meta = MetaData()
    meta.reflect(store.engine)
    with store.engine.connect() as conn:
        return "\n".join("\t".join(map(str, row)) for t in meta.sorted_tables for row in conn.execute(select(t)))


def field_table(tallies: dict[str, Tally], refused: dict[str, int], types: tuple[str, ...], metric: str) -> str:
    head = "| field | " + " | ".join(types) + " | refused (422) |"
    lines = [head, "|---|" + "---|" * (len(types) + 1)]
    for field, tally in tallies.items():
        res = tally.result()
        cells = []
        for t in types:
            r = res.get(t)
            cells.append("" if r is None or (metric == "recall" and not r["gold"]) or
                         (metric == "precision" and not r["predicted"]) else f"{r[metric]:.3f}")
        lines.append(f"| {field} | " + " | ".join(cells) + f" | {refused.get(field, '')} |")
    return "\n".join(lines)


def report(res: dict[str, Any], seconds: float, n_designed: int, n_unseen: int) -> str:
    types = tuple(t for t in PII_TYPES)
    d, u = res["tallies"]["designed"], res["tallies"]["unseen"]
    worst_r = min((r["recall"], f, t) for f, tl in d.items() for t, r in tl.result().items()
                  if t != "_misses" and r["gold"])
    worst_p = min((r["precision"], f, t) for f, tl in d.items() for t, r in tl.result().items()
                  if t != "_misses" and r["predicted"])
    ids = res["ids"]
    id_lines = ["| id field | sent | type | planted | refused |", "|---|---|---|---|---|"]
    for k in sorted(k for k in ids if ":" in k):
        f, how, t = k.split(":")
        v = ids[k]
        sent = "the value alone" if how == "value" else "the row's text (<= 256 characters)"
        id_lines.append(f"| {f} | {sent} | {t} | {v['planted']} | {v['refused'] / v['planted']:.3f} |")
    clean = "; ".join(f"{f}: {ids[f]['clean refused']} of {ids[f]['clean']} refused" for f in ("event_id", "trace_id"))
    scan_lines = ["| where | characters | planted values found raw | numbers of other shapes found raw |",
                  "|---|---|---|---|"]
    for where, hits in res["scan"].items():
        scan_lines.append(f"| {where} | {res['sizes'][where]:,} | {len(hits)}"
                          + (f": {', '.join(repr(h) for h in hits[:5])}" if hits else "")
                          + f" | {len(res['scan_others'][where])} |")
    changed = res["changed"]
    return f"""`python benchmarks/pii_fields.py --write` — {platform.machine()}, Python {platform.python_version()}, \
2-core shared machine; {seconds:.0f} s. `tether serve` on 127.0.0.1 over a fresh project (SQLite);
{n_designed} rows of the designed sets (`pii_set.jsonl` + `pii_hard.jsonl`) and {n_unseen} of the unseen set
(`pii_unseen.jsonl`), each row's text sent as every field (the card, SSN and phone values that are digits and ASCII
separators also as JSON numbers), read back with `GET /v1/events`; {res['stored']:,} events stored. Recall: a
placeholder of the value's type replaced all of it; precision: a placeholder overlaps a planted value of its type.
Empty cell: the type is not planted there.

Designed formats, recall per type and field (target >= 0.99):

{field_table(d, res['refused']['designed'], types, 'recall')}

Designed formats, precision per type and field (target >= 0.95):

{field_table(d, res['refused']['designed'], types, 'precision')}

Lowest recall {worst_r[0]:.3f} ({worst_r[2]} in {worst_r[1]}); lowest precision {worst_p[0]:.3f} ({worst_p[2]} in
{worst_p[1]}). Fields stored otherwise than "sent text with spans replaced": {changed.get('designed', {}) or 'none'}.

Ids (`event_id`, `trace_id`) are refused, not redacted: each planted value sent as an id:

{chr(10).join(id_lines)}

Ids without PII accepted: {clean} (the PII-free rows' text and 200 UUIDs).

Unseen formats (no target), recall per type and field:

{field_table(u, res['refused']['unseen'], types, 'recall')}

Scan for the {res['n_values']:,} distinct planted values of the designed sets (the texts' values, and the numbers
of the documented shapes; apart, the {res['n_others']} numbers of other shapes sent as JSON numbers), after
`tether deploy pairs`, {min(2000, n_designed)} comparisons made from the stored generations, and every export
(`tether export KIND`); the SDK spooled {res['spooled']:,} events with the server down (write-ahead log on) and
replayed {res['replayed']:,}:

{chr(10).join(scan_lines)}"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", action="store_true", help=f"record in {RESULTS.name}")
    ap.add_argument("--limit", type=int, default=0, help="only the first N rows of each set (a quick look)")
    ap.add_argument("--every", type=int, default=1, help="only every K-th row of each set (a sample)")
    args = ap.parse_args()
    designed = [r for f in DESIGNED for r in read_labelled(DATA / f)]
    unseen = list(read_labelled(DATA / UNSEEN))
    designed, unseen = designed[:: args.every], unseen[:: args.every]
    if args.limit:
        designed, unseen = designed[: args.limit], unseen[: args.limit]
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        res = measure(Path(tmp), designed, unseen)
    body = report(res, time.monotonic() - t0, len(designed), len(unseen))
    print(body)
    if args.write:
        text = RESULTS.read_text(encoding="utf-8")
        block = f"{BEGIN}\n{body}\n{END}"
        if BEGIN in text:
            text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END):]
        else:
            anchor = "### Reading\n\n- **The issue's input**"
            text = text.replace(anchor, "### Every field a client can send, end to end\n\n" + block + "\n\n" + anchor,
                                1)
        RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
