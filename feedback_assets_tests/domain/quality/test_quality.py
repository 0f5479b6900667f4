import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedback_assets.domain.quality.quality import (
    CHECKS,
    DEFAULT_REFUSAL_PHRASES,
    QualityConfig,
    apply_judge,
    assess_quality,
    assess_response,
    quality_stats,
    score_batch,
)
from feedback_assets.domain.quality.repetition import repetition_stats
from feedback_assets.domain.records import InferenceEvent

GOOD = "Paris is the capital of France, and it sits on the river Seine."


def check(result: dict, name: str) -> dict:
    return next(c for c in result["checks"] if c["check"] == name)


def filler(n: int, tag: str = "w") -> list[str]:
    return [f"{tag}{i:03d}" for i in range(n)]


# ---- format ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "score"),
    [
        ('{"answer": 42, "items": [1, 2]}', "json", 1.0),
        ('  \n[{"a": 1}, {"b": null}]\n ', "json", 1.0),
        # starts like JSON but does not parse: broken JSON (see the tests further down)
        ("{'answer': 42, 'single': 'quotes'}", "plain", 0.0),
        ('{"answer": 42, "unterminated": [1, 2}', "plain", 0.0),
        ("42 is a number but not a JSON object or array", "plain", 0.7),
        ("Intro text\n```python\nprint('hi')\n```\nDone.", "markdown", 0.9),
        ("Intro text\n```python\nprint('hi')\nno closing fence here", "markdown", 0.5),
        ("# Title\n\nSome paragraph with **bold** words.", "markdown", 0.9),
        ("Steps:\n- first do this\n- then that thing", "markdown", 0.9),
        ("Just a plain sentence that is long enough.", "plain", 0.7),
    ],
)
def test_format_kinds(text, kind, score):
    r = assess_response(text)
    f = check(r, "format")
    assert r["format_kind"] == kind and f["details"]["kind"] == kind
    assert f["score"] == score
    assert f["passed"] is (score >= 0.7)
    assert r["hard_fail"] is (score == 0.0)  # only broken JSON hard-fails here


def test_expected_json_makes_invalid_output_a_hard_fail():
    cfg = QualityConfig(expected_format="json")
    ok = assess_response('{"answer": "a long enough json answer"}', cfg)
    assert ok["hard_fail"] is False and check(ok, "format")["score"] == 1.0
    for bad in ("{answer: 1, not json at all}", '```json\n{"a": 1}\n```', GOOD):
        r = assess_response(bad, cfg)
        assert r["hard_fail"] and "format" in r["hard_fail_reasons"]
        assert check(r, "format")["score"] == 0.0
        assert r["score"] <= cfg.hard_fail_cap and r["passed"] is False


def test_expected_markdown_fails_only_on_unbalanced_fences():
    cfg = QualityConfig(expected_format="markdown")
    assert not assess_response(GOOD, cfg)["hard_fail"]
    r = assess_response("Code:\n```\nx = 1\n" + "more words here " * 3, cfg)
    assert r["hard_fail"] and r["hard_fail_reasons"] == ["format"]


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="expected_format"):
        QualityConfig(expected_format="yaml")
    with pytest.raises(ValueError, match="weights"):
        QualityConfig(weights={"format": 1.0})
    with pytest.raises(ValueError, match="refusal_phrases"):
        QualityConfig(refusal_phrases=("(unclosed",))
    with pytest.raises(ValueError, match="min_length"):
        QualityConfig(min_length=50, max_length=10)


# ---- length ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "score", "short", "long"),
    [
        (0, 0.4, True, False),
        (19, 0.4, True, False),
        (20, 1.0, False, False),
        (4000, 1.0, False, False),
        (4001, 0.4, False, True),
    ],
)
def test_length_bounds(n, score, short, long):
    text = ("abcd " * 1000)[:n]
    c = check(assess_response(text), "length")
    assert c["score"] == score and c["details"]["chars"] == n
    assert c["details"]["too_short"] is short and c["details"]["too_long"] is long


