"""Seeded demo traffic: inference events and user signals for several deployments.

`generate_traffic` produces payloads as an app would hand them to `FeedbackClient`
(including a few invalid ones for the dead letter); `generate_stream` produces clean,
store-shaped DataFrames for benchmarks, with drift knobs. Both share one text model.
"""

import hashlib
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import orjson
import pandas as pd

from feedback_assets.demo import simulate as sim
from feedback_assets.domain.records import EVENT_COLUMNS, SIGNAL_COLUMNS

# Fixed diurnal profile (identical every day, so healthy deployments stay stationary).
_HOURS = np.array([1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 8, 7, 8, 8, 8, 7, 6, 5, 4, 4, 3, 2, 1], float)
_HOURS /= _HOURS.sum()
_STREAM_CHUNK = 20_000


@dataclass(frozen=True)
class TrafficConfig:
    seed: int = 7
    days: int = 14
    end_date: date | None = None  # last day (inclusive); default: yesterday (UTC)
    deployments: tuple[str, ...] = ("support-bot", "code-assistant", "json-extractor")
    events_per_day: int = 400  # per deployment (jittered +-15%)
    drift_deployment: str = "support-bot"
    drift_day: int = 10  # 1-based day index from which the drifted deployment drifts
    model_versions: tuple[str, str] = ("v1", "v2")

    def __post_init__(self) -> None:
        checks = {
            "days": (self.days >= 1, "must be >= 1"),
            "events_per_day": (self.events_per_day >= 0, "must be >= 0"),
            "drift_day": (self.drift_day >= 1, "must be >= 1 (1-based day index)"),
            "deployments": (
                len(self.deployments) == len(set(self.deployments)) > 0,
                "must be a non-empty tuple of distinct ids",
            ),
        }
        for name, (ok, reason) in checks.items():
            if not ok:
                raise ValueError(f"TrafficConfig.{name}: {reason}, got {getattr(self, name)!r}")


def _rng(seed: int, deployment_id: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(deployment_id.encode())])


def _to_datetimes(ms: np.ndarray) -> list[datetime]:
    return list(pd.to_datetime(ms, unit="ms", utc=True).to_pydatetime())


def _day_times(rng: np.random.Generator, day0_ms: int, counts: np.ndarray) -> np.ndarray:
    n = int(counts.sum())
    day = np.repeat(np.arange(len(counts)), counts)
    hour = rng.choice(24, size=n, p=_HOURS)
    within = hour * 3_600_000 + rng.integers(0, 3_600_000, size=n)
    return day0_ms + day * sim.DAY_MS + within


