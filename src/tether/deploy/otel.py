"""OpenTelemetry GenAI spans (OTLP/HTTP JSON) -> Tether generation events.

Reads the prompt and completion from any of the forms instrumentations emit:
`gen_ai.prompt` / `gen_ai.completion` attributes, indexed `gen_ai.prompt.N.content` /
`gen_ai.completion.N.content` (OpenLLMetry), `gen_ai.input.messages` / `gen_ai.output.messages`
(JSON), or span events `gen_ai.{system,user,assistant}.message` and `gen_ai.choice`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import orjson

from tether.records import Event, EventType


class OtlpError(ValueError):
    """The body is not OTLP/HTTP JSON (message names the path of the bad key)."""


def _value(v: Any) -> Any:
    if not isinstance(v, dict):
        return v
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in v:
            return v[key]
    if "intValue" in v:
        try:
            return int(v["intValue"])
        except (TypeError, ValueError):
            return v["intValue"]
    if "arrayValue" in v:
        arr = v["arrayValue"]
        values = arr.get("values") if isinstance(arr, dict) else None
        return [_value(x) for x in values] if isinstance(values, list) else []
    if "kvlistValue" in v:
        kv = v["kvlistValue"]
        values = kv.get("values") if isinstance(kv, dict) else None
        return _attrs(values if isinstance(values, list) else [], "kvlistValue")
    return None


def _attrs(items: Any, where: str) -> dict[str, Any]:
    if items is None:
        return {}
    if not isinstance(items, list):
        raise OtlpError(f"{where}: attributes must be a list of {{key, value}}")
    out: dict[str, Any] = {}
    for i, kv in enumerate(items):
        if not isinstance(kv, dict) or not isinstance(kv.get("key"), str):
            raise OtlpError(f"{where}[{i}]: attribute needs a string 'key'")
        out[kv["key"]] = _value(kv.get("value"))
    return out


MAX_DEPTH = 64  # deeper JSON would only exhaust recursion in redaction and OTLP parsing


def too_deep(obj: Any, limit: int = MAX_DEPTH) -> bool:
    """True if lists/dicts nest deeper than `limit` (checked iteratively: the check itself must not recurse)."""
    stack = [(obj, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return False


def _messages_text(raw: Any) -> str | None:
    """Text of a messages list (JSON string or list of {role, content|parts})."""
    if isinstance(raw, str):
        try:
            raw = orjson.loads(raw)  # orjson refuses absurd nesting with an error; json would recurse
        except ValueError as exc:
            if "depth" in str(exc):
                raise OtlpError(f"gen_ai messages nest deeper than {MAX_DEPTH} levels") from None
            return raw  # plain text, not JSON
        if too_deep(raw):
            raise OtlpError(f"gen_ai messages nest deeper than {MAX_DEPTH} levels")
    if isinstance(raw, dict):  # one message (a gen_ai.choice event's `message`)
        raw = [raw]
    if not isinstance(raw, list):
        return None
    texts = []
    for m in raw:
        if not isinstance(m, dict):
            continue
        content = m.get("content")
        if content is None and isinstance(m.get("parts"), list):
            content = "\n".join(str(p.get("content", "")) for p in m["parts"] if isinstance(p, dict))
        if content is None and isinstance(m.get("message"), dict):
            content = m["message"].get("content")
        if content is not None:
            texts.append(content if isinstance(content, str) else json.dumps(content))
    return "\n".join(texts) if texts else None


def _indexed(attrs: dict[str, Any], base: str) -> str | None:
    parts = []
    i = 0
    while f"{base}.{i}.content" in attrs:
        parts.append(str(attrs[f"{base}.{i}.content"]))
        i += 1
    return "\n".join(parts) if parts else None


def _time(nanos: Any, where: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(nanos) / 1e9, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise OtlpError(f"{where}: not a Unix time in nanoseconds: {nanos!r}") from None


def span_to_event(span: dict[str, Any], resource: dict[str, Any], where: str) -> Event | None:
    """A generation event for a GenAI span, or None if the span carries no prompt and completion."""
    attrs = _attrs(span.get("attributes"), f"{where}.attributes")
    try:
        prompt = attrs.get("gen_ai.prompt") or _indexed(attrs, "gen_ai.prompt") or _messages_text(
            attrs.get("gen_ai.input.messages"))
        completion = attrs.get("gen_ai.completion") or _indexed(attrs, "gen_ai.completion") or _messages_text(
            attrs.get("gen_ai.output.messages"))
    except OtlpError as exc:
        raise OtlpError(f"{where}.attributes: {exc}") from None
    in_msgs, out_msgs = [], []
    span_events = span.get("events") or []
    if not isinstance(span_events, list):
        raise OtlpError(f"{where}.events: must be a list")
    for j, ev in enumerate(span_events):
        if not isinstance(ev, dict):
            raise OtlpError(f"{where}.events[{j}]: must be an object")
        ev_attrs = _attrs(ev.get("attributes"), f"{where}.events[{j}].attributes")
        name = ev.get("name") if isinstance(ev.get("name"), str) else ""
        content = ev_attrs.get("content") or ev_attrs.get("gen_ai.prompt") or ev_attrs.get("gen_ai.completion")
        if content is None and "message" in ev_attrs:
            content = _messages_text([{"message": ev_attrs["message"]}] if isinstance(ev_attrs["message"], dict)
                                     else ev_attrs["message"])
        if content is None:
            continue
        if name in ("gen_ai.choice", "gen_ai.assistant.message", "gen_ai.content.completion"):
            out_msgs.append(str(content))
        elif name.startswith("gen_ai."):
            in_msgs.append(str(content))
    prompt = prompt if prompt is not None else ("\n".join(in_msgs) if in_msgs else None)
    completion = completion if completion is not None else ("\n".join(out_msgs) if out_msgs else None)
    if prompt is None or completion is None:
        return None
    trace_id, span_id = span.get("traceId"), span.get("spanId")
    if not isinstance(trace_id, str) or not trace_id or not isinstance(span_id, str) or not span_id:
        raise OtlpError(f"{where}: traceId and spanId must be non-empty strings")
    model = attrs.get("gen_ai.response.model") or attrs.get("gen_ai.request.model") or "unknown"
    keep = {k: v for k, v in attrs.items() if not k.startswith(("gen_ai.prompt", "gen_ai.completion",
                                                                 "gen_ai.input.", "gen_ai.output."))}
    keep.update({f"resource.{k}": v for k, v in resource.items()})
    keep["otel.span_name"] = span.get("name", "")
    when = span.get("endTimeUnixNano") or span.get("startTimeUnixNano")
    return Event(event_id=f"otel-{trace_id}-{span_id}", type=EventType.GENERATION,
                 trace_id=str(attrs.get("tether.trace_id") or trace_id),
                 timestamp=_time(when, where) if when is not None else datetime.now(UTC),
                 model=str(model), prompt=str(prompt), response=str(completion), attributes=keep)


def otlp_to_events(body: Any) -> tuple[list[Event], int]:
    """(generation events, spans skipped because they carry no GenAI prompt/completion)."""
    if not isinstance(body, dict) or not isinstance(body.get("resourceSpans"), list):
        raise OtlpError("body: expected an OTLP/HTTP JSON object with a 'resourceSpans' list")
    events: list[Event] = []
    skipped = 0
    for i, rs in enumerate(body["resourceSpans"]):
        if not isinstance(rs, dict):
            raise OtlpError(f"resourceSpans[{i}]: must be an object")
        res = rs.get("resource") or {}
        scope_spans = rs.get("scopeSpans") or []
        if not isinstance(res, dict) or not isinstance(scope_spans, list):
            raise OtlpError(f"resourceSpans[{i}]: 'resource' must be an object and 'scopeSpans' a list")
        resource = _attrs(res.get("attributes"), f"resourceSpans[{i}].resource.attributes")
        for j, ss in enumerate(scope_spans):
            if not isinstance(ss, dict) or not isinstance(ss.get("spans") or [], list):
                raise OtlpError(f"resourceSpans[{i}].scopeSpans[{j}]: must be an object with a 'spans' list")
            for k, span in enumerate(ss.get("spans") or []):
                where = f"resourceSpans[{i}].scopeSpans[{j}].spans[{k}]"
                if not isinstance(span, dict):
                    raise OtlpError(f"{where}: must be an object")
                ev = span_to_event(span, resource, where)
                if ev is None:
                    skipped += 1
                else:
                    events.append(ev)
    return events, skipped