def test_length_counts_characters_not_bytes_and_is_configurable():
    c = check(assess_response("é" * 20), "length")
    assert c["passed"] and c["details"]["chars"] == 20
    cfg = QualityConfig(min_length=5, max_length=10)
    assert check(assess_response("twelve chars", cfg), "length")["details"]["too_long"]
    assert check(assess_response("hello", cfg), "length")["passed"]


# ---- refusal ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "I cannot help with that request.",
        "I CAN'T provide that information, sorry.",
        "I can\u2019t do that for you today.",  # curly apostrophe
        "I\u2019m unable to assist with this.",
        "I apologize, but that is not something I do.",
        "As an AI language model, I have no opinions.",
        "I don't have the ability to browse the internet.",
        "I'm sorry, but I won't write that.",
        "Unfortunately I must decline this one.",
        "This request violates my guidelines, so no.",
    ],
)
def test_refusals_detected(text):
    r = assess_response(text)
    c = check(r, "refusal")
    assert c["score"] == 0.0 and not c["passed"] and c["details"]["matched"]
    assert r["hard_fail"] and "refusal" in r["hard_fail_reasons"]
    assert r["score"] <= 0.3


@pytest.mark.parametrize(
    "text",
    [GOOD, "I can help with that: here are the steps.", "Cannotbe is not a word, AIs are."],
)
def test_non_refusals_pass(text):
    assert check(assess_response(text), "refusal")["passed"]


def test_custom_refusal_bank():
    cfg = QualityConfig(refusal_phrases=(r"\bnicht m\u00f6glich\b",))
    assert not check(
        assess_response("Das ist leider NICHT m\u00f6glich, tut mir leid.", cfg), "refusal"
    )["passed"]
    assert check(assess_response("I cannot stress this enough: it works.", cfg), "refusal")[
        "passed"
    ]
    assert len(DEFAULT_REFUSAL_PHRASES) > 4


# ---- repetition ------------------------------------------------------------------------------


def _rep(text: str, cfg: QualityConfig = QualityConfig()) -> dict:
    return check(assess_response(text, cfg), "repetition")


@pytest.mark.parametrize("period", [2, 3, 4])
def test_loops_of_each_ngram_size(period):
    loop = " ".join(filler(period, "loop") * 25)
    c = _rep(loop)
    d = c["details"]
    assert not c["passed"] and c["score"] <= 0.4
    assert d["trigram_unique_ratio"] < 0.1
    assert d[f"top_{period}gram_share"] > QualityConfig().ngram_limits[period]
    assert d["ngram_limit_exceeded"]


def _with_repeated(gram: list[str], times: int, n_filler: int) -> str:
    words = filler(n_filler)
    step = n_filler // times
    out: list[str] = []
    for i in range(times):
        out += words[i * step : (i + 1) * step] + gram
    return " ".join(out + words[times * step :])


def test_each_gopher_limit_trips_on_its_own():
    cfg = QualityConfig()
    # a repeated long bigram: only the 2-gram share is over its limit
    t2 = _with_repeated(["a" * 14, "b" * 14], 6, 120)
    s2 = repetition_stats(t2)
    assert s2["top_2gram_share"] > 0.20 and s2["top_3gram_share"] == 0.0
    # a repeated 4-gram of equal words: 4-gram share over 0.16, 2/3-gram shares under theirs
    t4 = _with_repeated(["c" * 8, "d" * 8, "e" * 8, "f" * 8], 6, 150)
    s4 = repetition_stats(t4)
    assert s4["top_4gram_share"] > 0.16
    assert s4["top_2gram_share"] <= 0.20 and s4["top_3gram_share"] <= 0.18
    t3 = _with_repeated(["g" * 10, "h" * 10, "i" * 10], 6, 150)
    s3 = repetition_stats(t3)
    assert s3["top_3gram_share"] > 0.18 and s3["top_2gram_share"] <= 0.20
    for t in (t2, t3, t4):
        c = _rep(t, cfg)
        assert c["details"]["ngram_limit_exceeded"] and not c["passed"] and c["score"] == 0.4
        assert c["details"]["trigram_unique_ratio"] > 0.9  # the original ratio misses these


