"""OTLP/HTTP as the official exporters send it: protobuf, gzip or not; bounded decompression; 415 for the rest.

The first tests run the OpenTelemetry Python SDK's own `OTLPSpanExporter` against a running server (uvicorn in a
thread): before protobuf was read, it failed with "Failed to export spans batch code: 422".
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.serving import serve_in_thread

from tether.deploy.api import create_app
from tether.deploy.keys import create_key
from tether.store import Store

pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("opentelemetry.exporter.otlp.proto.http")

from opentelemetry.exporter.otlp.proto.http import Compression  # noqa: E402
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: E402
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (  # noqa: E402
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Store, str]]:
    """The ingestion API under uvicorn on a free port: (traces URL, store, project key)."""
    store = Store(f"sqlite:///{tmp_path / 'tether.db'}")
    key = create_key(store, "shop")
    with serve_in_thread(create_app(store)) as port:
        yield f"http://127.0.0.1:{port}/v1/traces", store, key
    store.close()


def genai_spans(model: str) -> list:
    """Finished SDK spans of one chat call, with OpenLLMetry-style GenAI semantic-convention attributes."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "support-bot"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("opentelemetry.instrumentation.openai")
    with tracer.start_as_current_span(f"chat {model}") as span:
        span.set_attributes({
            "gen_ai.system": "openai",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": model,
            "gen_ai.response.model": f"{model}-2026-01-01",
            "gen_ai.prompt.0.role": "system",
            "gen_ai.prompt.0.content": "You are a helpful assistant.",
            "gen_ai.prompt.1.role": "user",
            "gen_ai.prompt.1.content": "My email is jo.smith@example.org, where is my order?",
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.content": "It ships tomorrow.",
            "gen_ai.usage.input_tokens": 21,
            "gen_ai.usage.output_tokens": 5,
        })
    with tracer.start_as_current_span("db query") as other:  # no GenAI content: skipped, not an error
        other.set_attribute("db.system", "postgresql")
    provider.shutdown()
    return list(memory.get_finished_spans())


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip, Compression.Deflate])
def test_official_sdk_exporter_span_is_stored_as_a_redacted_generation_event(server, compression) -> None:
    url, store, key = server
    spans = genai_spans("gpt-4o-mini")
    exporter = OTLPSpanExporter(endpoint=url, headers={"Authorization": f"Bearer {key}"}, compression=compression,
                                timeout=10)
    try:
        assert exporter.export(spans) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    events = list(store.iter_events(project="shop"))
    assert len(events) == 1  # the db span carries no prompt/completion
    event = events[0]
    chat = spans[0]
    assert event.type.value == "generation"
    assert event.trace_id == format(chat.context.trace_id, "032x")
    assert event.event_id == f"otel-{chat.context.trace_id:032x}-{chat.context.span_id:016x}"
    assert event.model == "gpt-4o-mini-2026-01-01"
    assert event.response == "It ships tomorrow."
    assert "jo.smith@example.org" not in event.prompt and "<EMAIL_" in event.prompt
    assert event.prompt.startswith("You are a helpful assistant.\n")
    assert event.attributes["gen_ai.usage.input_tokens"] == 21
    assert event.attributes["resource.service.name"] == "support-bot"
    assert event.timestamp.timestamp() == pytest.approx(chat.end_time / 1e9, abs=1e-3)


def test_readme_environment_variables_configure_the_exporter(server, monkeypatch) -> None:
    """The README's recipe: endpoint and URL-encoded Authorization header from OTEL_EXPORTER_OTLP_TRACES_*."""
    url, store, key = server
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", f"Authorization=Bearer%20{key}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip")
    exporter = OTLPSpanExporter()
    try:
        assert exporter.export(genai_spans("m2")) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    assert [e.model for e in store.iter_events(project="shop")] == ["m2-2026-01-01"]


def test_protobuf_is_answered_in_protobuf_and_retries_are_idempotent(server) -> None:
    import httpx

    url, store, key = server
    exporter = OTLPSpanExporter(endpoint=url, headers={"Authorization": f"Bearer {key}"})
    spans = genai_spans("m1")
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    assert exporter.export(spans) is SpanExportResult.SUCCESS  # the exporter's retry after a lost answer
    exporter.shutdown()
    assert len(list(store.iter_events(project="shop"))) == 1
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    body = encode_spans(spans).SerializeToString()
    r = httpx.post(url, content=body, headers={"Authorization": f"Bearer {key}",
                                               "Content-Type": "application/x-protobuf"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-protobuf"
    ExportTraceServiceResponse.FromString(r.content)  # parses


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, Store, str]]:
    """The API in process over SQLite: what these tests check happens before the store (test_api.py runs both)."""
    store = Store(f"sqlite:///{tmp_path / 'tether.db'}")
    key = create_key(store, "alpha")
    with TestClient(create_app(store, max_body_bytes=200_000, max_batch=50)) as client:
        yield client, store, key
    store.close()


