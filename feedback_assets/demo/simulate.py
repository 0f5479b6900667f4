"""The event/signal simulation shared by `generate_traffic` and `generate_stream`.

One call simulates one deployment: texts, regenerations, metadata and signals, all drawn
as numpy arrays from one seeded generator.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np

from feedback_assets.demo import corpus as c
from feedback_assets.demo import textgen as tg

DAY_MS = 86_400_000
_SOURCES = ("web", "api", "mobile")
_SOURCE_P = (0.55, 0.3, 0.15)
_LOCALES = ("en-US", "en-GB", "de-DE", "fr-FR", "es-ES")
_LOCALE_P = (0.6, 0.15, 0.1, 0.08, 0.07)
_REPORT_REASONS = ("incorrect", "harmful", "spam", "other")
_V2_SHARE = {"support-bot": 0.35, "code-assistant": 0.5, "json-extractor": 0.0}
_SIGNALS = ("thumbs_up", "thumbs_down", "copy", "share", "edit", "report")
# Per-answer signal probabilities for (good, bad) answers; copy depends on the kind.
_RATES_GOOD = np.array([0.045, 0.018, 0.0, 0.005, 0.009, 0.002])
_RATES_BAD = np.array([0.004, 0.06, 0.0, 0.001, 0.03, 0.02])
_COPY = {"support": 0.035, "code": 0.11, "json": 0.045}
_REGEN_GOOD, _REGEN_BAD = 0.025, 0.12
# 300 users per deployment with a long-tailed activity profile.
_USER_P = 1.0 / np.arange(1, 301) ** 0.8
_USER_P /= _USER_P.sum()


@dataclass(frozen=True)
class Profile:
    topic_shift: float = 0.0
    length_factor: float = 1.0
    refusal: float = 0.02
    loop: float = 0.01
    short: float = 0.02
    thumbs_down: float = 1.0


HEALTHY = Profile()
DRIFTED = Profile(
    topic_shift=0.6, length_factor=1.5, refusal=0.15, loop=0.06, short=0.08, thumbs_down=2.0
)


def uuids(rng: np.random.Generator, n: int) -> list[str]:
    """Random (version 4) UUID strings drawn from `rng`, so they repeat with the seed."""
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    h = raw.tobytes().hex()
    return [
        f"{h[i : i + 8]}-{h[i + 8 : i + 12]}-{h[i + 12 : i + 16]}-{h[i + 16 : i + 20]}-"
        f"{h[i + 20 : i + 32]}"
        for i in range(0, 32 * n, 32)
    ]


def hexes(rng: np.random.Generator, n: int, nbytes: int) -> list[str]:
    raw = rng.bytes(nbytes * n)
    return [raw[nbytes * i : nbytes * i + nbytes].hex() for i in range(n)]


def _kinds_for(rng: np.random.Generator, deployment_id: str, n: int) -> np.ndarray:
    kind = c.KIND_BY_DEPLOYMENT.get(deployment_id)
    if kind is not None:
        return np.full(n, tg.kind_index(kind))
    return rng.choice(len(c.KINDS), size=n, p=c.MIXED_KIND_WEIGHTS)


def _top_up(group: np.ndarray, size: np.ndarray, keep: np.ndarray, regen: np.ndarray) -> None:
    """Where a group ends one event short, keep one more original without regeneration."""
    n_groups = len(size)
    g_start = np.searchsorted(group, np.arange(n_groups))
    g_end = np.searchsorted(group, np.arange(n_groups), side="right")
    kept = np.bincount(group[keep], minlength=n_groups)
    total = kept + np.bincount(group[keep & regen], minlength=n_groups)
    nxt = g_start + kept
    rows = nxt[(total < size) & (nxt < g_end)]
    regen[rows] = False
    keep[rows] = True


def simulate(
    rng: np.random.Generator,
    deployment_id: str,
    ts_ms: np.ndarray,
    group: np.ndarray,
    group_size: np.ndarray,
    drifted: np.ndarray,
    drift: Profile,
    versions: tuple[str, str],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Events (originals + regenerations) and signals, as columns.

    Rows come grouped by `group` (a day); each group keeps as many originals as make
    originals + regenerations equal its size (or one fewer). The helpers draw from `rng` in a
    fixed order, so a seed always gives the same traffic.
    """
    drawn = _draw_texts(rng, deployment_id, drifted, drift)
    keep = _keep_prefix(group, group_size, drawn.regen)
    orig = np.flatnonzero(keep)
    src = np.concatenate([orig, orig[drawn.regen[orig]]])  # row of the original for each event
    texts = _event_texts(rng, drawn, orig, src, ts_ms)
    events = _event_columns(rng, deployment_id, versions, ts_ms, orig, src, drawn, texts)
    kind_names = [c.KINDS[k] for k in drawn.kinds[src].tolist()]
    state = (drawn.topics, drawn.variants, drawn.slots)
    signals = _signals(rng, events, texts.bad, kind_names, drifted[src], drift, state, src)
    _add_regenerate_clicks(rng, signals, events, texts, orig, drawn.regen)
    return events, signals