def test_gopher_limits_skip_short_answers():
    text = "The answer is 42. The answer is correct."
    c = _rep(text)
    assert c["details"]["top_2gram_share"] > 0.2  # would trip on a document
    assert c["passed"] and c["score"] == 1.0 and not c["details"]["ngram_limit_exceeded"]


def test_trigram_ratio_not_applicable_below_ten_words():
    c = _rep("one two one two one two")
    assert c["details"]["trigram_applicable"] is False
    assert c["details"]["trigram_unique_ratio"] == 0.5
    assert c["score"] == 1.0 and c["passed"]
    assert _rep("hi")["details"]["trigram_unique_ratio"] is None


def test_duplicated_lines():
    text = "\n".join(["Step one: open the file."] * 3 + ["Step two: save it.", "  "])
    c = _rep(text)
    assert c["details"]["lines"] == 4 and c["details"]["dup_line_share"] == 0.5
    assert c["details"]["dup_lines_exceeded"] and c["score"] == 0.4 and not c["passed"]


# ---- edge cases ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "   \n\t  "])
def test_empty_and_missing_are_hard_fails(value):
    r = assess_response(value)
    assert r["hard_fail"] and "empty" in r["hard_fail_reasons"]
    assert r["score"] <= 0.3 and not r["passed"]
    assert r["input_error"] == ("missing" if value is None else None)


def test_non_ascii_text():
    text = "東京は日本の首都です。 Ελληνικά κείμενα εδώ. مرحبا بالعالم 🚀🚀 Ünïcödé wörds here."
    r = assess_response(text)
    assert check(r, "length")["details"]["chars"] == len(text)
    assert r["passed"] and not r["hard_fail"]
    b = score_batch([text])
    assert b["score"][0] == r["score"]


def test_huge_text_scored_by_both_paths():
    rng = np.random.default_rng(1)
    words = np.array([f"tok{i}" for i in range(5000)])
    text = " ".join(words[rng.integers(0, 5000, 180_000)])[:1_000_000]
    r = assess_response(text)
    assert check(r, "length")["details"]["too_long"]
    b = score_batch([text, GOOD])
    assert b["score"][0] == r["score"]
    assert json.loads(b["details"][0])["repetition"] == check(r, "repetition")["details"]


def test_facade_accepts_event_and_mapping():
    from datetime import UTC, datetime

    ev = InferenceEvent("e1", "dep", "q?", GOOD, datetime.now(UTC))
    assert assess_quality(ev)["score"] == assess_quality({"response": GOOD})["score"]


# ---- batch -----------------------------------------------------------------------------------


def _assert_same(texts: list, cfg: QualityConfig = QualityConfig(), chunk_rows: int = 50_000):
    batch = score_batch(texts, cfg, chunk_rows=chunk_rows)
    assert len(batch) == len(texts)
    for i, text in enumerate(texts):
        r = assess_response(text, cfg)
        row = batch.iloc[i]
        d = json.loads(row["details"])
        assert row["score"] == r["score"], text
        assert bool(row["passed"]) == r["passed"] and bool(row["hard_fail"]) == r["hard_fail"]
        assert row["format_kind"] == r["format_kind"]
        assert d["hard_fail_reasons"] == r["hard_fail_reasons"]
        assert d["input_error"] == r["input_error"]
        for c in r["checks"]:
            assert row[f"{c['check']}_score"] == c["score"], (text, c)
            assert bool(row[f"{c['check']}_passed"]) == c["passed"]
            assert d[c["check"]] == c["details"], (text, c["check"])


