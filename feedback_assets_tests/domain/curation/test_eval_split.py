import numpy as np
import pandas as pd
import pytest

from feedback_assets.domain.curation.dedupe import minhash_signatures, normalize_text
from feedback_assets.domain.curation.eval_split import (
    eval_bucket,
    near_duplicate_of_any,
    prompt_keys,
    split_prompts,
)

VOCAB = [f"tok{i}" for i in range(5000)]


def sentence(seed: int, n: int = 80) -> str:
    return " ".join(np.random.default_rng(seed).choice(VOCAB, n))


def near(text: str) -> str:
    """A near-duplicate: the last of 80 words changed (Jaccard ~0.95)."""
    return " ".join(text.split()[:-1] + ["changed"])


def estimated_jaccard(a: str, b: str) -> float:
    sigs = minhash_signatures(normalize_text(pd.Series([a, b])))
    return float(np.mean(sigs[0] == sigs[1]))


def test_split_is_deterministic_order_free_and_about_the_share() -> None:
    prompts = pd.Series([sentence(i) for i in range(2000)])
    first = split_prompts(prompts, eval_share=0.1, seed=3)
    shuffled = prompts.sample(frac=1.0, random_state=1)
    again = split_prompts(shuffled, eval_share=0.1, seed=3).loc[prompts.index]
    pd.testing.assert_frame_equal(first, again)
    share = float((first["split"] == "eval").mean())
    assert 0.07 <= share <= 0.13
    assert set(first["split"]) == {"train", "eval"} and first["new"].all()
    # Another seed draws another sample of clusters.
    other = split_prompts(prompts, eval_share=0.1, seed=4)
    assert (other["split"] != first["split"]).any()


def test_exact_and_near_duplicates_share_a_cluster_and_split() -> None:
    base = [sentence(100 + i) for i in range(200)]
    prompts = pd.Series(
        base + [near(b) for b in base] + [b.upper().replace(" ", "  ") for b in base]
    )
    out = split_prompts(prompts, eval_share=0.5)
    n = len(base)
    for i in range(n):
        rows = out.iloc[[i, n + i, 2 * n + i]]
        assert rows["cluster_key"].nunique() == 1 and rows["split"].nunique() == 1
    assert out.loc[0, "prompt_key"] == out.loc[2 * n, "prompt_key"]  # same normalized prompt
    # The canonical key is the smallest prompt key of the cluster, hashed by seed.
    key = out.loc[0, "cluster_key"]
    assert key == min(out.loc[0, "prompt_key"], out.loc[n, "prompt_key"])
    assert out.loc[0, "split"] == ("eval" if eval_bucket(key, 0) < 50 else "train")


def _known(prompts: list[str], splits: list[str]) -> pd.DataFrame:
    keys = prompt_keys(pd.Series(prompts))
    return pd.DataFrame(
        {"prompt_key": keys, "cluster_key": keys, "split": splits, "prompt": prompts}
    )


def test_known_assignments_win_over_the_hash() -> None:
    a, b = sentence(1), sentence(2)
    # Share 0: every new cluster would be train; share 1: every new one eval.
    known = _known([a, b], ["eval", "train"])
    out = split_prompts(pd.Series([near(a), a, near(b), sentence(3)]), known, eval_share=0.0)
    assert out["split"].tolist() == ["eval", "eval", "train", "train"]
    assert out["new"].tolist() == [True, False, True, True]
    assert out.loc[0, "cluster_key"] == known.loc[0, "cluster_key"]
    out = split_prompts(pd.Series([near(b)]), known, eval_share=1.0)
    assert out["split"].tolist() == ["train"]


