"""The feedback store as a Dagster resource (SQLite by default, PostgreSQL via FEEDBACK_STORE_URL)."""

import os
import threading

import dagster as dg
from pydantic import Field

from feedback_assets.settings import Settings, load_settings
from feedback_assets.store import FeedbackStore
from feedback_assets.store.streams import CHUNK_ROWS

_stores: dict[tuple[int, str], FeedbackStore] = {}
_lock = threading.Lock()


def shared_store(url: str) -> FeedbackStore:
    """One engine per process and URL (runs, sensors and the facade share it)."""
    key = (os.getpid(), url)
    with _lock:
        if key not in _stores:
            _stores[key] = FeedbackStore(url)
        return _stores[key]


class FeedbackStoreResource(dg.ConfigurableResource):
    """Where events, signals and every derived table live."""

    url: str | None = Field(
        default=None, description="FEEDBACK_STORE_URL; default: the embedded SQLite file"
    )
    export_root: str | None = Field(
        default=None, description="FEEDBACK_EXPORT_ROOT; local path or fsspec URL"
    )
    chunk_rows: int = Field(
        default=CHUNK_ROWS,
        gt=0,
        description="Rows per chunk when an asset streams its partition (bounds its memory)",
    )

    @property
    def settings(self) -> Settings:
        return load_settings()

    def store(self) -> FeedbackStore:
        return shared_store(self.url or self.settings.store_url)

    def resolved_export_root(self) -> str:
        return self.export_root or self.settings.export_root