def test_batch_columns_index_and_inputs():
    s = pd.Series([GOOD, None, "I can't do that."], index=[10, 5, 7])
    out = score_batch(s)
    assert list(out.index) == [10, 5, 7]
    expected = {"score", "passed", "hard_fail", "format_kind", "details"}
    expected |= {f"{c}_{k}" for c in CHECKS for k in ("score", "passed")}
    assert expected <= set(out.columns)
    assert out["hard_fail"].tolist() == [False, True, True]
    arrow = score_batch(pa.array([GOOD, None]))
    assert arrow["score"].tolist() == out["score"].tolist()[:2]


def test_batch_bad_values_become_rows_not_crashes():
    out = score_batch([GOOD, 12, "bad \ud800 surrogate text here ok", float("nan")])
    d = [json.loads(x) for x in out["details"]]
    assert d[1]["input_error"] == "response is int, expected str" and out["hard_fail"][1]
    assert d[2]["input_error"] is None and not out["hard_fail"][2]
    assert d[3]["input_error"] == "missing"
    _assert_same([GOOD, 12, "bad \ud800 surrogate text here ok", None])


def test_empty_batch():
    out = score_batch([])
    assert len(out) == 0 and "score" in out.columns


def test_batch_agrees_on_crafted_texts_and_chunking():
    texts = [
        GOOD,
        None,
        "",
        '{"a": 1}',
        "```x",
        "I'm sorry, but I can't.",
        "é" * 25,
        " ".join(filler(3, "l") * 30),
        "\n".join(["same line"] * 4),
        _with_repeated(["a" * 12, "b" * 12], 6, 120),
        "# H\n\n- a\n- b\n\n`code`",
    ]
    _assert_same(texts)
    _assert_same(texts, QualityConfig(expected_format="json", min_length=2), chunk_rows=3)


_TOKENS = st.sampled_from(
    [
        "the",
        "cat",
        "sat",
        "I",
        "can't",
        "cannot",
        "As",
        "an",
        "AI",
        "```",
        "{",
        "}",
        "[",
        "]",
        '"a":',
        "1,",
        "#",
        "-",
        "**b**",
        "é",
        "東京",
        "🚀",
        "I\u2019m",
        "unable",
        "to",
        "\u00a0",
        "apologize,",
        "but",
        "x" * 30,
    ]
)
_SEPS = st.sampled_from([" ", " ", " ", "\n", "\t", "  ", "\r\n", "\u2003"])


@st.composite
def texts(draw):
    if draw(st.booleans()):
        return draw(st.one_of(st.none(), st.text(max_size=80)))
    parts = draw(st.lists(st.tuples(_TOKENS, _SEPS), max_size=60))
    return "".join(t + s for t, s in parts)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(texts(), min_size=1, max_size=8),
    st.sampled_from([None, "json", "markdown"]),
    st.booleans(),
)
def test_scalar_and_batch_agree(batch, expected, extended):
    cfg = QualityConfig(expected_format=expected, gopher_min_words=12, extended_repetition=extended)
    _assert_same(batch, cfg)


def test_basic_repetition_mode_skips_gopher_and_lines():
    cfg = QualityConfig(extended_repetition=False)
    t = _with_repeated(["a" * 14, "b" * 14], 6, 120)
    c = _rep(t, cfg)
    assert c["details"]["top_2gram_share"] is None and c["details"]["lines"] is None
    assert c["passed"] and not c["details"]["ngram_limit_exceeded"]
    loop = " ".join(filler(3, "loop") * 25)
    assert not _rep(loop, cfg)["passed"]  # the trigram ratio still catches loops
    _assert_same([t, loop, "", None, GOOD], cfg)


# ---- judge merge and stats -------------------------------------------------------------------


def test_apply_judge_only_where_present():
    scored = score_batch(pd.Series([GOOD, GOOD, "I cannot do it."], index=["a", "b", "c"]))
    judge = pd.Series([np.nan, 0.0, 1.0], index=["a", "b", "c"]).iloc[::-1]
    out = apply_judge(scored, judge)
    assert out.loc["a", "score"] == scored.loc["a", "score"] and math.isnan(
        out.loc["a", "judge_score"]
    )
    w = QualityConfig().weights
    heur = sum(w[c] for c in CHECKS)
    assert out.loc["b", "score"] == pytest.approx(
        scored.loc["b", "score"] * heur / (heur + w["judge"])
    )
    assert out.loc["c", "score"] <= 0.3  # a perfect judge cannot lift a hard fail
    with pytest.raises(ValueError, match="judge_score"):
        apply_judge(scored, pd.Series([5.0, 0, 0], index=["a", "b", "c"]))


