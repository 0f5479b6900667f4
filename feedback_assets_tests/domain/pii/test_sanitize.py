import contextlib
import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedback_assets.domain.pii import sanitize as sanitize_mod
from feedback_assets.domain.pii import sanitize_json as sanitize_json_mod
from feedback_assets.domain.pii.pii_patterns import card_ok, cards_ok, luhn_ok
from feedback_assets.domain.pii.sanitize import (
    ENTITY_TYPES,
    PiiPattern,
    hash_user_id,
    hash_user_ids,
    parse_custom_patterns,
    sanitize_column,
    sanitize_text,
    sanitize_value,
    scan_pii,
)
from feedback_assets.domain.pii.sanitize_json import sanitize_json_column

PII_CASES = [
    # EMAIL
    ("mail jane.doe@example.com today", "EMAIL"),
    ("write to jane+news@mail.example.co.uk.", "EMAIL"),
    ("cc: A_B-c%d@sub-domain.example.io,", "EMAIL"),
    # PHONE
    ("call (415) 555-0134 now", "PHONE"),
    ("call 415-555-0134", "PHONE"),
    ("call 415.555.0134", "PHONE"),
    ("call 415 555 0134", "PHONE"),
    ("call +1 415 555 0134", "PHONE"),
    ("call 1-800-555-0199", "PHONE"),
    ("ring +44 20 7946 0958", "PHONE"),
    ("ring 020 7946 0958", "PHONE"),
    ("ring (020) 7946 0958", "PHONE"),
    ("mobile 07911 123456", "PHONE"),
    ("paris +33 1 23 45 67 89", "PHONE"),
    ("e164 +14155550134 ok", "PHONE"),
    ("call 638-924-1730x713 now", "PHONE"),
    ("call 690.531.7486x562", "PHONE"),
    ("desk (415) 555-0134 ext. 12", "PHONE"),
    ("ring 01 23 45 67 89", "PHONE"),
    ("ring 030/12345678", "PHONE"),
    ("ring 0049 30 12345678", "PHONE"),
    ("cell (11) 98765-4321", "PHONE"),
    ("cell 98765 43210", "PHONE"),
    ("tel +44 (0)20 7946 0958", "PHONE"),
    # SSN
    ("ssn 123-45-6789", "SSN"),
    ("ssn 078 05 1120", "SSN"),
    # CREDIT_CARD (test numbers of each network, several layouts)
    ("visa 4111 1111 1111 1111", "CREDIT_CARD"),
    ("visa 4111-1111-1111-1111", "CREDIT_CARD"),
    ("visa 4111111111111111", "CREDIT_CARD"),
    ("visa13 4222222222222", "CREDIT_CARD"),
    ("mc 5555 5555 5555 4444", "CREDIT_CARD"),
    ("mc2 2223003122003222", "CREDIT_CARD"),
    ("amex 3782 822463 10005", "CREDIT_CARD"),
    ("amex 378282246310005", "CREDIT_CARD"),
    ("discover 6011-1111-1111-1117", "CREDIT_CARD"),
    # IBAN
    ("iban DE89 3704 0044 0532 0130 00", "IBAN"),
    ("iban GB82WEST12345698765432", "IBAN"),
    ("iban FR14 2004 1010 0505 0001 3M02 606", "IBAN"),
    # IP
    ("server 10.2.3.44", "IP"),
    ("from 255.255.255.0.", "IP"),
    ("host 1.13.27.1 (dotted quad: treated as an address)", "IP"),
    # SECRET
    ("key sk-abcdefghijklmnopqrstuvwxyz012345", "SECRET"),
    ("key sk-proj-AbC_dEf-123456789012345678901234", "SECRET"),
    ("aws AKIAIOSFODNN7EXAMPLE", "SECRET"),
    ("gh ghp_" + "A1b2" * 9, "SECRET"),
    ("gh gho_" + "z" * 36, "SECRET"),
    ("gh github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "SECRET"),
    ("slack xoxb-123456789012-abcdefABCDEF", "SECRET"),
    ("Authorization: Bearer eyJhbGciOi.eyJzdWIi.sig-_+/=", "SECRET"),
    (
        "pem -----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\nabc+/=\n"
        "-----END RSA PRIVATE KEY----- after",
        "SECRET",
    ),
    ("open -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg truncated", "SECRET"),
]

LOOKALIKES = [
    "order 1234567890",
    "order 1234567890123456",
    "ts 1732924800123",
    "epoch 1732924800",
    "date 2026-11-30",
    "date 30/11/2026",
    "date 30.11.2026",
    "time 12:30:45",
    "price $1,299.99",
    "price 1299.99 EUR",
    "version v2.13.27",
    "version v1.2.3.4",
    "version 1.2.3.4.5",
    "version v1.2.3.4.5",
    "release 1.2.3.4-rc1",
    "uuid 550e8400-e29b-41d4-a716-446655440000",
    "uuid 12345678-1234-5678-1234-567812345678",
    "sha da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "short sha 4b825dc",
    "ip-ish 256.1.1.1",
    "dotted x.10.0.0.1 y",
    "invalid luhn 4111 1111 1111 1112",
    "no network 1234 5678 9012 3452",
    "bad iban DE00 3704 0044 0532 0130 00",
    "ssn-ish 000-12-3456 666-12-3456",
    "math 3 - 4 + 5",
    "score +1.5 2.5",
    "ask-me-anything-about-this-product-please",
    "email-ish user@localhost",
    "bearer of good news",
]


def both(text: str, custom=()) -> tuple[str, dict[str, int]]:
    """Run both paths; assert they agree; return the scalar result."""
    scalar, counts = sanitize_text(text, custom)
    column, col_counts = sanitize_column([text], custom)
    assert column.to_pylist() == [scalar]
    assert {k: v for k, v in col_counts.items() if v} == dict(counts)
    return scalar, dict(counts)


@pytest.mark.parametrize(("text", "entity"), PII_CASES)
def test_each_pii_type_is_redacted(text: str, entity: str) -> None:
    out, counts = both(text)
    assert f"[{entity}]" in out
    assert counts == {entity: 1}
    assert out.split(" ", 1)[0] == text.split(" ", 1)[0]  # the label word stays


@pytest.mark.parametrize("text", LOOKALIKES)
def test_lookalikes_untouched(text: str) -> None:
    assert both(text) == (text, {})


def test_seed_bug_card_is_not_a_phone() -> None:
    out, counts = both("4111111111111111")
    assert out == "[CREDIT_CARD]"
    assert counts == {"CREDIT_CARD": 1}


@pytest.mark.parametrize(
    ("text", "entity", "digits"),
    [
        ("010 00000000 40022122 00012244", "CREDIT_CARD", "4002"),
        ("ref 0000-0000-4002-2122-0001-2244 ok", "CREDIT_CARD", "4002"),
        ("iban AD00 DE89 3704 0044 0532 0130 00 thanks", "IBAN", "3704"),
        ("DE89 3704 0044 0532 0130 00 GB82 WEST 1234 5698 7654 32", "IBAN", "5698"),
    ],
)
def test_a_card_or_iban_next_to_failing_groups_is_not_hidden(
    text: str, entity: str, digits: str
) -> None:
    # The first candidate fails (or swallows the next one); the PII starts inside it.
    for scalar_rows in (sanitize_mod.SCALAR_ROWS, -1):
        with _patched(sanitize_mod, "SCALAR_ROWS", scalar_rows):
            out, counts = both(text)
            assert f"[{entity}]" in out and digits not in out
            assert sum(scan_pii([out]).values()) == 0


def test_order_matters_and_counts_are_per_type() -> None:
    text = (
        "card 4111 1111 1111 1111, ssn 123-45-6789, mail a@b.io, phone 415-555-0134, "
        "ip 10.0.0.1, again a@b.io, key sk-abcdefghijklmnopqrstuvwxyz"
    )
    out, counts = both(text)
    assert out == (
        "card [CREDIT_CARD], ssn [SSN], mail [EMAIL], phone [PHONE], ip [IP], "
        "again [EMAIL], key [SECRET]"
    )
    assert counts == {"CREDIT_CARD": 1, "SSN": 1, "EMAIL": 2, "PHONE": 1, "IP": 1, "SECRET": 1}


def test_iban_swallowed_trailing_word_keeps_the_word() -> None:
    assert both("pay GB82WEST12345698765432 CASH now") == (
        "pay [IBAN] CASH now",
        {"IBAN": 1},
    )


def test_ip_rules() -> None:
    assert both("a 10.0.0.1-rc1 b")[0] == "a 10.0.0.1-rc1 b"
    assert both("range 10.0.0.1-10.0.0.9")[0] == "range [IP]-[IP]"
    assert both("x.10.0.0.1 y")[0] == "x.10.0.0.1 y"


def test_luhn_scalar_and_vectorized_agree() -> None:
    rng = np.random.default_rng(7)
    cands = ["4111 1111 1111 1111", "3782 822463 10005", "4222222222222"]
    for _ in range(3000):
        n = int(rng.integers(13, 20))
        cands.append("".join(map(str, rng.integers(0, 10, size=n))))
        cands[-1] = str(rng.choice(["4", "5", "37", "6011", "62"])) + cands[-1][2:]
    vec = cards_ok(pl.Series(cands))
    assert vec.tolist() == [card_ok(c) for c in cands]
    assert vec.sum() > 50  # the random set does include valid numbers
    assert luhn_ok("79927398713") and not luhn_ok("79927398710")


def test_custom_patterns_from_json_and_list() -> None:
    spec = json.dumps([{"name": "EMPLOYEE_ID", "regex": r"\bEMP-\d{6}\b"}])
    custom = parse_custom_patterns(spec)
    assert custom == (PiiPattern("EMPLOYEE_ID", r"\bEMP-\d{6}\b"),)
    assert parse_custom_patterns(None) == () == parse_custom_patterns("  ")
    out, counts = both("ask EMP-123456 or EMP-654321, not EMP-1234567 (a@b.io)", custom)
    assert out == "ask [EMPLOYEE_ID] or [EMPLOYEE_ID], not EMP-1234567 ([EMAIL])"
    assert counts == {"EMPLOYEE_ID": 2, "EMAIL": 1}
    cols = sanitize_column(["x"], custom)[1]
    assert set(cols) == {*ENTITY_TYPES, "EMPLOYEE_ID"}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ([{"name": "BAD_RX", "regex": "(unclosed"}], "BAD_RX: invalid regex"),
        ([{"name": "LOOK", "regex": r"(?<=x)y"}], "LOOK: regex not supported"),
        ([{"name": "EMPTY", "regex": r"x*"}], "EMPTY: regex matches the empty string"),
        ([{"name": "lower", "regex": "x"}], "name 'lower'"),
        ([{"name": "ID2", "regex": "x"}], "name 'ID2'"),
        ([{"name": "END", "regex": r"x[$]y|z$"}], "END: `$` matches differently"),
        ([{"name": "EMAIL", "regex": "x"}], "EMAIL: name already in use"),
        ([{"name": "A", "regex": "x"}, {"name": "A", "regex": "y"}], "A: name already"),
        ([{"regex": "x"}], "#0: expected an object"),
        ("{not json", "invalid JSON"),
    ],
)
def test_custom_pattern_errors_name_the_pattern(spec, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_custom_patterns(spec)


def test_sanitize_value_recurses_and_leaves_keys_and_non_strings() -> None:
    meta = {
        "user@example.com": "contact user@example.com",
        "nested": {"list": ["415-555-0134", 4111111111111111, None, True, 1.5]},
        "tuple": ("10.0.0.1",),
        "n": 1732924800123,
    }
    out, counts = sanitize_value(meta)
    assert out == {
        "user@example.com": "contact [EMAIL]",
        "nested": {"list": ["[PHONE]", 4111111111111111, None, True, 1.5]},
        "tuple": ("[IP]",),
        "n": 1732924800123,
    }
    assert counts == {"EMAIL": 1, "PHONE": 1, "IP": 1}
    assert meta["nested"]["list"][0] == "415-555-0134"  # input not mutated


def test_json_column() -> None:
    rows = [
        '{"note": "mail a@b.io", "a@b.io": 1, "deep": {"x": ["card 4111111111111111"]}}',
        '{"plain": "nothing here", "ts": 1732924800123, "card_as_number": 4111111111111111}',
        '{"esc": "line\\n4111 1111 1111 1111\\u0040x"}',
        '{"u": "caf\\u00e9"}',
        "not json but a@b.io",
        None,
    ]
    out, counts = sanitize_json_column(rows)
    got = out.to_pylist()
    assert json.loads(got[0]) == {
        "note": "mail [EMAIL]",
        "a@b.io": 1,
        "deep": {"x": ["card [CREDIT_CARD]"]},
    }
    assert got[1] == rows[1] and got[3] == rows[3]  # untouched rows stay byte-identical
    assert json.loads(got[2]) == {"esc": "line\n[CREDIT_CARD]@x"}
    assert got[4] == "not json but [EMAIL]"
    assert got[5] is None
    assert {k: v for k, v in counts.items() if v} == {"EMAIL": 2, "CREDIT_CARD": 2}


def test_json_column_with_anchored_custom_pattern() -> None:
    custom = parse_custom_patterns([{"name": "WHOLE", "regex": r"^EMP-[0-9]+\b"}])
    assert parse_custom_patterns([{"name": "PRICE", "regex": r"[$][0-9]+\$"}])
    out, counts = sanitize_json_column(['{"id": "EMP-42", "other": "x EMP-43"}'], custom)
    assert json.loads(out[0].as_py()) == {"id": "[WHOLE]", "other": "x EMP-43"}
    assert counts["WHOLE"] == 1


@pytest.mark.parametrize(
    "values",
    [
        pa.array(["a@b.io", None, "x"]),
        pa.chunked_array([["a@b.io"], [None, "x"]], type=pa.large_string()),
        pd.Series(["a@b.io", None, "x"]),
        pd.Series(["a@b.io", np.nan, "x"], dtype=object),
        pl.Series(["a@b.io", None, "x"]),
        ["a@b.io", None, "x"],
    ],
)
def test_column_input_types_and_nulls(values) -> None:
    out, counts = sanitize_column(values)
    assert out.to_pylist() == ["[EMAIL]", None, "x"]
    assert counts["EMAIL"] == 1 and counts["PHONE"] == 0
    assert scan_pii(values)["EMAIL"] == 1


def test_column_bad_input_names_the_row() -> None:
    with pytest.raises(TypeError, match="row 1 is int"):
        sanitize_column(["ok", 5, None])
    with pytest.raises(TypeError, match="Arrow type int64"):
        sanitize_column(pa.array([1, 2]))
    assert sanitize_column(pa.nulls(2))[0].to_pylist() == [None, None]
    assert sanitize_column([])[0].to_pylist() == []


def test_chunked_processing_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [
        f"row {i} mail u{i}@x.io card 4111 1111 1111 1111 ts 17329248{i:05d}" for i in range(25)
    ]
    monkeypatch.setattr(sanitize_mod, "CHUNK_ROWS", 4)
    out, counts = sanitize_column(texts)
    assert out.to_pylist() == [sanitize_text(t)[0] for t in texts]
    assert counts["EMAIL"] == 25 and counts["CREDIT_CARD"] == 25


def test_scan_pii_finds_nothing_after_sanitizing() -> None:
    texts = [t for t, _ in PII_CASES] + LOOKALIKES
    raw = scan_pii(texts)
    assert raw["PHONE"] == sum(e == "PHONE" for _, e in PII_CASES)
    clean, _ = sanitize_column(texts)
    assert sum(scan_pii(clean).values()) == 0


def test_hmac_user_ids() -> None:
    k1, k2 = b"secret-one", b"secret-two"
    h = hash_user_id("alice", k1)
    assert h == hmac.new(k1, b"alice", hashlib.sha256).hexdigest()
    assert len(h) == 64 and h == hash_user_id("alice", k1)
    assert h != hash_user_id("alice", k2)
    assert h != hashlib.sha256(b"alice").hexdigest()
    ids = pd.Series(["alice", None, "bob", "alice", np.nan])
    out = hash_user_ids(ids, k1)
    assert out.tolist() == [h, None, hash_user_id("bob", k1), h, None]
    assert hash_user_ids(ids, k2)[0] != out[0]
    with pytest.raises(ValueError, match="FEEDBACK_HASH_KEY"):
        hash_user_id("alice", b"")


# --- property: scalar and vectorized paths agree ------------------------------------------

_FRAGMENTS = [t for t, _ in PII_CASES] + LOOKALIKES + ["GB82WEST12345698765432 CASH", "[EMAIL]"]
_FRAGMENTS += ["v", ".", "-", "+", "(", ")", "10.0.0.1", "4111111111111111"]


def _luhn_complete(body: str) -> str:
    for d in "0123456789":
        if luhn_ok(body + d):
            return body + d
    raise AssertionError


_cards = st.builds(
    lambda p, rest, sep: sep.join(re.findall(".{1,4}", _luhn_complete(p + rest[: 15 - len(p)]))),
    st.sampled_from(["4", "51", "2221", "6011", "35", "62"]),
    st.text("0123456789", min_size=15, max_size=15),
    st.sampled_from(["", " ", "-"]),
)
_noise = st.text(
    alphabet=st.sampled_from(list("0123456789 -.+()@_/:\nabcXYZé\u00a0٣")), max_size=20
)
_piece = st.one_of(st.sampled_from(_FRAGMENTS), _cards, _noise, st.text(max_size=8))
_texts = st.lists(st.lists(_piece, max_size=6).map("".join), min_size=1, max_size=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_texts)
def test_property_scalar_equals_vectorized(texts: list[str]) -> None:
    scalar = [sanitize_text(t) for t in texts]
    total: dict[str, int] = {}
    for _, c in scalar:
        for k, v in c.items():
            total[k] = total.get(k, 0) + v
    # Few touched rows are redacted one by one; -1 forces the vector stages on any batch.
    for scalar_rows in (sanitize_mod.SCALAR_ROWS, -1):
        with _patched(sanitize_mod, "SCALAR_ROWS", scalar_rows):
            out, counts = sanitize_column(texts)
            assert out.to_pylist() == [s for s, _ in scalar]
            assert {k: v for k, v in counts.items() if v} == total
            assert sum(scan_pii(out).values()) == 0  # a second pass finds nothing left


@contextlib.contextmanager
def _patched(module: Any, name: str, value: Any) -> Iterator[None]:
    """Hypothesis tests cannot take the function-scoped monkeypatch fixture."""
    saved = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, saved)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=5), _piece, max_size=4), min_size=1, max_size=6))
def test_property_json_column_equals_sanitize_value(docs: list[dict[str, str]]) -> None:
    raw = [json.dumps(d, ensure_ascii=bool(i % 2)) for i, d in enumerate(docs * 2)]
    expected = [sanitize_value(d) for d in docs * 2]
    total: dict[str, int] = {}
    for _, c in expected:
        for k, v in c.items():
            total[k] = total.get(k, 0) + v
    # Per distinct value (repeats, counted per row) and the vectorized pass.
    for few in (sanitize_json_mod.FEW_DISTINCT, 0):
        with _patched(sanitize_json_mod, "FEW_DISTINCT", few):
            out, counts = sanitize_json_column(raw)
            assert [json.loads(o) for o in out.to_pylist()] == [d for d, _ in expected]
            assert {k: v for k, v in counts.items() if v} == total
