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
    originals + regenerations equal its size (or one fewer).
    """
    n = len(ts_ms)
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

    # Keep a prefix of each group so that originals + regenerations fit the group size.
    starts = np.searchsorted(group, group, side="left")
    pos = np.arange(n) - starts
    cum = np.cumsum(regen)
    cum_in_group: np.ndarray = cum - (cum[starts] - regen[starts])
    keep = pos + 1 + cum_in_group <= group_size[group]
    _top_up(group, group_size, keep, regen)
    orig = np.flatnonzero(keep)
    src = np.concatenate([orig, orig[regen[orig]]])  # row of the original for each event
    m_orig = len(orig)
    is_regen = np.arange(len(src)) >= m_orig
    n_ev = len(src)

    regen_src = src[is_regen]
    regen_answers = tg.build_answers(
        rng,
        topics[regen_src],
        variants[regen_src],
        [slots[i] for i in regen_src.tolist()],
        tg.Quality(
            quality.length_factor[regen_src],
            quality.refusal[regen_src],
            quality.loop[regen_src],
            quality.short[regen_src],
        ),
    )
    response = [answers.response[i] for i in orig.tolist()] + regen_answers.response
    bad = np.concatenate([answers.bad[orig], regen_answers.bad])
    # JSON answers stay parseable: no trailing prose appended to them.
    not_json = kinds[src] != tg.kind_index("json")
    tg.sprinkle(rng, response, 0.015, c.PII_RESPONSE, 0.03, eligible=not_json)
    prompt = [prompts[i] for i in src.tolist()]
    ts = ts_ms[src].copy()
    ts[is_regen] += rng.integers(4_000, 90_000, size=int(is_regen.sum()))

    users = rng.choice(len(_USER_P), size=n, p=_USER_P)[src]
    user_ids = np.char.mod("user-%04d", users).tolist()
    block = (ts_ms[src] % DAY_MS) // (3 * 3_600_000)
    skey = (users.astype(np.int64) * 100_000 + ts_ms[src] // DAY_MS) * 8 + block
    uniq, inv = np.unique(skey, return_inverse=True)
    session = np.array(["sess-" + h for h in hexes(rng, len(uniq), 8)], dtype=object)[inv]
    event_ids = uuids(rng, n_ev)
    v2 = rng.random(n_ev) < _V2_SHARE.get(deployment_id, 0.3)
    v2 = v2[np.concatenate([np.arange(m_orig), np.flatnonzero(regen[orig])])]
    mv = np.where(v2, f"{deployment_id}-{versions[1]}", f"{deployment_id}-{versions[0]}")
    in_tok = np.fromiter(map(len, prompt), dtype=np.int64, count=n_ev) // 4 + 12
    out_tok = np.maximum(1, np.fromiter(map(len, response), dtype=np.int64, count=n_ev) // 4)
    latency = (180 + 14 * out_tok) * rng.lognormal(0, 0.25, size=n_ev) * np.where(v2, 0.85, 1)
    source = rng.choice(len(_SOURCES), size=n, p=_SOURCE_P)[src]
    locale = rng.choice(len(_LOCALES), size=n, p=_LOCALE_P)[src]
    tnames = tg.TOPIC_NAMES[topics[src]].tolist()
    metadata: list[dict[str, Any]] = [
        {"source": _SOURCES[s], "locale": _LOCALES[lc], "topic": t}
        for s, lc, t in zip(source.tolist(), locale.tolist(), tnames, strict=True)
    ]
    orig_pos = np.full(n, -1)
    orig_pos[orig] = np.arange(m_orig)
    regen_of = orig_pos[regen_src]
    for j, k in enumerate(range(m_orig, n_ev)):
        metadata[k]["regenerate_of"] = event_ids[int(regen_of[j])]

    events = {
        "event_id": event_ids,
        "deployment_id": [deployment_id] * n_ev,
        "model_version_id": mv.tolist(),
        "user_id": user_ids,
        "prompt": prompt,
        "response": response,
        "latency_ms": np.round(latency, 1).tolist(),
        "token_count": (in_tok + out_tok).tolist(),
        "input_tokens": in_tok.tolist(),
        "output_tokens": out_tok.tolist(),
        "trace_id": hexes(rng, n_ev, 16),
        "session_id": session.tolist(),
        "metadata": metadata,
        "timestamp": ts,
    }
    kind_names = [c.KINDS[k] for k in kinds[src].tolist()]
    signals = _signals(
        rng, events, bad, kind_names, drifted[src], drift, (topics, variants, slots), src
    )
    # Regenerate clicks: on the original, just before the new answer appears.
    sig_regen = {
        "event_id": [event_ids[int(i)] for i in regen_of.tolist()],
        "signal_type": ["regenerate"] * len(regen_of),
        "timestamp": ts[is_regen] - rng.integers(500, 3_000, size=len(regen_of)),
        "user_id": [user_ids[int(i)] for i in regen_of.tolist()],
        "metadata": [{"source": metadata[int(i)]["source"]} for i in regen_of.tolist()],
        "edited_response": [None] * len(regen_of),
    }
    for key, values in sig_regen.items():
        signals[key] = (
            np.concatenate([signals[key], values])
            if key == "timestamp"
            else (list(signals[key]) + list(values))
        )
    return events, signals


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
