"""A deployment's frozen prompt splits: the eval set the evaluation gate reads, and the train
clusters that keep later near-duplicates out of it. Rows are only ever added, never changed."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from feedback_assets.store import schema
from feedback_assets.store.bulk import insert_rows
from feedback_assets.store.feedback_store import FeedbackStore, now_us
from feedback_assets.store.streams import stream

EVAL_COLUMNS: tuple[str, ...] = (
    "prompt",
    "reference_answer",
    "source",
    "cluster_key",
    "prompt_key",
    "event_id",
    "version",
    "partition_key",
)


@dataclass(frozen=True)
class EvalSet:
    """The held-out prompts of a deployment. `version` grows each time prompts are added; an
    item's own `version` column says which version added it (version v = items with <= v)."""

    deployment_id: str
    version: int
    items: pd.DataFrame  # columns EVAL_COLUMNS; reference_answer is None for hard prompts

    def at(self, version: int) -> pd.DataFrame:
        """The items as of an earlier version (a frozen set to compare models on)."""
        return self.items[self.items["version"] <= version].reset_index(drop=True)


def eval_set(store: FeedbackStore, deployment_id: str) -> EvalSet:
    """The deployment's eval set, oldest items first."""
    rows = store.read_table(
        "prompt_splits",
        deployment_id=deployment_id,
        split="eval",
        order_by=["version", "prompt_key"],
    )
    items = rows.reindex(columns=list(EVAL_COLUMNS)).reset_index(drop=True)
    version = int(items["version"].max()) if len(items) else 0
    return EvalSet(deployment_id, version, items)


def known_splits(store: FeedbackStore, deployment_id: str) -> pd.DataFrame:
    """Every stored assignment of the deployment: prompt_key, cluster_key, split, prompt (only
    these columns are read: not the reference answers, which are most of a row's bytes)."""
    t = schema.prompt_splits
    columns = ["prompt_key", "cluster_key", "split", "prompt"]
    query = (
        sa.select(*(t.c[c] for c in columns))
        .where(t.c.deployment_id == deployment_id)
        .order_by(t.c.prompt_key)
    )
    parts = list(stream(store, t, query))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def add_splits(
    store: FeedbackStore, deployment_id: str, partition_key: str | None, rows: pd.DataFrame
) -> int:
    """Store new assignments (columns: prompt_key, cluster_key, split, prompt, and optionally
    reference_answer, source, event_id); keys already stored keep their assignment. New eval
    rows raise the eval set's version by one. Returns how many rows were added."""
    bad = sorted(set(rows["split"]) - {"train", "eval"}) if len(rows) else []
    if bad:
        raise ValueError(f"rows.split: only 'train' and 'eval' are stored, got {bad}")
    t = schema.prompt_splits
    with store.engine.begin() as conn:
        have = {
            str(r[0])
            for r in conn.execute(
                sa.select(t.c.prompt_key).where(t.c.deployment_id == deployment_id)
            )
        }
        new = rows[~rows["prompt_key"].isin(have)].drop_duplicates("prompt_key")
        if new.empty:
            return 0
        current = conn.execute(
            sa.select(sa.func.max(t.c.version)).where(t.c.deployment_id == deployment_id)
        ).scalar()
        version = int(current or 0) + (1 if (new["split"] == "eval").any() else 0)
        records = new.reindex(
            columns=["prompt_key", "cluster_key", "split", "prompt", "reference_answer"]
            + ["source", "event_id"]
        ).assign(
            deployment_id=deployment_id,
            version=max(version, 1),
            partition_key=partition_key,
            created_us=now_us(),
        )
        records = records.astype(object).where(records.notna(), None)
        rows = list(records.itertuples(index=False, name=None))
        # A concurrent curation of another day may have stored the key meanwhile: the first wins.
        insert_rows(conn, t, list(records.columns), rows, skip_conflicts=True)
    return len(records)


def train_prompt_keys(store: FeedbackStore, deployment_id: str) -> set[str]:
    """Prompt keys assigned to training (exports keep only prompts among these)."""
    t = schema.prompt_splits
    query = sa.select(t.c.prompt_key).where(
        t.c.deployment_id == deployment_id, t.c.split == "train"
    )
    with store.engine.connect() as conn:
        return {str(r[0]) for r in conn.execute(query)}