def test_a_prompt_bridging_eval_and_train_is_a_conflict() -> None:
    # Overlapping windows of one text: the middle one is near both ends, the ends are not near
    # each other (checked on the estimator itself, which is what the split uses).
    t = 0.85
    for seed in range(50):
        words = sentence(seed, 260).split()
        left, bridge, right = (" ".join(words[s : s + 200]) for s in (0, 10, 20))
        if (
            min(estimated_jaccard(left, bridge), estimated_jaccard(bridge, right)) >= t
            and estimated_jaccard(left, right) < t
        ):
            break
    else:
        pytest.fail("no bridging construction found")
    known = _known([left, right], ["eval", "train"])
    out = split_prompts(pd.Series([bridge, sentence(6)]), known, eval_share=0.5, threshold=t)
    assert out["split"].tolist()[0] == "conflict" and out.loc[0, "cluster_key"] == ""
    assert out.loc[1, "split"] in {"train", "eval"}


def test_near_duplicate_of_any() -> None:
    a, b = sentence(7), sentence(8)
    hits = near_duplicate_of_any(pd.Series([near(a), a.upper(), b]), pd.Series([a]))
    assert hits.tolist() == [True, True, False]
    assert near_duplicate_of_any(pd.Series([a]), pd.Series([], dtype=str)).tolist() == [False]


def test_bad_inputs_name_the_field() -> None:
    with pytest.raises(ValueError, match="eval_share"):
        split_prompts(pd.Series(["p"]), eval_share=1.5)
    with pytest.raises(ValueError, match="known.split"):
        split_prompts(pd.Series(["p"]), _known(["q"], ["conflict"]))
    with pytest.raises(ValueError, match="known.prompt"):
        split_prompts(pd.Series(["p"]), _known(["q"], ["eval"]).drop(columns=["prompt"]))


@pytest.mark.parametrize("threshold", [0.85, 0.6])
def test_near_duplicate_of_any_equals_comparing_every_pair(threshold: float) -> None:
    """Banded (0.85) or LSH (0.6, no banding): the hits are those of all pairs compared."""
    from feedback_assets.demo.traffic import generate_stream

    events, _ = generate_stream(700, seed=5, deployment_id="json-extractor")
    prompts = events["prompt"].drop_duplicates().reset_index(drop=True)
    mine, others = prompts.iloc[:300], prompts.iloc[300:]
    got = near_duplicate_of_any(mine, others, threshold)
    a = minhash_signatures(normalize_text(mine).reset_index(drop=True))
    b = minhash_signatures(normalize_text(others).reset_index(drop=True))
    want = ((a[:, None, :] == b[None, :, :]).mean(axis=2) >= threshold).any(axis=1)
    assert got.tolist() == want.tolist()
    assert 0 < want.sum() < len(want)


def test_split_is_the_same_whatever_the_group_block_and_chunk_sizes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Templated prompts with known clusters of both splits (so conflicts occur): tiny band
    groups, verification blocks and pair chunks split every near-duplicate group, and the
    assignments do not change."""
    import feedback_assets.domain.curation.near_duplicates as nd
    from feedback_assets.demo.traffic import generate_stream

    events, _ = generate_stream(4000, seed=6, deployment_id="support-bot")
    prompts = events["prompt"]
    stored = prompts.iloc[:1500:2].drop_duplicates()
    keys = prompt_keys(stored)
    known = pd.DataFrame(
        {
            "prompt_key": keys.to_numpy(),
            "cluster_key": keys.to_numpy(),
            "split": ["eval" if i % 3 == 0 else "train" for i in range(len(stored))],
            "prompt": stored.to_numpy(),
        }
    ).drop_duplicates("prompt_key")
    fresh = prompts.iloc[1500:]
    want = split_prompts(fresh, known)
    monkeypatch.setattr(nd, "SMALL_GROUP", 2)
    monkeypatch.setattr(nd, "BLOCK_BYTES", 256)
    monkeypatch.setattr(nd, "PAIR_CHUNK", 5)
    got = split_prompts(fresh, known)
    pd.testing.assert_frame_equal(got, want)
    assert {"train", "eval", "conflict"} <= set(want["split"])
