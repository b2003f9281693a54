"""tether.deploy: the production side — ingestion with PII redaction, keys, deletion, feedback (guards 5 and 6).

    key = create_key(store, project="shop")                 # printed once, stored hashed
    app = create_app(store)                                # POST /v1/events, /v1/traces (OTLP); durable before 2xx
    Ingestor(store).ingest(events, project="shop")         # the same path in-process, redacted before storage
    forget(store, "shop", user="u-123")                    # events and what was derived from them
    feedback_rates(store.iter_events(project="shop"), by="model"); corrections_to_pairs(...)

Importing this package loads neither FastAPI nor httpx; the submodules load them on use.
"""

from __future__ import annotations

from tether.lazy import lazy_exports

_LAZY = {
    "Ingestor": "ingest", "import_redactor": "ingest", "Redactor": "pii", "PII_TYPES": "pii",
    "create_key": "keys", "revoke_key": "keys", "authenticate": "keys", "forget": "forget",
    "ForgetResult": "forget", "feedback_rates": "feedback", "corrections_to_pairs": "feedback",
    "create_app": "api", "serve_ingestion": "api", "otlp_to_events": "otel", "Client": "client",
    "crash_drill": "durability",
}

__all__, __getattr__ = lazy_exports(__name__, _LAZY)
