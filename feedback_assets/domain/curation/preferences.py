"""Preference data mined from user signals: DPO pairs (edits, regenerates, same-prompt thumbs)
and KTO unpaired rows. The original threw thumbs data away; here it becomes training signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl

from feedback_assets.domain.curation.curation import aggregate_signals
from feedback_assets.domain.curation.dedupe import near_duplicate_groups, normalize_text
from feedback_assets.domain.curation.joins import quality_of
from feedback_assets.domain.frames import is_in
from feedback_assets.domain.records import SIGNAL_TYPES

PAIR_COLUMNS: tuple[str, ...] = (
    "prompt",
    "chosen",
    "rejected",
    "source",
    "chosen_event_id",
    "rejected_event_id",
    "deployment_id",
)
KTO_COLUMNS: tuple[str, ...] = ("prompt", "completion", "label", "event_id", "deployment_id")


def _with_signals(events: pd.DataFrame, signals: pd.DataFrame | None) -> pd.DataFrame:
    for col in ("event_id", "deployment_id", "prompt", "response"):
        if col not in events.columns:
            raise ValueError(f"events.{col}: required column is missing")
    # Filter, dedupe and join without copying the texts when nothing needs dropping: at 333k
    # events of ~1 KB each copy of the frame costs seconds.
    valid = (events["event_id"].notna() & events["prompt"].notna()).to_numpy()
    ev = events if valid.all() else events[valid]
    if ev["event_id"].duplicated().any():
        ev = ev.drop_duplicates("event_id")
    ev = ev.assign(_pos=np.arange(len(ev)))
    if signals is not None and len(signals):
        agg = aggregate_signals(signals).set_index("event_id")  # one row per event_id
        # One index lookup for every column (a map per column hashed every id again).
        joined = agg.reindex(ev["event_id"].to_numpy())
        ev = ev.assign(**{c: joined[c].to_numpy() for c in agg.columns})
    for t in SIGNAL_TYPES:
        col = f"n_{t}"
        ev[col] = ev[col].fillna(0).astype("int64") if col in ev else 0
    ev["signal_score"] = ev["signal_score"].fillna(0.0) if "signal_score" in ev else 0.0
    ev["reported"] = ev["n_report"] > 0
    if "edited_response" not in ev:
        ev["edited_response"] = None
    return ev


def _empty_pairs() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="str") for c in PAIR_COLUMNS})


def mine_preference_pairs(
    events: pd.DataFrame,
    signals: pd.DataFrame | None,
    quality: pd.DataFrame | None = None,
    near_duplicate_threshold: float = 0.85,
) -> pd.DataFrame:
    """DPO pairs (columns: PAIR_COLUMNS). Pairs whose chosen and rejected texts are equal after
    normalization are skipped."""
    ev = _with_signals(events, signals)
    q = quality_of(quality, ev["event_id"])
    ev["_quality"] = q["score"].to_numpy()
    ev["_refusal"] = q["refusal"].to_numpy()
    parts = [_edit_pairs(ev), _regenerate_pairs(ev), _thumbs_pairs(ev, near_duplicate_threshold)]
    parts = [p for p in parts if len(p)]
    if not parts:
        return _empty_pairs()
    out = pd.concat(parts, ignore_index=True)
    out = out[out["chosen"].notna() & out["rejected"].notna()]
    same = normalize_text(out["chosen"]).to_numpy() == normalize_text(out["rejected"]).to_numpy()
    out = out[~same].drop_duplicates(["source", "chosen_event_id", "rejected_event_id"])
    return out[list(PAIR_COLUMNS)].reset_index(drop=True)


def _edit_pairs(ev: pd.DataFrame) -> pd.DataFrame:
    e = ev[(ev["n_edit"] > 0) & ev["edited_response"].notna()]
    return pd.DataFrame(
        {
            "prompt": e["prompt"],
            "chosen": e["edited_response"],
            "rejected": e["response"],
            "source": "edit",
            "chosen_event_id": e["event_id"],
            "rejected_event_id": e["event_id"],
            "deployment_id": e["deployment_id"],
        }
    )


def _regenerate_of(ev: pd.DataFrame) -> pd.Series:
    if "metadata" not in ev:
        return pd.Series(None, index=ev.index, dtype="str")
    meta = pl.Series(ev["metadata"].astype("str").to_numpy(dtype=object), dtype=pl.String)
    # Not-JSON metadata yields null for that row instead of failing the batch.
    valid = meta.str.strip_chars().str.starts_with("{").fill_null(False)
    parsed = pl.select(
        pl.when(pl.lit(valid)).then(pl.lit(meta).str.json_path_match("$.regenerate_of"))
    ).to_series()
    return pd.Series(parsed.to_arrow(), index=ev.index, dtype="str")


_LINK_COLUMNS = (
    "event_id",
    "session_id",
    "timestamp",
    "_pos",
    "n_regenerate",
    "n_thumbs_down",
    "reported",
)


def _regenerate_pairs(ev: pd.DataFrame) -> pd.DataFrame:
    """A (regenerated) -> B (its regeneration, accepted): rejected = A, chosen = B.

    Links are found on a frame without texts (prompts compared by code): sorting or filtering
    the whole day copies every text, and only the linked rows' texts are needed.
    """
    s = ev[[c for c in _LINK_COLUMNS if c in ev]].assign(
        _regen_of=_regenerate_of(ev).to_numpy(), _prompt=pd.factorize(ev["prompt"])[0]
    )
    order = ["timestamp", "_pos"] if "timestamp" in s else ["_pos"]
    s = s.sort_values(order, kind="stable")
    explicit = s[s["_regen_of"].notna()][["_regen_of", "event_id"]]
    explicit = explicit.rename(columns={"_regen_of": "a_id", "event_id": "b_id"})
    links = [explicit]
    if "session_id" in s:
        # Fallback: the next event of the same session with the same prompt.
        sess = s[s["session_id"].notna()]
        nxt = sess.groupby(["session_id", "_prompt"], sort=False)["event_id"].shift(-1)
        implicit = pd.DataFrame({"a_id": sess["event_id"], "b_id": nxt}).dropna()
        implicit = implicit[~implicit["a_id"].isin(explicit["a_id"])]
        links.append(implicit)
    link = pd.concat(links, ignore_index=True)
    a = s[s["n_regenerate"] > 0].set_index("event_id")["_pos"]
    accepted = s[(s["n_regenerate"] == 0) & (s["n_thumbs_down"] == 0) & ~s["reported"]]
    b = accepted.set_index("event_id")["_pos"]
    link = link[is_in(link["a_id"], a.index) & is_in(link["b_id"], b.index)]
    # Several accepted regenerations of one answer: the latest one wins.
    link = link.assign(_rank=link["b_id"].map(b))
    link = link.sort_values("_rank", kind="stable").drop_duplicates("a_id", keep="last")
    a_pos, b_pos = a.loc[link["a_id"]].to_numpy(), b.loc[link["b_id"]].to_numpy()
    return pd.DataFrame(
        {
            "prompt": ev["prompt"].iloc[a_pos].to_numpy(),
            "chosen": ev["response"].iloc[b_pos].to_numpy(),
            "rejected": ev["response"].iloc[a_pos].to_numpy(),
            "source": "regenerate",
            "chosen_event_id": link["b_id"].to_numpy(),
            "rejected_event_id": link["a_id"].to_numpy(),
            "deployment_id": ev["deployment_id"].iloc[a_pos].to_numpy(),
        }
    )


def _thumbs_pairs(ev: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Same (or near-duplicate) prompt in one deployment: each thumbed-down answer is paired with
    the best thumbed-up one (signal score, then quality)."""
    up = (ev["n_thumbs_up"] > 0) & (ev["n_thumbs_down"] == 0) & ~ev["reported"] & ~ev["_refusal"]
    down = ((ev["n_thumbs_down"] > 0) | ev["reported"]) & (ev["n_thumbs_up"] == 0)
    t = ev[up | down].copy()
    if t.empty:
        return t.iloc[:0]
    t["_up"] = up[t.index]
    t["_group"] = near_duplicate_groups(t["prompt"], threshold)
    best = (
        t[t["_up"]]
        .sort_values(["signal_score", "_quality", "_pos"], ascending=False, na_position="last")
        .drop_duplicates(["deployment_id", "_group"])
    )
    neg = t[~t["_up"]]
    m = neg.merge(best, on=["deployment_id", "_group"], suffixes=("_r", "_c"))
    return pd.DataFrame(
        {
            "prompt": m["prompt_c"],
            "chosen": m["response_c"],
            "rejected": m["response_r"],
            "source": "thumbs",
            "chosen_event_id": m["event_id_c"],
            "rejected_event_id": m["event_id_r"],
            "deployment_id": m["deployment_id"],
        }
    )


