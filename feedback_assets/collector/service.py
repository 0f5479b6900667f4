"""What the collector's routes do once a request is authenticated and read: check that every
row belongs to the key's deployment, then hand the rows to the FeedbackClient (the SDK's own
validation, PII redaction, spool and dead letter). Built once per server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import orjson
import sqlalchemy as sa

from feedback_assets.client import Accepted, FeedbackClient, SpoolFull
from feedback_assets.client.feedback_client import Delivery
from feedback_assets.collector.auth import KeyRing, forbidden
from feedback_assets.collector.config import CollectorConfig
from feedback_assets.collector.errors import CollectorError, field_error, row_errors, unavailable
from feedback_assets.collector.otlp import decode_request, resources_of, spans_of
from feedback_assets.domain.ingest.genai_feedback import span_signals
from feedback_assets.domain.ingest.genai_spans import (
    DEPLOYMENT_ATTRIBUTE,
    declared_deployments,
    span_events,
)
from feedback_assets.settings import Settings
from feedback_assets.store import FeedbackStore
from feedback_assets.store.api_keys import ApiKeyStore

T = TypeVar("T")
MAX_REPORTED = 20  # field errors quoted in an OTLP partial-success message


def parse_rows(body: bytes) -> tuple[list[Any], bool]:
    """The rows of a JSON body (one object or an array of them) and whether it was an array."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        reason = f"is not JSON ({exc})"
        raise CollectorError(400, "bad JSON", [field_error("body", reason)]) from None
    if isinstance(parsed, list):
        return parsed, True
    if isinstance(parsed, dict):
        return [parsed], False
    reason = f"must be a JSON object or an array of objects, got {type(parsed).__name__}"
    raise CollectorError(400, "bad JSON", [field_error("body", reason)])


def outcome(accepted: Accepted) -> tuple[int, dict[str, Any]]:
    """202 with ids and per-row errors; 422 when rows were sent and none was valid."""
    status = 422 if accepted.ids and not accepted.count else 202
    body = {"accepted": accepted.count, "ids": accepted.ids, "errors": row_errors(accepted.errors)}
    return status, body


class Collector:
    def __init__(self, config: CollectorConfig, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.store = FeedbackStore(settings.store_url)
        self.keys = ApiKeyStore(self.store)
        self.keyring = KeyRing(self.keys, config.key_cache_seconds)
        self.client = FeedbackClient(
            settings.store_url,
            settings=settings,
            overflow="reject",  # a full spool answers 429 instead of holding the request
            max_spool_bytes=config.max_spool_bytes,
            raise_on_invalid=False,
            delivery=cast(Delivery, config.delivery),  # checked by CollectorConfig
            flush_interval=1.0,
        )

    def close(self) -> None:
        self.client.close()
        self.store.dispose()

    def forget_user(self, user_id: str) -> dict[str, Any]:
        """What this collector accepted is stored first, then erased with everything else."""
        from feedback_assets.services import erasure
        from feedback_assets.settings import resolve_hash_key

        try:
            erasure.check_user_id(user_id)
        except ValueError as exc:
            raise CollectorError(400, str(exc), [field_error("user_id", str(exc))]) from None
        self.client.flush()
        s = self.settings
        key = resolve_hash_key(s.data_dir, s.production)
        report = erasure.forget_user(self.store, s.export_root, s.data_dir, user_id, key)
        return {k: v for k, v in report.items() if k != "user_hash"}

    def _spool(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except SpoolFull:
            retry = str(self.config.retry_after_seconds)
            detail = "the collector's spool is full; retry later"
            raise CollectorError(429, detail, headers={"Retry-After": retry}) from None

    def events(self, deployment_id: str, rows: list[Any]) -> tuple[int, dict[str, Any]]:
        """POST /v1/events: a row without deployment_id gets the key's; another one is 403."""
        wrong = []
        for i, row in enumerate(rows):
            if isinstance(row, dict):
                claimed = row.setdefault("deployment_id", deployment_id)
                if isinstance(claimed, str) and claimed != deployment_id:
                    wrong.append(field_error("deployment_id", "is another deployment", i))
        if wrong:
            raise forbidden(deployment_id, wrong)
        return outcome(self._spool(lambda: self.client.accept_inferences(rows)))

    def signals(
        self, deployment_id: str, rows: list[Any], edits: bool = False
    ) -> tuple[int, dict[str, Any]]:
        """POST /v1/signals (and /v1/edits, where signal_type defaults to "edit")."""
        if edits:
            for row in rows:
                if isinstance(row, dict):
                    row.setdefault("signal_type", "edit")
        self._check_targets(deployment_id, rows, set())
        return outcome(self._spool(lambda: self.client.accept_signals(rows)))

    def _check_targets(self, deployment_id: str, rows: list[Any], own: set[str]) -> None:
        """403 when a signal is about a stored event of another deployment."""
        ids = {
            i: row["event_id"]
            for i, row in enumerate(rows)
            if isinstance(row, dict) and isinstance(row.get("event_id"), str)
        }
        try:
            foreign = self.keys.foreign_events(
                deployment_id, [e for e in ids.values() if e not in own]
            )
        except sa.exc.SQLAlchemyError:
            raise unavailable(self.config.retry_after_seconds) from None
        if foreign:
            reason = "is an event of another deployment"
            wrong = [field_error("event_id", reason, i) for i, e in ids.items() if e in foreign]
            raise forbidden(deployment_id, wrong)

    def traces(self, deployment_id: str, body: bytes, kind: str) -> tuple[int, str]:
        """POST /v1/traces: (rejected spans, partial-success message)."""
        request = decode_request(body, kind)
        spans = spans_of(request)
        declared = declared_deployments(spans, resources_of(request))
        if others := declared - {deployment_id}:
            reason = f"names {sorted(others)}"
            raise forbidden(deployment_id, [field_error(DEPLOYMENT_ATTRIBUTE, reason)])
        found = span_events(spans, deployment_id)
        signals = [signal for span in spans for signal in span_signals(span)]
        self._check_targets(deployment_id, signals, {e["event_id"] for e in found.events})
        events = self._spool(lambda: self.client.accept_inferences(found.events))
        feedback = self._spool(lambda: self.client.accept_signals(signals))
        notes = [f"span {found.spans[i].span_id}: {exc}" for i, exc in events.errors[:MAX_REPORTED]]
        notes += [f"feedback signal {i}: {exc}" for i, exc in feedback.errors[:MAX_REPORTED]]
        if found.skipped:
            notes.append(
                f"{found.skipped} gen_ai span(s) without prompt text skipped "
                "(is message content capture on?)"
            )
        return len(events.errors), "; ".join(notes)
