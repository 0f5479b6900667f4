"""The held-out split: every prompt belongs to a near-duplicate cluster, and a cluster is `eval`
or `train` forever.

A cluster is a connected component of "same normalized prompt, or estimated MinHash Jaccard >=
threshold". Clusters seen before keep their stored split; a new cluster is eval when a seeded
hash of its canonical key (the smallest prompt key among its members) falls below
`eval_share * 100` (mod 100), so the split is deterministic and independent of row order. A new
prompt that bridges an eval cluster and a train cluster is a `conflict`: it may go to neither
side, since either would put a near-duplicate of an eval prompt into training.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
from datasketch import LeanMinHash, MinHashLSH

from feedback_assets.domain.curation.dedupe import minhash_signatures, normalize_text, text_keys
from feedback_assets.domain.curation.near_duplicates import agree, component_pairs

SPLITS: tuple[str, ...] = ("train", "eval", "conflict")
KNOWN_COLUMNS: tuple[str, ...] = ("prompt_key", "cluster_key", "split", "prompt")
SPLIT_COLUMNS: tuple[str, ...] = ("prompt_key", "cluster_key", "split", "new")
NUM_PERM = 64


def prompt_keys(prompts: pd.Series) -> pd.Series:
    """16-hex-digit key of each normalized prompt (the store's key for a prompt)."""
    keys = text_keys(normalize_text(prompts))
    return pd.Series([f"{int(k):016x}" for k in keys], index=prompts.index, dtype=object)


def eval_bucket(cluster_key: str, seed: int) -> int:
    """0..99, stable across processes and Python versions (unlike hash())."""
    digest = hashlib.blake2b(f"{seed}:{cluster_key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 100


def split_prompts(
    prompts: pd.Series,
    known: pd.DataFrame | None = None,
    *,
    eval_share: float = 0.1,
    threshold: float = 0.85,
    seed: int = 0,
) -> pd.DataFrame:
    """Per prompt (aligned with `prompts`): prompt_key, cluster_key, split, new.

    `known` holds earlier assignments (columns KNOWN_COLUMNS; `prompt` is any member's text).
    `new` is True where the normalized prompt was not in `known`. Conflicts get cluster_key "".
    """
    if not 0.0 <= eval_share <= 1.0:
        raise ValueError(f"eval_share: must be in [0, 1], got {eval_share}")
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold: must be in (0, 1], got {threshold}")
    known = _known_frame(known)
    keys = prompt_keys(prompts.fillna("").astype(str))
    codes, uniq_keys = pd.factorize(keys)
    first = pd.Series(np.arange(len(keys))).groupby(codes).first().to_numpy()
    uniq_norm = normalize_text(prompts.fillna("").astype(str).iloc[first]).reset_index(drop=True)
    known_by_key = known.drop_duplicates("prompt_key").set_index("prompt_key")
    is_known = pd.Index(uniq_keys).isin(known_by_key.index)
    cluster = np.empty(len(uniq_keys), dtype=object)
    split = np.empty(len(uniq_keys), dtype=object)
    cluster[is_known] = known_by_key.loc[uniq_keys[is_known], "cluster_key"].to_numpy()
    split[is_known] = known_by_key.loc[uniq_keys[is_known], "split"].to_numpy()
    fresh = np.flatnonzero(~is_known)
    if len(fresh):
        c, s = _assign_fresh(
            uniq_norm.iloc[fresh].reset_index(drop=True),
            np.asarray(uniq_keys)[fresh],
            known,
            eval_share=eval_share,
            threshold=threshold,
            seed=seed,
        )
        cluster[fresh], split[fresh] = c, s
    return pd.DataFrame(
        {
            "prompt_key": keys.to_numpy(),
            "cluster_key": cluster[codes],
            "split": split[codes],
            "new": ~is_known[codes],
        },
        index=prompts.index,
    )


def _known_frame(known: pd.DataFrame | None) -> pd.DataFrame:
    if known is None or known.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in KNOWN_COLUMNS})
    missing = [c for c in KNOWN_COLUMNS if c not in known.columns]
    if missing:
        raise ValueError(f"known.{missing[0]}: required column is missing")
    bad = sorted(set(known["split"]) - {"train", "eval"})
    if bad:
        raise ValueError(f"known.split: only 'train' and 'eval' are stored, got {bad}")
    return known.reset_index(drop=True)