def test_gzip_bomb_is_a_413_without_inflating_it(api) -> None:
    client, store, key = api
    bomb = gzip.compress(b"\0" * 50_000_000)  # 50 MB of zeros in about 50 kB
    assert len(bomb) < 200_000
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-protobuf",
               "Content-Encoding": "gzip"}
    r = client.post("/v1/traces", content=bomb, headers=headers)
    assert r.status_code == 413 and "decompresses to more than 200000 bytes" in r.text
    r = client.post("/v1/traces", content=bomb, headers={**headers, "Content-Type": "application/json"})
    assert r.status_code == 413
    r = client.post("/v1/events", content=bomb, headers={**headers, "Content-Type": "application/json"})
    assert r.status_code == 413
    assert list(store.iter_events()) == []


def test_gzipped_json_and_several_gzip_members_are_read(api) -> None:
    client, store, key = api
    span = {"traceId": "ab" * 16, "spanId": "cd" * 8, "attributes": [
        {"key": "gen_ai.request.model", "value": {"stringValue": "m"}},
        {"key": "gen_ai.prompt", "value": {"stringValue": "hi"}},
        {"key": "gen_ai.completion", "value": {"stringValue": "ok"}}]}
    raw = ('{"resourceSpans": [{"scopeSpans": [{"spans": [' + __import__("json").dumps(span) + "]}]}]}").encode()
    half = len(raw) // 2
    body = gzip.compress(raw[:half]) + gzip.compress(raw[half:])  # two members: what `cat a.gz b.gz` gives
    r = client.post("/v1/traces", content=body, headers={"Authorization": f"Bearer {key}",
                                                         "Content-Type": "application/json",
                                                         "Content-Encoding": "gzip"})
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == 1
    r = client.post("/v1/traces", content=zlib.compress(raw), headers={
        "Authorization": f"Bearer {key}", "Content-Type": "application/json", "Content-Encoding": "deflate"})
    assert r.status_code == 200 and r.json()["duplicates"] == 1


@pytest.mark.parametrize(("headers", "body", "status", "needle"), [
    ({"Content-Type": "text/plain"}, b"{}", 415, "Content-Type 'text/plain' is not OTLP/HTTP"),
    ({"Content-Type": "application/x-protobuf", "Content-Encoding": "br"}, b"x", 415, "Content-Encoding 'br'"),
    ({"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}, b"not gzip", 400, "not valid gzip"),
    ({"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}, gzip.compress(b"abc" * 100, mtime=0)[:-4],
     400, "cut short"),
    ({"Content-Type": "application/x-protobuf"}, b"\xff\xff\xff", 422, "not an OTLP ExportTraceServiceRequest"),
], ids=["text-plain", "brotli", "not-gzip", "cut-gzip", "not-protobuf"])
def test_bad_otlp_bodies_get_clear_4xx(api, headers, body, status, needle) -> None:
    client, store, key = api
    r = client.post("/v1/traces", content=body, headers={"Authorization": f"Bearer {key}", **headers})
    assert r.status_code == status, r.text
    assert needle in r.text
    assert list(store.iter_events()) == []


def test_protobuf_span_without_genai_content_is_skipped_and_ids_are_hex(api) -> None:
    client, store, key = api
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = bytes(range(16)), bytes(range(8)), "chat"
    kv = span.attributes.add()
    kv.key, kv.value.string_value = "gen_ai.prompt", "q"
    kv = span.attributes.add()
    kv.key, kv.value.string_value = "gen_ai.completion", "a"
    kv = span.attributes.add()
    kv.key, kv.value.int_value = "gen_ai.usage.output_tokens", 7
    skipped = request.resource_spans[0].scope_spans[0].spans.add()
    skipped.trace_id, skipped.span_id = b"\1" * 16, b"\2" * 8
    r = client.post("/v1/traces", content=request.SerializeToString(),
                    headers={"Authorization": f"Bearer {key}", "Content-Type": "application/x-protobuf"})
    assert r.status_code == 200, r.text
    [event] = store.iter_events(project="alpha")
    assert event.trace_id == bytes(range(16)).hex() and event.event_id.endswith(bytes(range(8)).hex())
    assert event.attributes["gen_ai.usage.output_tokens"] == 7
