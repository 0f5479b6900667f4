"""What drift compares, read from stored features: the day's side, and the reference's side
built once per reference (and per change of its window) and cached in the store.

A side is its feature rows (no text: lengths, numbers, quality columns, hashes) plus the texts
and embeddings of the sample the embedding and novelty tests read. The sample is chosen from the
stored hashes exactly as drift.embedding_texts chooses from the texts, so on a window below the
read cap the report equals the one computed from raw text (feedback_assets_tests prove it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from feedback_assets.domain.drift.drift_config import DriftConfig
from feedback_assets.domain.drift.drift_features import (
    Features,
    features_from_frame,
    stored_units,
    text_sample_positions,
)
from feedback_assets.store.drift_features import (
    MAX_WINDOW_EVENTS,
    CachedReference,
    WindowSpec,
    fingerprint,
    load_reference,
    read_features,
    read_flags,
    read_texts,
    save_reference,
    window_stamp,
)
from feedback_assets.store.feedback_store import FeedbackStore
from feedback_assets.store.references import partition_keys_between

Embed = Callable[[list[str]], np.ndarray | None]


@dataclass
class Side:
    frame: pd.DataFrame  # feature rows + feedback flags (+ metadata), window order
    texts: list[str] | None  # None: no events, no text tests
    embeddings: np.ndarray | None = None  # cached reference embeddings, when there are any

    def features(self, config: DriftConfig) -> Features:
        """On independent units, as drift.unit_features; the size stays the event count."""
        units_frame = stored_units(self.frame)
        meta = units_frame["metadata"] if "metadata" in units_frame.columns else None
        return replace(features_from_frame(units_frame, config, meta), size=len(self.frame))


def day_window(deployment_id: str, day: str) -> WindowSpec:
    return WindowSpec(deployment_id, (day,))


def range_window(deployment_id: str, start_us: int, end_us: int) -> WindowSpec:
    return WindowSpec(
        deployment_id, tuple(partition_keys_between(start_us, end_us)), start_us, end_us
    )


def read_side(
    store: FeedbackStore,
    window: WindowSpec,
    config: DriftConfig,
    *,
    seed: int,
    texts: bool = True,
    cap: int = MAX_WINDOW_EVENTS,
) -> Side:
    """The window's stored features (capped sample), feedback flags and text sample (seeded
    like drift.detect_drift_frames: the reference with config.seed, the current side +1)."""
    frame = read_features(store, window, cap=cap, metadata=bool(config.categorical_metadata_fields))
    frame = frame.join(read_flags(store, window, frame["event_id"]))
    sample: list[str] | None = None
    if texts and len(frame):
        at = text_sample_positions(frame, config.embedding_max_samples, seed)
        sample = read_texts(store, window, frame["event_id"].iloc[at].tolist())
    return Side(frame, sample)


def reference_side(
    store: FeedbackStore,
    reference: dict[str, Any] | None,
    config: DriftConfig,
    *,
    embed: Embed | None = None,
    embed_key: str = "",
    cap: int = MAX_WINDOW_EVENTS,
) -> Side | None:
    """The reference's side from its cache entry, built (and saved) when the reference or what
    its window holds changed. With `embed`, the sample's embeddings are cached too (under
    `embed_key`, the embedder's identity). None: no reference, or no stored features in it."""
    if reference is None:
        return None
    window = range_window(
        str(reference["deployment_id"]), int(reference["start_us"]), int(reference["end_us"])
    )
    stamp = window_stamp(store, window)
    if stamp["rows"] == 0:
        return None
    ref_id = str(reference["reference_id"])
    key = fingerprint(
        stamp=stamp,
        cap=cap,
        metadata=bool(config.categorical_metadata_fields),
        samples=config.embedding_max_samples,
        seed=config.seed,
    )
    cached = load_reference(store, ref_id, key)
    dirty = cached is None
    if cached is None:
        side = read_side(store, window, config, seed=config.seed, cap=cap)
        cached = CachedReference(side.frame, side.texts, None)
    if (
        embed is not None
        and cached.texts is not None
        and (cached.embeddings is None or cached.embed_key != embed_key)
    ):
        vectors = embed(cached.texts)
        if vectors is not None:  # an embedder that is down: cache without, retry next run
            cached.embeddings, cached.embed_key, dirty = np.asarray(vectors), embed_key, True
    if dirty:
        save_reference(store, ref_id, window.deployment_id, key, cached)
    usable = cached.embeddings if embed is not None and cached.embed_key == embed_key else None
    return Side(cached.frame, cached.texts, usable)
