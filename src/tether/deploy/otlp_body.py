"""What an OTLP/HTTP body arrives as: JSON or protobuf, plain, gzip or deflate (the official exporters' choices).

Decompression is bounded: the output may not pass the same byte limit as the body, so a small gzip bomb is a 413,
never a process that fills its memory.
"""

from __future__ import annotations

import zlib
from typing import Any

JSON_TYPES = ("application/json", "")  # a body without Content-Type has always been read as JSON
PROTOBUF_TYPES = ("application/x-protobuf", "application/protobuf")
ENCODINGS = ("gzip", "x-gzip", "deflate", "identity", "")


class BodyTooLarge(ValueError):
    """The body, or what it decompresses to, is larger than the limit."""


class UnsupportedMedia(ValueError):
    """A Content-Type or Content-Encoding the endpoint does not read (HTTP 415)."""


class BadBody(ValueError):
    """The body is not what its headers say (HTTP 422 or 400)."""


def media_type(content_type: str | None) -> str:
    """`application/json; charset=utf-8` -> `application/json`."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def check_encoding(content_encoding: str | None) -> str:
    """The (one) content coding, or UnsupportedMedia naming the ones read."""
    coding = (content_encoding or "").strip().lower()
    if coding not in ENCODINGS:
        raise UnsupportedMedia(f"Content-Encoding {content_encoding!r} is not supported; send gzip, deflate or "
                               "an uncompressed body")
    return coding


def decompress(data: bytes, coding: str, max_bytes: int) -> bytes:
    """`data` decoded from `coding`, refusing output beyond `max_bytes` without ever producing more than that."""
    if coding in ("identity", ""):
        return data
    # wbits 47 = 32 + 15: zlib detects a gzip or a zlib header itself (exporters label zlib data "deflate")
    out: list[bytes] = []
    size = 0
    rest = data
    while rest:
        d = zlib.decompressobj(47)
        chunk = rest
        try:
            while chunk:
                part = d.decompress(chunk, max_bytes + 1 - size)
                size += len(part)
                if size > max_bytes:
                    raise BodyTooLarge(f"body decompresses to more than {max_bytes} bytes; send smaller batches")
                out.append(part)
                chunk = d.unconsumed_tail
            if not d.eof:
                raise BadBody(f"the {coding} body is cut short")
        except zlib.error as exc:
            raise BadBody(f"the body is not valid {coding} data ({exc})") from None
        rest = d.unused_data  # gzip allows several members one after another
    return b"".join(out)


def protobuf_traces(data: bytes) -> dict[str, Any]:
    """An OTLP ExportTraceServiceRequest (protobuf) as the OTLP/JSON object the JSON path reads.

    Ids become lowercase hex, as OTLP/JSON writes them (protobuf's own JSON mapping would give base64)."""
    from google.protobuf.json_format import MessageToDict
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(data)
    except (DecodeError, RecursionError) as exc:
        raise BadBody(f"body is not an OTLP ExportTraceServiceRequest in protobuf: {exc}") from None
    body = MessageToDict(request)
    for rs, resource_spans in zip(body.get("resourceSpans", []), request.resource_spans, strict=True):
        for ss, scope_spans in zip(rs.get("scopeSpans", []), resource_spans.scope_spans, strict=True):
            for span, message in zip(ss.get("spans", []), scope_spans.spans, strict=True):
                for key, raw in (("traceId", message.trace_id), ("spanId", message.span_id),
                                 ("parentSpanId", message.parent_span_id)):
                    if raw:
                        span[key] = raw.hex()
    return body


def protobuf_response() -> bytes:
    """An empty ExportTraceServiceResponse: OTLP answers a protobuf request in protobuf."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    return ExportTraceServiceResponse().SerializeToString()