def _assign_fresh(
    norm: pd.Series,
    keys: np.ndarray,
    known: pd.DataFrame,
    *,
    eval_share: float,
    threshold: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Components of the fresh prompts and their near-duplicate edges (to each other and to
    known prompts); each component takes the split of the known clusters it touches."""
    sigs = minhash_signatures(norm, NUM_PERM, seed)
    known_sigs = minhash_signatures(normalize_text(known["prompt"].astype(str)), NUM_PERM, seed)
    # Both find every pair within `threshold` when each of the LSH's bands is a full band.
    lsh_bands = _lsh(threshold).b
    exact = component_pairs(sigs, known_sigs, threshold, lsh_bands)
    if exact is not None:
        roots, hit_row, hit_known = exact
    else:
        roots, touched = _lsh_components(sigs, known_sigs, threshold, seed)
        hit_row = np.repeat(np.arange(len(touched)), [len(t) for t in touched])
        hit_known = np.array([j for t in touched for j in sorted(t)], dtype=np.int64)
    return _component_splits(roots, keys, hit_row, hit_known, known, eval_share, seed)


def _lsh(threshold: float) -> MinHashLSH:
    return MinHashLSH(threshold=max(0.3, threshold - 0.3), num_perm=NUM_PERM)


def _lsh_components(
    sigs: np.ndarray, known_sigs: np.ndarray, threshold: float, seed: int
) -> tuple[np.ndarray, list[set[int]]]:
    """Low thresholds: candidates from a MinHash LSH, each verified on the signatures."""
    n = len(sigs)
    # A lower banding threshold makes missed candidates at `threshold` vanishingly rare; every
    # candidate is then verified on the signatures themselves.
    lsh = _lsh(threshold)
    for j, sig in enumerate(known_sigs):
        lsh.insert(("k", j), _lean(sig, seed), check_duplication=False)
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    touched: list[set[int]] = [set() for _ in range(n)]
    for i, sig in enumerate(sigs):
        mh = _lean(sig, seed)
        cands = lsh.query(mh)
        known_js = np.array([j for kind, j in cands if kind == "k"], dtype=np.int64)
        if len(known_js):
            touched[i].update(known_js[agree(known_sigs[known_js], sig, threshold)].tolist())
        # Components are all that matters: a candidate already in i's component needs no check.
        root = find(i)
        fresh_js = np.array([j for kind, j in cands if kind == "f" and find(j) != root], np.int64)
        for j in fresh_js[agree(sigs[fresh_js], sig, threshold)].tolist() if len(fresh_js) else []:
            parent[find(j)] = find(i)
        lsh.insert(("f", i), mh, check_duplication=False)
    return np.array([find(i) for i in range(n)]), touched


def _component_splits(
    roots: np.ndarray,
    keys: np.ndarray,
    hit_row: np.ndarray,
    hit_known: np.ndarray,
    known: pd.DataFrame,
    eval_share: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Per row: a component touching known clusters of both splits is a conflict; one touching
    known clusters of one split joins it (the smallest of their cluster keys); an untouched one
    is a new cluster keyed by its smallest prompt key, eval by its seeded bucket."""
    _, comp_of = np.unique(roots, return_inverse=True)
    cluster = pd.Series(keys).groupby(comp_of).min().to_numpy(dtype=object)
    buckets = np.array([eval_bucket(k, seed) for k in cluster], dtype=np.int64)
    split = np.where(buckets < eval_share * 100, "eval", "train").astype(object)
    if len(hit_row):
        hits = pd.DataFrame(
            {
                "comp": comp_of[hit_row],
                "split": known["split"].to_numpy()[hit_known],
                "cluster": known["cluster_key"].to_numpy()[hit_known],
            }
        ).groupby("comp")
        sides, joined = hits["split"].agg(["nunique", "first"]), hits["cluster"].min()
        touched = sides.index.to_numpy()
        cluster[touched] = joined.to_numpy(dtype=object)
        split[touched] = sides["first"].to_numpy(dtype=object)
        both = touched[sides["nunique"].to_numpy() > 1]
        cluster[both], split[both] = "", "conflict"
    return cluster[comp_of], split[comp_of]


def _lean(sig: np.ndarray, seed: int) -> LeanMinHash:
    return LeanMinHash(seed=seed, hashvalues=sig, scheme="legacy")


def near_duplicate_of_any(
    prompts: pd.Series, others: pd.Series, threshold: float = 0.85, seed: int = 0
) -> np.ndarray:
    """Per prompt: equal after normalization to, or a near-duplicate of, any of `others`."""
    norm, other_norm = normalize_text(prompts.fillna("")), normalize_text(others.fillna(""))
    if len(norm) == 0 or len(other_norm) == 0:
        return np.zeros(len(norm), dtype=bool)
    out = np.array(norm.isin(set(other_norm)), dtype=bool)
    other_sigs = minhash_signatures(other_norm.reset_index(drop=True), NUM_PERM, seed)
    sigs = minhash_signatures(norm.reset_index(drop=True), NUM_PERM, seed)
    # The pigeonhole banding finds every hit without one LSH insert per prompt of `others`.
    exact = component_pairs(sigs, other_sigs, threshold, _lsh(threshold).b)
    if exact is not None:
        out[exact[1]] = True
        return out
    lsh = _lsh(threshold)
    for j, sig in enumerate(other_sigs):
        lsh.insert(j, _lean(sig, seed), check_duplication=False)
    for i in np.flatnonzero(~out):
        cands = lsh.query(_lean(sigs[i], seed))
        out[i] = any(float(np.mean(other_sigs[j] == sigs[i])) >= threshold for j in cands)
    return out