def kto_rows(
    events: pd.DataFrame,
    signals: pd.DataFrame | None,
    quality: pd.DataFrame | None = None,
    max_hard_quality: float = 0.5,
) -> pd.DataFrame:
    """Unpaired KTO rows (columns: KTO_COLUMNS).

    True: thumbs up (no thumbs down, report, regenerate or low quality) and accepted user edits
    (the edited text). False: thumbs down or report without thumbs up, any reported answer, a
    regenerated answer without thumbs up, an answer scored <= `max_hard_quality` (the hard
    examples), and the original answer a user replaced with an edit (unless it also got a thumbs
    up). Conflicting thumbs are skipped.
    """
    ev = _with_signals(events, signals)
    score = quality_of(quality, ev["event_id"])["score"].to_numpy()
    low = pd.Series(score <= max_hard_quality, index=ev.index)  # unscored: NaN, not low
    thumbs_up = ev["n_thumbs_up"] > 0
    regen = (ev["n_regenerate"] > 0) & ~thumbs_up
    up = thumbs_up & (ev["n_thumbs_down"] == 0) & ~ev["reported"] & ~low
    down = ev["reported"] | ((ev["n_thumbs_down"] > 0) & ~thumbs_up) | regen | low
    edited = (ev["n_edit"] > 0) & ev["edited_response"].notna()
    replaced = edited & ~up & ~down

    # Which rows, from which text column, with which label: positions only. The texts are
    # taken once, for the rows kept (filtering and sorting copied every text several times).
    picks = [
        (up, "response", True),
        (down, "response", False),
        (edited, "edited_response", True),
        (replaced, "response", False),
    ]
    sel = pd.concat(
        [
            pd.DataFrame(
                {"_pos": ev["_pos"].to_numpy()[m.to_numpy()], "_edit": col != "response"}
            ).assign(label=label)
            for m, col, label in picks
        ],
        ignore_index=True,
    ).sort_values("_pos", kind="stable")
    pos, from_edit = sel["_pos"].to_numpy(), sel["_edit"].to_numpy()
    completion = _texts(ev, pos, from_edit)
    out = pd.DataFrame(
        {
            "prompt": ev["prompt"].array.take(pos),
            "completion": completion,
            "label": sel["label"].to_numpy(dtype=bool),
            "event_id": ev["event_id"].array.take(pos),
            "deployment_id": ev["deployment_id"].array.take(pos),
        }
    )
    out = out[out["completion"].notna().to_numpy()]
    out = out[~duplicate_completions(out)]
    return out[list(KTO_COLUMNS)].reset_index(drop=True)


def _texts(ev: pd.DataFrame, pos: np.ndarray, from_edit: np.ndarray) -> pd.Series:
    """The kept rows' answers (or edits), in the column's own (Arrow) storage."""
    texts = pd.Series(ev["response"].array.take(pos))
    if from_edit.any():
        edits = pd.Series(ev["edited_response"].array.take(pos))
        texts = texts.mask(from_edit, edits)
    return texts


def duplicate_completions(kto: pd.DataFrame) -> np.ndarray:
    """drop_duplicates(["event_id", "completion", "label"]) as a mask, comparing texts only
    where an event has two rows of one label (hashing every completion cost seconds)."""
    twice = kto.duplicated(["event_id", "label"], keep=False).to_numpy()
    dup = np.zeros(len(kto), dtype=bool)
    if twice.any():
        dup[twice] = kto[twice].duplicated(["event_id", "completion", "label"]).to_numpy()
    return dup
