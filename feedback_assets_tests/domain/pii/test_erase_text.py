"""Erasure in drift explanations: the user's quoted prompts and words go, the numbers stay."""

from feedback_assets.domain.pii.erase_text import (
    example_keys,
    scrub_details,
    scrub_reason,
    text_tokens,
)

PROMPTS = ["Where is the Quillfeather ledger?\nsecond line", "hello there"]


def test_examples_and_terms_of_the_user_are_removed_from_details() -> None:
    examples, tokens = example_keys(PROMPTS), text_tokens(PROMPTS)
    assert "Where is the Quillfeather ledger?" in examples and "quillfeather" in tokens
    details = {
        "novel_share": 0.4,
        "examples": ["Where is the Quillfeather ledger?", "another user's prompt"],
        "novel_terms": [{"term": "quillfeather", "z": 3.1}, {"term": "refund", "z": 2.0}],
        "top_terms": {"current": [{"term": "ledger", "z": 1.0}], "reference": []},
    }
    out = scrub_details(details, examples, tokens)
    assert out["novel_share"] == 0.4
    assert out["examples"] == ["another user's prompt"]
    assert out["novel_terms"] == [{"term": "refund", "z": 2.0}]
    assert out["top_terms"] == {"current": [], "reference": []}


def test_reasons_lose_quotes_and_terms_of_the_user() -> None:
    examples, tokens = example_keys(PROMPTS), text_tokens(PROMPTS)
    quoted = "prompt_text: novelty p=0.001, 40% novel (expected 2%), e.g. " + " | ".join(
        repr(e[:80]) for e in ["Where is the Quillfeather ledger?", "other"]
    )
    assert scrub_reason(quoted, examples, tokens).endswith(", e.g. [erased]")
    terms = "embedding: MMD p=0.01, more of: refund, quillfeather, invoice"
    assert (
        scrub_reason(terms, examples, tokens) == "embedding: MMD p=0.01, more of: refund, invoice"
    )
    plain = "latency_ms: KS p=0.2, mean 10 -> 12"
    assert scrub_reason(plain, examples, tokens) == plain
