"""The LLM judge's cache on the feedback store (keyed by prompt, response, rubric and model)."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import sqlalchemy as sa

from feedback_assets.store import schema
from feedback_assets.store.feedback_store import FeedbackStore, now_us


class StoreJudgeCache:
    def __init__(self, store: FeedbackStore) -> None:
        self.store = store

    def get_many(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        t = schema.judge_cache
        found: dict[str, dict[str, Any]] = {}
        with self.store.engine.connect() as conn:
            for i in range(0, len(keys), 5000):
                rows = conn.execute(
                    sa.select(t.c.cache_key, t.c.value).where(t.c.cache_key.in_(keys[i : i + 5000]))
                )
                found.update({k: json.loads(v) for k, v in rows})
        return found

    def put_many(self, rows: dict[str, dict[str, Any]]) -> None:
        if not rows:
            return
        frame = pd.DataFrame(
            {
                "cache_key": list(rows),
                "value": [json.dumps(v) for v in rows.values()],
                "created_us": now_us(),
            }
        )
        existing = self.get_many(list(rows))
        frame = frame[~frame["cache_key"].isin(existing)]
        if len(frame):
            self.store.append("judge_cache", frame)
