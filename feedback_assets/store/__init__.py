"""The feedback store (SQLite embedded default, PostgreSQL in production)."""

from feedback_assets.store.feedback_store import FeedbackStore, InsertResult, now_us

__all__ = ["FeedbackStore", "InsertResult", "now_us"]
