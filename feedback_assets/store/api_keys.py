"""The collector's API keys on the feedback store, and the deployment check for signals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from feedback_assets.domain.api_keys import key_digest, new_api_key
from feedback_assets.store import schema
from feedback_assets.store.feedback_store import FeedbackStore, now_us

LOOKUP_CHUNK = 5_000  # ids per IN (...) list


@dataclass(frozen=True)
class ApiKeyRow:
    key_id: str
    deployment_id: str
    key_sha256: str
    created_us: int
    revoked_us: int | None

    @property
    def active(self) -> bool:
        return self.revoked_us is None


class ApiKeyStore:
    def __init__(self, store: FeedbackStore) -> None:
        self.store = store

    def create(self, deployment_id: str) -> tuple[str, str]:
        """A new key for `deployment_id`: (key id, key). Only the key's digest is stored."""
        if not deployment_id.strip() or len(deployment_id) > 256:
            raise ValueError("deployment_id: must be a non-empty string of at most 256 characters")
        key_id, key = new_api_key()
        row = {
            "key_id": key_id,
            "deployment_id": deployment_id,
            "key_sha256": key_digest(key),
            "created_us": now_us(),
        }
        with self.store.engine.begin() as conn:
            conn.execute(sa.insert(schema.api_keys), [row])
        return key_id, key

    def get(self, key_id: str) -> ApiKeyRow | None:
        t = schema.api_keys
        with self.store.engine.connect() as conn:
            row = conn.execute(sa.select(t).where(t.c.key_id == key_id)).first()
        return None if row is None else ApiKeyRow(**row._asdict())

    def list(self, deployment_id: str | None = None) -> list[ApiKeyRow]:
        t = schema.api_keys
        query = sa.select(t).order_by(t.c.deployment_id, t.c.created_us)
        if deployment_id is not None:
            query = query.where(t.c.deployment_id == deployment_id)
        with self.store.engine.connect() as conn:
            return [ApiKeyRow(**row._asdict()) for row in conn.execute(query)]

    def revoke(self, key_id: str) -> bool:
        """Revoke an active key; False when there is no such active key."""
        t = schema.api_keys
        with self.store.engine.begin() as conn:
            result = conn.execute(
                sa.update(t)
                .where(t.c.key_id == key_id, t.c.revoked_us.is_(None))
                .values(revoked_us=now_us())
            )
        return bool(result.rowcount)

    def foreign_events(self, deployment_id: str, event_ids: Sequence[str]) -> set[str]:
        """The ids among `event_ids` of stored events that belong to another deployment (a key
        may not send signals about them). Events not stored yet cannot be checked."""
        t = schema.events
        ids = sorted(set(event_ids))
        found: set[str] = set()
        with self.store.engine.connect() as conn:
            for i in range(0, len(ids), LOOKUP_CHUNK):
                query = sa.select(t.c.event_id).where(
                    t.c.event_id.in_(ids[i : i + LOOKUP_CHUNK]), t.c.deployment_id != deployment_id
                )
                found.update(conn.scalars(query))
        return found
