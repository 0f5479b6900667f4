import math
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedback_assets.domain.quality.judge import (
    RUBRIC_VERSION,
    build_messages,
    cache_key,
    cohen_kappa,
    human_labels,
    judge_agreement,
    parse_judge_answer,
)


def test_messages_are_versioned_and_fence_the_data():
    msgs = build_messages("What is 2+2?", "4")
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert RUBRIC_VERSION in msgs[0]["content"] and '"score"' in msgs[0]["content"]
    assert "<prompt>\nWhat is 2+2?\n</prompt>" in msgs[1]["content"]
    assert "<response>\n4\n</response>" in msgs[1]["content"]
    assert "<response>\n\n</response>" in build_messages(None, None)[1]["content"]


@pytest.mark.parametrize(
    ("answer", "score", "passed"),
    [
        ('{"score": 4, "pass": true, "reason": "ok"}', 0.75, True),
        ('```json\n{"score": 5, "pass": true, "reason": "great"}\n```', 1.0, True),
        (
            'Sure! Here is my verdict: {"score": 2, "pass": false, "reason": "meh"} Bye.',
            0.25,
            False,
        ),
        ('{"score": 1, "pass": false, "reason": "wrong"}', 0.0, False),
        ('{"score": 1, "pass": true}', 1.0, True),  # 1 with pass=true: the 0-1 scale
        ('{"score": 0.6, "pass": true}', 0.6, True),
        ('{"score": "3/5", "pass": false}', 0.5, False),
        ('{"score": 3, "passed": "yes"}', 0.5, True),
        ('{"score": 5}', 1.0, True),  # pass derived from the score
        ('{"score": 3}', 0.5, False),
        ("Score: 4/5\nPass: yes\nReason: fine", 0.75, True),
        ("**Score:** 2 out of 5", 0.25, False),
        ("score = 8/10", 0.8, True),
    ],
)
def test_parse_forms(answer, score, passed):
    v = parse_judge_answer(answer)
    assert v.status == "ok"
    assert v.score == pytest.approx(score)
    assert v.passed is passed


@pytest.mark.parametrize(
    "answer",
    [
        None,
        "",
        "   ",
        "It looks good to me!",
        '{"score": 9, "pass": true}',
        '{"score": -1}',
        '{"verdict": "good"}',
        "Score: 7/5",
        '{"score": true}',
    ],
)
def test_unparseable(answer):
    v = parse_judge_answer(answer)
    assert v.status == "unparseable" and v.score is None and v.passed is None
    assert v.reason


def test_reason_kept_and_bounded():
    v = parse_judge_answer('{"score": 4, "pass": true, "reason": "' + "x" * 2000 + '"}')
    assert v.reason == "x" * 500


def test_cache_key_changes_with_each_part():
    base = cache_key("p", "r", "v1", "m")
    assert len(base) == 64 and base == cache_key("p", "r", "v1", "m")
    variants = {
        cache_key("p2", "r", "v1", "m"),
        cache_key("p", "r2", "v1", "m"),
        cache_key("p", "r", "v2", "m"),
        cache_key("p", "r", "v1", "m2"),
        cache_key("pr", "", "v1", "m"),
    }
    assert base not in variants and len(variants) == 5
    assert cache_key(None, None, "v", "m") == cache_key("", "", "v", "m")


def test_kappa_known_value():
    # 50 pairs: yes/yes 20, yes/no 5, no/yes 10, no/no 15 -> po 0.7, pe 0.5, kappa 0.4
    a = [True] * 25 + [False] * 25
    b = [True] * 20 + [False] * 5 + [True] * 10 + [False] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert cohen_kappa(a, a) == pytest.approx(1.0)
    assert cohen_kappa(a, [not x for x in a]) == pytest.approx(-1.0)


def test_kappa_undefined_cases():
    assert cohen_kappa([True] * 3, [True] * 3) is None  # too few pairs
    assert cohen_kappa([True] * 20, [True] * 20) is None  # both constant: pe == 1
    assert cohen_kappa([True, None] * 10, [None, True] * 10) is None  # no complete pair
    with pytest.raises(ValueError, match="labels"):
        cohen_kappa([True], [True, False])


@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=10, max_size=60))
def test_kappa_bounded_and_symmetric(pairs):
    a, b = [x for x, _ in pairs], [y for _, y in pairs]
    k = cohen_kappa(a, b)
    assert k == cohen_kappa(b, a) or (k is not None and math.isclose(k, cohen_kappa(b, a)))
    assert k is None or -1.0 - 1e-9 <= k <= 1.0 + 1e-9


def test_human_labels_latest_explicit_thumb_wins():
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    signals = pd.DataFrame(
        {
            "event_id": ["a", "a", "b", "c", "d"],
            "signal_type": ["thumbs_down", "thumbs_up", "thumbs_down", "copy", "thumbs_up"],
            "timestamp": [t0 + timedelta(minutes=m) for m in (5, 1, 0, 0, 0)],
        }
    )
    labels = human_labels(signals)
    assert labels.to_dict() == {"a": False, "b": False, "d": True}


def test_judge_agreement_joins_on_event():
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    ids = [f"e{i}" for i in range(12)]
    human = [i % 3 != 0 for i in range(12)]
    signals = pd.DataFrame(
        {
            "event_id": ids,
            "signal_type": ["thumbs_up" if h else "thumbs_down" for h in human],
            "timestamp": [t0] * 12,
        }
    )
    judged = pd.DataFrame({"event_id": ids + ["x"], "judge_passed": human + [True]})
    out = judge_agreement(judged, signals)
    assert out == {"judge_human_pairs": 12, "judge_human_kappa": pytest.approx(1.0)}
    judged["judge_passed"] = judged["judge_passed"].astype(object)
    judged.loc[0:5, "judge_passed"] = None
    assert judge_agreement(judged, signals)["judge_human_kappa"] is None  # 6 pairs < 10