def generate_traffic(
    config: TrafficConfig = TrafficConfig(),
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Events and signals as app payloads, each list sorted by timestamp.

    About 0.3% of payloads are invalid (missing prompt, negative latency, unknown signal
    type, edit without edited_response) and carry no marker: validation must catch them.
    """
    end = config.end_date or (datetime.now(UTC).date() - timedelta(days=1))
    start = end - timedelta(days=config.days - 1)
    day0_ms = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp() * 1000)
    events: list[dict[str, Any]] = []
    signals: list[dict[str, Any]] = []
    for dep in config.deployments:
        rng = _rng(config.seed, dep)
        jitter = rng.uniform(0.85, 1.15, config.days)
        counts = np.round(config.events_per_day * jitter).astype(np.int64)
        ts = _day_times(rng, day0_ms, counts)
        group = np.repeat(np.arange(config.days), counts)
        drifted = (group >= config.drift_day - 1) & (dep == config.drift_deployment)
        ev, sg = sim.simulate(
            rng, dep, ts, group, counts, drifted, sim.DRIFTED, config.model_versions
        )
        events.extend(_rows(ev, with_edit=False))
        signals.extend(_rows(sg, with_edit=True))
    rng = np.random.default_rng([config.seed, 0xBAD])
    _add_invalid(rng, events, signals)
    events.sort(key=lambda e: e["timestamp"])
    signals.sort(key=lambda s: s["timestamp"])
    return events, signals


def _rows(cols: dict[str, Any], *, with_edit: bool) -> list[dict[str, Any]]:
    cols = dict(cols)
    cols["timestamp"] = _to_datetimes(np.asarray(cols["timestamp"]))
    keys = list(cols)
    rows = [dict(zip(keys, vals, strict=True)) for vals in zip(*cols.values(), strict=True)]
    if with_edit:
        for r in rows:
            if r["signal_type"] != "edit":
                del r["edited_response"]
    return rows


def _add_invalid(
    rng: np.random.Generator, events: list[dict[str, Any]], signals: list[dict[str, Any]]
) -> None:
    if not events or not signals:
        return
    n_bad = max(1, round(0.0015 * len(events)))
    for kind in ("missing_prompt", "negative_latency"):
        for i in rng.integers(0, len(events), size=n_bad).tolist():
            bad = {
                **events[i],
                "event_id": sim.uuids(rng, 1)[0],
                "metadata": dict(events[i]["metadata"]),
            }
            if kind == "missing_prompt":
                del bad["prompt"]
            else:
                bad["latency_ms"] = -float(rng.integers(1, 500))
            events.append(bad)
    n_sig = max(1, round(0.0015 * len(signals)))
    for kind in ("unknown_type", "edit_without_text"):
        for i in rng.integers(0, len(signals), size=n_sig).tolist():
            bad = {k: v for k, v in signals[i].items() if k != "edited_response"}
            bad["metadata"] = dict(signals[i]["metadata"])
            bad["signal_type"] = "thumbs_sideways" if kind == "unknown_type" else "edit"
            signals.append(bad)


def opaque_user_id(raw: str) -> str:
    """Stand-in for the SDK's keyed hash: an opaque hex id (demo key, not a secret)."""
    return hashlib.blake2b(raw.encode(), key=b"feedback-loop-demo", digest_size=16).hexdigest()


def generate_stream(
    n_events: int,
    *,
    seed: int,
    deployment_id: str = "calib",
    topic_shift: float = 0.0,
    response_length_factor: float = 1.0,
    refusal_rate_delta: float = 0.0,
    start: datetime | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`n_events` clean events (about one per second from `start`) and their signals.

    Columns follow EVENT_COLUMNS / SIGNAL_COLUMNS: metadata as JSON text, timestamps tz-aware
    UTC, user ids already opaque. Knobs: `topic_shift` moves that fraction of traffic to drift
    topics, `response_length_factor` scales answer lengths, `refusal_rate_delta` adds to the
    refusal probability. An unknown deployment_id gets a mix of all three text styles.
    """
    if n_events < 0:
        raise ValueError(f"n_events: must be >= 0, got {n_events}")
    begin = start or datetime(2026, 1, 1, tzinfo=UTC)
    rng = _rng(seed, deployment_id)
    ts = int(begin.timestamp() * 1000) + np.sort(rng.integers(0, max(n_events, 1) * 1000, n_events))
    profile = sim.Profile(
        topic_shift=topic_shift,
        length_factor=response_length_factor,
        refusal=sim.HEALTHY.refusal + refusal_rate_delta,
    )
    # Bounded chunks keep peak memory flat; rng state carries over, so output stays seeded.
    parts = [
        _stream_chunk(rng, deployment_id, ts[i : i + _STREAM_CHUNK], profile)
        for i in range(0, max(n_events, 1), _STREAM_CHUNK)
    ]
    events = pd.concat([p[0] for p in parts], ignore_index=True)
    signals = pd.concat([p[1] for p in parts], ignore_index=True)
    events = events.sort_values("timestamp", kind="stable", ignore_index=True)
    signals = signals.sort_values("timestamp", kind="stable", ignore_index=True)
    return events, signals


def _stream_chunk(
    rng: np.random.Generator, deployment_id: str, ts: np.ndarray, profile: sim.Profile
) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = len(ts)
    ev, sg = sim.simulate(
        rng,
        deployment_id,
        ts,
        np.zeros(n, dtype=np.int64),
        np.array([n]),
        np.ones(n, dtype=bool),
        profile,
        ("v1", "v2"),
    )
    users = {u: opaque_user_id(u) for u in set(ev["user_id"])}
    events = pd.DataFrame({k: ev[k] for k in EVENT_COLUMNS if k not in ("metadata", "timestamp")})
    events["user_id"] = events["user_id"].map(users)
    events["metadata"] = [orjson.dumps(m).decode() for m in ev["metadata"]]
    events["timestamp"] = pd.to_datetime(ev["timestamp"], unit="ms", utc=True)
    signals = pd.DataFrame(
        {
            "signal_id": sim.uuids(rng, len(sg["event_id"])),
            "event_id": sg["event_id"],
            "signal_type": sg["signal_type"],
            "user_id": [users[u] for u in sg["user_id"]],
            "edited_response": sg["edited_response"],
            "metadata": [orjson.dumps(m).decode() for m in sg["metadata"]],
            "timestamp": pd.to_datetime(np.asarray(sg["timestamp"]), unit="ms", utc=True),
        }
    )
    return events[list(EVENT_COLUMNS)], signals[list(SIGNAL_COLUMNS)]
