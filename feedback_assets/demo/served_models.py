"""The models the demo's model server answers with, resolved by name.

A name is first looked up as a trained model, `<model_dir>/<name>/` holding a `tiny_model`
(loaded once, reloaded when its files change: candidates are trained while the server runs).
Otherwise it is a model version seen in logged traffic: a stand-in for that model, built with
the same retrieval over the version's logged prompts, answers with the logged response of the most
similar logged prompt.

The stand-in leaves out logged prompts that are in its deployment's eval set or near-duplicates
of one (`exclude_eval`, on by default): otherwise it would replay, for an eval prompt, the very
answer an approved-answer reference was taken from, and win on a leak. Both sides then learn from
the same prompts: the candidate from the approved answers, the stand-in from everything the
version answered. The stand-in is rebuilt when the eval set grows.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from feedback_assets.demo import tiny_model
from feedback_assets.domain.curation.eval_split import near_duplicate_of_any
from feedback_assets.store import schema
from feedback_assets.store.engines import make_engine

TRAFFIC_TABLES: tuple[str, ...] = ("events", "sanitized_logs")
MAX_TRAFFIC_EVENTS = 50_000  # a version's most recent logged events the stand-in learns from
NEAR_DUPLICATE_THRESHOLD = 0.85  # the curation default: what counts as the same eval prompt
_MODEL_FILES = (
    tiny_model.META_FILE,
    tiny_model.IDF_FILE,
    tiny_model.MATRIX_FILE,
    tiny_model.EXAMPLES_FILE,
)


@dataclass(frozen=True)
class ServedModel:
    name: str
    kind: str  # "trained" (a model dir) or "traffic" (logged responses of a model version)
    model: tiny_model.RetrievalModel
    source_ids: tuple[str, ...]  # per example: the event id (traffic) or the example index
    stamp: float  # trained: newest mtime of the files; traffic: the eval set version excluded
    deployments: tuple[str, ...] = ()  # traffic: the deployments the version served
    held_out: int = 0  # traffic: logged events left out as eval prompts or near-duplicates


@dataclass(frozen=True)
class Reply:
    model: str
    content: str
    similarity: float
    source_id: str


class ModelNotFound(LookupError):
    """No trained model and no usable logged traffic carries this name."""


def _dir_name_ok(name: str) -> bool:
    return bool(name) and "/" not in name and "\\" not in name and name not in (".", "..")


class ModelCatalog:
    """Thread-safe cache of served models (one load per name at a time)."""

    def __init__(
        self,
        model_dir: Path,
        store_url: str | None,
        traffic_table: str = "events",
        max_traffic_events: int = MAX_TRAFFIC_EVENTS,
        exclude_eval: bool = True,
    ) -> None:
        if traffic_table not in TRAFFIC_TABLES:
            raise ValueError(
                f"traffic_table: must be one of {TRAFFIC_TABLES}, got {traffic_table!r}"
            )
        if max_traffic_events < 1:
            raise ValueError(f"max_traffic_events: must be >= 1, got {max_traffic_events}")
        self.model_dir = model_dir
        self.engine = make_engine(store_url) if store_url else None
        self.table = schema.metadata.tables[traffic_table]
        self.max_traffic_events = max_traffic_events
        self.exclude_eval = exclude_eval
        self._models: dict[str, ServedModel] = {}
        self._lock = threading.Lock()
        self._name_locks: dict[str, threading.Lock] = {}

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()

    def reply(self, name: str, prompt: str) -> Reply:
        served = self.resolve(name)
        hit = tiny_model.nearest(served.model, [prompt])
        i = int(hit.index[0])
        return Reply(
            name, served.model.responses[i], float(hit.similarity[0]), served.source_ids[i]
        )

    def resolve(self, name: str) -> ServedModel:
        with self._lock:
            lock = self._name_locks.setdefault(name, threading.Lock())
        with lock:
            cached = self._models.get(name)
            trained = self._trained_stamp(name)
            if trained is not None:
                if cached is None or cached.kind != "trained" or cached.stamp != trained:
                    model = tiny_model.load(self.model_dir / name)
                    ids = tuple(str(i) for i in range(len(model)))
                    cached = ServedModel(name, "trained", model, ids, trained)
            elif (
                cached is None
                or cached.kind != "traffic"
                or cached.stamp != self._eval_version(cached.deployments)
            ):
                cached = self._traffic_model(name)
            self._models[name] = cached
            return cached

    def _trained_stamp(self, name: str) -> float | None:
        """The newest mtime of the model's files, or None when `name` has no trained model."""
        if not _dir_name_ok(name) or not tiny_model.is_saved(self.model_dir / name):
            return None
        try:
            return max((self.model_dir / name / f).stat().st_mtime for f in _MODEL_FILES)
        except OSError:
            return None  # a file is still being written or was just removed

    def _traffic_model(self, name: str) -> ServedModel:
        rows = self._traffic_rows(name)
        where = f"no trained model in {self.model_dir} and no logged traffic"
        if rows.empty:
            raise ModelNotFound(f"model {name!r}: {where} of that version in {self.table.name}")
        deployments = tuple(sorted(rows["deployment_id"].dropna().astype(str).unique()))
        version = self._eval_version(deployments)
        held = rows["prompt"].iloc[:0]
        if self.exclude_eval and version > 0:
            eval_prompts = self._eval_prompts(deployments)
            near = near_duplicate_of_any(rows["prompt"], eval_prompts, NEAR_DUPLICATE_THRESHOLD)
            held, rows = rows["prompt"][near], rows[~near]
        if rows.empty:
            raise ModelNotFound(f"model {name!r}: all its logged prompts are in the eval set")
        model = tiny_model.fit(rows["prompt"].tolist(), rows["response"].tolist())
        ids = tuple(rows["event_id"].astype(str))
        return ServedModel(name, "traffic", model, ids, float(version), deployments, len(held))

    def _traffic_rows(self, name: str) -> pd.DataFrame:
        """event_id, deployment_id, prompt, response of the version's latest events, oldest
        first (on equal similarity the earliest logged answer wins)."""
        columns = ["event_id", "deployment_id", "prompt", "response"]
        if self.engine is None:
            return pd.DataFrame(columns=columns)
        t = self.table
        query = (
            sa.select(*(t.c[c] for c in columns))
            .where(t.c.model_version_id == name)
            .order_by(t.c.timestamp_us.desc(), t.c.event_id)
            .limit(self.max_traffic_events)
        )
        with self.engine.connect() as conn:
            rows = pd.DataFrame(conn.execute(query).all(), columns=columns)
        rows = rows[rows["prompt"].fillna("").str.strip().ne("") & rows["response"].notna()]
        return rows.iloc[::-1].reset_index(drop=True)

    def _eval_version(self, deployments: tuple[str, ...]) -> int:
        """The newest eval set version of the deployments (0: none, or a store without one)."""
        if self.engine is None or not deployments or not self.exclude_eval:
            return 0
        t = schema.prompt_splits
        query = sa.select(sa.func.max(t.c.version)).where(
            t.c.deployment_id.in_(deployments), t.c.split == "eval"
        )
        try:
            with self.engine.connect() as conn:
                return int(conn.execute(query).scalar() or 0)
        except sa.exc.DBAPIError:
            return 0  # an older store without prompt_splits: nothing is held out

    def _eval_prompts(self, deployments: tuple[str, ...]) -> pd.Series:
        t = schema.prompt_splits
        query = sa.select(t.c.prompt).where(t.c.deployment_id.in_(deployments), t.c.split == "eval")
        with self.engine.connect() as conn:  # type: ignore[union-attr]
            return pd.Series(conn.execute(query).scalars().all(), dtype=object)

    def names(self) -> list[tuple[str, str]]:
        """(name, kind) of every servable model: trained dirs, then logged model versions."""
        out: list[tuple[str, str]] = []
        if self.model_dir.is_dir():
            dirs = sorted(d for d in self.model_dir.iterdir() if d.is_dir())
            out += [(d.name, "trained") for d in dirs if tiny_model.is_saved(d)]
        if self.engine is not None:
            t = self.table
            query = sa.select(t.c.model_version_id).where(t.c.model_version_id.is_not(None))
            with self.engine.connect() as conn:
                versions = conn.execute(query.distinct().order_by(t.c.model_version_id)).scalars()
                seen = {n for n, _ in out}
                out += [(str(v), "traffic") for v in versions if v not in seen]
        return out