@dataclass
class _Drawn:
    """The per-row draws before any row is dropped (one row per potential original)."""

    quality: tg.Quality
    kinds: np.ndarray
    topics: np.ndarray
    slots: Any
    variants: np.ndarray
    prompts: list[str]
    answers: Any
    regen: np.ndarray


@dataclass
class _Texts:
    prompt: list[str]
    response: list[str]
    bad: np.ndarray
    ts: np.ndarray
    is_regen: np.ndarray


def _draw_texts(
    rng: np.random.Generator, deployment_id: str, drifted: np.ndarray, drift: Profile
) -> _Drawn:
    n = len(drifted)
    prof = [HEALTHY, drift]
    pick = drifted.astype(np.int64)

    def col(attr: str) -> np.ndarray:
        return np.array([getattr(p, attr) for p in prof])[pick]

    quality = tg.Quality(col("length_factor"), col("refusal"), col("loop"), col("short"))
    kinds = _kinds_for(rng, deployment_id, n)
    topics = tg.sample_topics(rng, kinds, col("topic_shift"))
    slots = tg.draw_slots(rng, n)
    variants = tg.sample_variants(rng, topics)
    prompts = tg.build_prompts(rng, topics, variants, slots)
    tg.sprinkle(rng, prompts, 0.035, c.PII_PROMPT, 0.06)
    answers = tg.build_answers(rng, topics, variants, slots, quality)
    regen = rng.random(n) < np.where(answers.bad, _REGEN_BAD, _REGEN_GOOD)
    return _Drawn(quality, kinds, topics, slots, variants, prompts, answers, regen)


def _keep_prefix(group: np.ndarray, group_size: np.ndarray, regen: np.ndarray) -> np.ndarray:
    """Keep a prefix of each group so that originals + regenerations fit the group size."""
    n = len(group)
    starts = np.searchsorted(group, group, side="left")
    pos = np.arange(n) - starts
    cum = np.cumsum(regen)
    cum_in_group: np.ndarray = cum - (cum[starts] - regen[starts])
    keep = pos + 1 + cum_in_group <= group_size[group]
    _top_up(group, group_size, keep, regen)
    return keep


def _event_texts(
    rng: np.random.Generator, d: _Drawn, orig: np.ndarray, src: np.ndarray, ts_ms: np.ndarray
) -> _Texts:
    """Prompts, responses (regenerations get new answers), badness and times of every event."""
    is_regen = np.arange(len(src)) >= len(orig)
    regen_src = src[is_regen]
    q = d.quality
    regen_answers = tg.build_answers(
        rng,
        d.topics[regen_src],
        d.variants[regen_src],
        [d.slots[i] for i in regen_src.tolist()],
        tg.Quality(
            q.length_factor[regen_src], q.refusal[regen_src], q.loop[regen_src], q.short[regen_src]
        ),
    )
    response = [d.answers.response[i] for i in orig.tolist()] + regen_answers.response
    bad = np.concatenate([d.answers.bad[orig], regen_answers.bad])
    # JSON answers stay parseable: no trailing prose appended to them.
    not_json = d.kinds[src] != tg.kind_index("json")
    tg.sprinkle(rng, response, 0.015, c.PII_RESPONSE, 0.03, eligible=not_json)
    prompt = [d.prompts[i] for i in src.tolist()]
    ts = ts_ms[src].copy()
    ts[is_regen] += rng.integers(4_000, 90_000, size=int(is_regen.sum()))
    return _Texts(prompt, response, bad, ts, is_regen)