def test_quality_stats():
    assert quality_stats(score_batch([])) == {"n": 0, "status": "no data"}
    scored = score_batch([GOOD, GOOD, "I can't.", '{"k": "a json answer"}'])
    st_ = quality_stats(scored)
    assert st_["n"] == 4 and st_["status"] == "ok"
    assert st_["pass_rates"]["refusal"] == 0.75 and st_["hard_fail_rate"] == 0.25
    assert st_["p10"] <= st_["p50"] <= st_["p90"] and st_["format_kinds"]["json"] == 1
    merged = apply_judge(scored, pd.Series([0.5, np.nan, np.nan, np.nan]))
    assert quality_stats(merged)["judge_coverage"] == 0.25


# ---- broken JSON and empty answers ------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '{"answer": "the refund was issued on Mon',
        '  \n[{"id": 1}, {"id": 2',
        '["alpha", "beta"',
        "[1, 2, 3",
        '{"a": 1}} trailing',
        "[true, false, nul",
        "{'answer': 42}",
    ],
)
@pytest.mark.parametrize("expected", [None, "markdown"])
def test_output_that_starts_like_json_but_does_not_parse_fails_format(text, expected):
    cfg = QualityConfig(expected_format=expected)
    r = assess_response(text, cfg)
    fmt = next(c for c in r["checks"] if c["check"] == "format")
    assert fmt["details"]["broken_json"] and fmt["score"] == 0.0 and not fmt["passed"]
    assert "format" in r["hard_fail_reasons"] and not r["passed"]
    assert r["score"] <= cfg.hard_fail_cap
    _assert_same([text, GOOD], cfg)


@pytest.mark.parametrize(
    "text",
    [
        "[1] Smith et al. showed that the effect holds for every cohort in the study.",
        "[the docs](https://example.com/docs) explain how to rotate the key safely.",
        "{name} is a placeholder the template fills in before the email is sent out.",
        '{"ok": true, "items": [1, 2, 3]}',
    ],
)
def test_prose_with_brackets_and_valid_json_are_not_broken_json(text):
    r = assess_response(text)
    fmt = next(c for c in r["checks"] if c["check"] == "format")
    assert not fmt["details"]["broken_json"] and fmt["passed"]
    assert "format" not in r["hard_fail_reasons"]
    _assert_same([text])


@pytest.mark.parametrize("value", ["", " ", "\n\t  \r\n", "\u2003\u00a0", None, 12])
def test_empty_answers_score_zero_and_are_counted(value):
    r = assess_response(value)
    gate = next(c for c in r["checks"] if c["check"] == "empty")
    assert r["score"] == 0.0 and gate["score"] == 0.0 and not gate["passed"]
    assert "empty" in r["hard_fail_reasons"]
    scored = score_batch([value, GOOD, value])
    assert scored["score"].tolist()[0] == 0.0 and scored["score"].tolist()[2] == 0.0
    assert quality_stats(scored)["empty"] == 2
    # a perfect judge cannot lift an empty answer above 0
    judged = apply_judge(scored, pd.Series([1.0, 1.0, np.nan]))
    assert judged["score"].tolist()[0] == 0.0 and judged["score"].tolist()[1] > 0.9
    _assert_same([value, GOOD])


def test_a_non_empty_answer_passes_the_empty_gate():
    gate = next(c for c in assess_response("ok")["checks"] if c["check"] == "empty")
    assert gate == {"check": "empty", "score": 1.0, "passed": True, "details": {}}
    assert quality_stats(score_batch([GOOD]))["empty"] == 0
