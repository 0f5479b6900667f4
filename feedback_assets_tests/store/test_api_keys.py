"""The api_keys table (revision 0008) and ApiKeyStore, on SQLite and PostgreSQL."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from feedback_assets.domain.api_keys import key_id_of, key_matches
from feedback_assets.store import FeedbackStore, schema
from feedback_assets.store.api_keys import ApiKeyStore
from feedback_assets.store.migrations import head_version


def test_a_store_before_keys_gets_the_table(store: FeedbackStore) -> None:
    with store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE api_keys"))
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0006'"))
    reopened = FeedbackStore(store.url)
    try:
        assert reopened.schema_version() == head_version()
        assert reopened.migrate() == head_version()  # idempotent
    finally:
        reopened.dispose()
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), schema.metadata) == []


def test_keys_are_hashed_bound_to_a_deployment_and_revocable(store: FeedbackStore) -> None:
    keys = ApiKeyStore(store)
    key_id, key = keys.create("shop")
    row = keys.get(key_id)
    assert row is not None and row.active and row.deployment_id == "shop"
    assert key_id_of(key) == key_id and key_matches(key, row.key_sha256)
    assert not key_matches(key[:-1] + ("A" if key[-1] != "A" else "B"), row.key_sha256)
    assert key not in str(store.read_table("api_keys").to_dict("records"))
    assert keys.get("0" * 12) is None
    assert keys.revoke(key_id) and not keys.revoke(key_id)
    assert not keys.get(key_id).active  # type: ignore[union-attr]
    assert [r.key_id for r in keys.list("shop")] == [key_id] and keys.list("other") == []


def test_foreign_events_are_the_stored_events_of_other_deployments(store: FeedbackStore) -> None:
    frame = pd.DataFrame(
        {
            "event_id": ["mine", "theirs"],
            "deployment_id": ["shop", "billing"],
            "prompt": "p",
            "response": "r",
            "metadata": "{}",
            "timestamp": pd.Timestamp("2026-11-01", tz="UTC"),
        }
    )
    store.insert_events(frame)
    foreign = ApiKeyStore(store).foreign_events("shop", ["mine", "theirs", "unknown"])
    assert foreign == {"theirs"}