def _event_columns(
    rng: np.random.Generator,
    deployment_id: str,
    versions: tuple[str, str],
    ts_ms: np.ndarray,
    orig: np.ndarray,
    src: np.ndarray,
    d: _Drawn,
    t: _Texts,
) -> dict[str, Any]:
    n, n_ev, m_orig = len(ts_ms), len(src), len(orig)
    users = rng.choice(len(_USER_P), size=n, p=_USER_P)[src]
    user_ids = np.char.mod("user-%04d", users).tolist()
    block = (ts_ms[src] % DAY_MS) // (3 * 3_600_000)
    skey = (users.astype(np.int64) * 100_000 + ts_ms[src] // DAY_MS) * 8 + block
    uniq, inv = np.unique(skey, return_inverse=True)
    session = np.array(["sess-" + h for h in hexes(rng, len(uniq), 8)], dtype=object)[inv]
    event_ids = uuids(rng, n_ev)
    v2 = rng.random(n_ev) < _V2_SHARE.get(deployment_id, 0.3)
    v2 = v2[np.concatenate([np.arange(m_orig), np.flatnonzero(d.regen[orig])])]
    mv = np.where(v2, f"{deployment_id}-{versions[1]}", f"{deployment_id}-{versions[0]}")
    in_tok = np.fromiter(map(len, t.prompt), dtype=np.int64, count=n_ev) // 4 + 12
    out_tok = np.maximum(1, np.fromiter(map(len, t.response), dtype=np.int64, count=n_ev) // 4)
    latency = (180 + 14 * out_tok) * rng.lognormal(0, 0.25, size=n_ev) * np.where(v2, 0.85, 1)
    metadata = _metadata(rng, n, src, d.topics, event_ids, orig)
    return {
        "event_id": event_ids,
        "deployment_id": [deployment_id] * n_ev,
        "model_version_id": mv.tolist(),
        "user_id": user_ids,
        "prompt": t.prompt,
        "response": t.response,
        "latency_ms": np.round(latency, 1).tolist(),
        "token_count": (in_tok + out_tok).tolist(),
        "input_tokens": in_tok.tolist(),
        "output_tokens": out_tok.tolist(),
        "trace_id": hexes(rng, n_ev, 16),
        "session_id": session.tolist(),
        "metadata": metadata,
        "timestamp": t.ts,
    }


def _metadata(
    rng: np.random.Generator,
    n: int,
    src: np.ndarray,
    topics: np.ndarray,
    event_ids: list[str],
    orig: np.ndarray,
) -> list[dict[str, Any]]:
    source = rng.choice(len(_SOURCES), size=n, p=_SOURCE_P)[src]
    locale = rng.choice(len(_LOCALES), size=n, p=_LOCALE_P)[src]
    tnames = tg.TOPIC_NAMES[topics[src]].tolist()
    metadata: list[dict[str, Any]] = [
        {"source": _SOURCES[s], "locale": _LOCALES[lc], "topic": t}
        for s, lc, t in zip(source.tolist(), locale.tolist(), tnames, strict=True)
    ]
    for k, j in enumerate(_regenerate_of(n, src, orig).tolist(), start=len(orig)):
        metadata[k]["regenerate_of"] = event_ids[int(j)]
    return metadata


def _regenerate_of(n: int, src: np.ndarray, orig: np.ndarray) -> np.ndarray:
    """For each regeneration (after the originals), the position of its original event."""
    orig_pos = np.full(n, -1)
    orig_pos[orig] = np.arange(len(orig))
    return orig_pos[src[len(orig) :]]


def _add_regenerate_clicks(
    rng: np.random.Generator,
    signals: dict[str, Any],
    events: dict[str, Any],
    t: _Texts,
    orig: np.ndarray,
    regen: np.ndarray,
) -> None:
    """Regenerate clicks: on the original, just before the new answer appears."""
    src = np.concatenate([orig, orig[regen[orig]]])
    regen_of = _regenerate_of(len(regen), src, orig)
    ids, users, meta = events["event_id"], events["user_id"], events["metadata"]
    sig_regen = {
        "event_id": [ids[int(i)] for i in regen_of.tolist()],
        "signal_type": ["regenerate"] * len(regen_of),
        "timestamp": t.ts[t.is_regen] - rng.integers(500, 3_000, size=len(regen_of)),
        "user_id": [users[int(i)] for i in regen_of.tolist()],
        "metadata": [{"source": meta[int(i)]["source"]} for i in regen_of.tolist()],
        "edited_response": [None] * len(regen_of),
    }
    for key, values in sig_regen.items():
        signals[key] = (
            np.concatenate([signals[key], values])
            if key == "timestamp"
            else (list(signals[key]) + list(values))
        )


def _signals(
    rng: np.random.Generator,
    events: dict[str, Any],
    bad: np.ndarray,
    kind_names: list[str],
    drifted: np.ndarray,
    drift: Profile,
    source_text: tuple[np.ndarray, np.ndarray, list[dict[str, str]]],
    src: np.ndarray,
) -> dict[str, Any]:
    """Signals sampled per event; `source_text` (topics, variants, slots) is indexed by `src`."""
    topics, variants, slots = source_text
    n = len(bad)
    rates = np.where(bad[:, None], _RATES_BAD[None, :], _RATES_GOOD[None, :])
    copy = np.array([_COPY[k] for k in kind_names])
    rates[:, 2] = np.where(bad, copy * 0.2, copy)
    rates[:, 1] *= np.where(drifted, drift.thumbs_down, 1.0)
    hit = rng.random((n, len(_SIGNALS))) < rates
    ev, ty = np.nonzero(hit)
    # A few double clicks on thumbs_up.
    dup = ev[(ty == 0) & (rng.random(len(ev)) < 0.08)]
    ev = np.concatenate([ev, dup])
    ty = np.concatenate([ty, np.zeros(len(dup), dtype=ty.dtype)])
    delay = np.clip(rng.lognormal(np.log(20_000), 1.2, size=len(ev)), 1_000, 3_600_000)
    ts = events["timestamp"][ev] + delay.astype(np.int64)
    if len(dup):
        ts[-len(dup) :] += rng.integers(300, 3_000, size=len(dup))

    edited: list[str | None] = [None] * len(ev)
    edit_rows = np.flatnonzero(ty == _SIGNALS.index("edit"))
    if len(edit_rows):
        e = src[ev[edit_rows]]
        fixed = tg.build_answers(
            rng,
            topics[e],
            variants[e],
            [slots[i] for i in e.tolist()],
            tg.Quality(*(np.full(len(e), v) for v in (1.0, 0.0, 0.0, 0.0))),
        )
        for j, r in enumerate(edit_rows.tolist()):
            text = fixed.response[j]
            if text == events["response"][ev[r]]:
                text += "\n\n(Checked against the current documentation.)"
            edited[r] = text
    meta: list[dict[str, Any]] = [{"source": events["metadata"][i]["source"]} for i in ev.tolist()]
    reasons = rng.integers(0, len(_REPORT_REASONS), size=len(ev))
    for r in np.flatnonzero(ty == _SIGNALS.index("report")).tolist():
        meta[r]["reason"] = _REPORT_REASONS[int(reasons[r])]
    return {
        "event_id": [events["event_id"][i] for i in ev.tolist()],
        "signal_type": [_SIGNALS[t] for t in ty.tolist()],
        "timestamp": ts,
        "user_id": [events["user_id"][i] for i in ev.tolist()],
        "metadata": meta,
        "edited_response": edited,
    }
