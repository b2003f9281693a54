"""Deletion requests: remove a user's (or a trace's) events and everything the store derived from them.

"Derived" in the store today means, for each affected trace:
- every event of the trace (generation, feedback, correction, outcome) in the project;
- outcomes (`outcomes` table: outcome events, sandbox and grader results) with that trace_id in the project;
- preference pairs whose provenance names the trace (`provenance.trace_id`, as written by
  `tether.deploy.feedback.corrections_to_pairs` and by `tether loop tick` for the pairs it curates);
- what `tether loop tick` sampled from the trace into an annotation batch: the campaign item, its judgments and
  assignments, and its prompt and response texts where nothing else uses them.
A user's traces are those whose events carry the user id in `enduser.id` / `user.id` / `user_id`, as an
attribute or at the event's top level (raw, or as its PII pseudonym when the id itself was redacted).
- the project's embedding cache (`.tether/embeddings/`, filled by `tether shift drift` / `shift sample`): the
  vectors of every prompt, response and corrected response of the traces' events, when `embeddings` is given
  (the CLI passes the project's). Vectors of texts read from a user's own files (`--production FILE`) are found
  only where the text equals a stored event's (redacted) text.
Comparisons of campaigns opened by hand from production prompts (`tether shift sample --campaign`) carry no trace
link, so they are not reached; the loop's batches do.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tether.deploy.pii import Redactor
from tether.store import Store, deploy_repo
from tether.store.embedding_cache import EmbeddingCache

USER_KEYS = ("enduser.id", "user.id", "user_id")


@dataclass
class ForgetResult:
    """What a deletion removed."""

    traces: int = 0
    events: int = 0
    outcomes: int = 0
    pairs: int = 0
    batch_items: int = 0  # loop batches: campaign items made from the traces' prompts, and their judgments
    embeddings: int = 0  # cached embedding vectors of the traces' texts


def traces_of_user(store: Store, project: str, user: str, redactors: Iterable[Redactor] = ()) -> set[str]:
    """Trace ids whose events name `user` in a user attribute: raw, or as its pseudonym under any of `redactors`
    (one per key the project had: `Ingestor.lookup_redactors`, so data written before a key rotation is found)."""
    wanted = {user} | {r.redact(user) for r in redactors}
    return deploy_repo.traces_with_attribute(store, project, USER_KEYS, wanted)


def forget(store: Store, project: str, *, traces: Iterable[str] = (), user: str | None = None,
           redactor: Redactor | None = None, redactors: Iterable[Redactor] = (),
           embeddings: EmbeddingCache | None = None) -> ForgetResult:
    """Delete the given traces (and a user's traces) and what was derived from them, in one transaction; then the
    cached embeddings of their texts from `embeddings` (a file cache beside the store, outside its transaction).

    A user id is looked up raw and as its pseudonym under `redactor` and every one of `redactors`."""
    targets = set(traces)
    if user is not None:
        targets |= traces_of_user(store, project, user, [*([redactor] if redactor else []), *redactors])
    result = ForgetResult(traces=len(targets))
    if targets:
        texts = deploy_repo.texts_of_traces(store, project, targets) if embeddings is not None else set()
        deleted = deploy_repo.delete_traces(store, project, targets)
        result.events, result.outcomes, result.pairs, result.batch_items = deleted
        if embeddings is not None:
            result.embeddings = embeddings.purge(texts)
    return result
