"""Phones in real-world formats (six regions, extensions), validated by libphonenumber, and the
look-alikes that must survive. Faker builds the locale samples (bench.pii_corpus)."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.pii_corpus import LOCALES, lookalike_samples, phone_strings
from feedback_assets.domain.pii.pii_phones import phone_ok, phone_prefix_len
from feedback_assets.domain.pii.sanitize import sanitize_column, sanitize_text

PHONES = [
    # US: extensions (the held-out leaks), national, international
    "638-924-1730x713",
    "690.531.7486x562",
    "(415) 555-0134 ext. 12",
    "415-555-0134 ext 7",
    "+1-537-640-6812x41586",
    "001-515-375-7869x92618",
    "(212)774-1524x40726",
    "+1 415-555-0134",
    # UK
    "020 7946 0958",
    "07911 123456",
    "+44 (0)20 7946 0958",
    "+44(0)2074960074",
    "(0161) 496 0000",
    # DE
    "030 12345678",
    "030/12345678",
    "0151 23456789",
    "+49 30 12345678",
    "+49 (0) 9141 777631",
    "0049 30 12345678",
    "0180 5 169938",  # service numbers: a single-digit group (the seed-11 leaks)
    "0180/4 798615",
    "0180-5 169938",
    "0900 3 747763",
    "+49 180 5 169938",
    "+49 (0)180 6 77268",
    "0049 180 5 169938",
    "05490 267",  # 8 digits, as the number is grouped: area code, subscriber
    "(05490) 267",
    "05490/267",
    "(00497) 93742",  # `00` + country code where the area code goes
    # FR
    "01 23 45 67 89",
    "06.12.34.56.78",
    "+33 1 23 45 67 89",
    "+33 (0)6 12 34 56 78",
    "0 800 40 51 90",  # 08 service numbers, libphonenumber's grouping
    "0.808.90.09.60",
    # IN
    "98765 43210",
    "+91 98765 43210",
    "+91-98765-43210",
    "011 2345 6789",
    "140 677 1863",  # 140 numbers: no trunk 0, a lead 1
    "140-677-1863",
    "+91 140 677 1863",
    # BR
    "(11) 98765-4321",
    "11 3456-7890",
    "+55 11 98765-4321",
    "(011) 3456-7890",
]

FALSE_POSITIVES = [
    "order 4500012345",
    "ORD-2024-112233",
    "INV-2026-000123",
    "order #1234-5678",
    "ticket 12345-67890-abc",
    "isbn 978-3-16-148410-0",
    "isbn 0-306-40615-2",
    "version 10.4.1",
    "release 2.13.270-rc1",
    "build 20261130.1",
    "ts 2026-11-30T12:30:45.123Z",
    "at 2026-11-30 12:30:45",
    "on 30/11/2026 14:05",
    "on 30.11.2026",
    "epoch ms 1764505845123",
    "price $1,299.99",
    "price 1.299,99 EUR",
    "price 1 299,99 EUR",
    "R$ 47.535,13",
    "population 12 345 678",
    "latency 123.456 ms p99 2345.6",
    "bad iban DE00 3704 0044 0532 0130 00",
    "score +1.5 2.5",
    "temp -12.5 to +30.25",
    "coords 48.8566 2.3522",
    "range 100-200-300",
    # near the formats above
    "acct 0549 0267",  # the digits of 05490 267, grouped as no number is
    "Konto 0532 0130, BLZ 370 400 44",  # valid in Italy as 0532 0130: 8 digits are DE only
    "call 07650 54",  # 7 digits: too short to tell from a postcode and a count
    "placeholder 123 456 7890",  # a lead 1: only India's 140 grouping counts
    "ref 100-200-3000",
    "counts 0 150 23 45 67",  # 0 + 3 + 2x3 only for French 08 numbers
    "ORD-0180-5-169938",  # a single-digit group needs a space after it
    "week 05/3 2024",
    "PLZ 01067 Dresden",
    "CEP 04292-896 Santos / RN",  # a Brazilian postcode: `04292 896` would be a German number
    "(00) 12345 rows",
]


@pytest.mark.parametrize("phone", PHONES)
def test_each_format_is_redacted_whole_by_both_paths(phone: str) -> None:
    text = f"call {phone} today"
    scalar, counts = sanitize_text(text)
    assert scalar == "call [PHONE] today"
    assert dict(counts) == {"PHONE": 1}
    assert sanitize_column([text])[0].to_pylist() == [scalar]


@pytest.mark.parametrize("text", FALSE_POSITIVES)
def test_false_positive_regression_set_is_untouched(text: str) -> None:
    assert sanitize_text(text) == (text, {})
    assert sanitize_column([text])[0].to_pylist() == [text]


def test_validation_rejects_phone_shaped_non_numbers() -> None:
    # Phone-shaped, but no country dials them: too short, unassigned ranges, bad trunks.
    for candidate in ("0532 0130", "+44 12", "+99 123 456 789", "0000 123 456"):
        assert not phone_ok(candidate)
    assert phone_ok("+44 20 7946 0958x12")


def test_eight_digits_count_only_in_the_numbers_own_grouping() -> None:
    # Same digits, both valid German numbers to libphonenumber; only one is written as one.
    assert phone_ok("05490 267") and not phone_ok("0549 0267")
    assert phone_ok("05320 130") and not phone_ok("0532 0130")
    assert not phone_ok("04292-896")  # hyphenated: a Brazilian postcode, not a German town
    assert not phone_ok("07650 54")  # 7 digits: below the floor whatever the grouping


def test_a_trunk_hint_is_dropped_where_the_country_has_no_trunk_0() -> None:
    assert phone_ok("+247 (0)856017") and phone_ok("+247 856017")  # Ascension
    assert sanitize_text("call +247 (0)856017 now")[0] == "call [PHONE] now"


def test_a_swallowed_trailing_group_stays_text() -> None:
    candidate = "+44 20 7946 0958 12"
    assert phone_prefix_len(candidate) == len("+44 20 7946 0958")
    assert sanitize_text(f"ring {candidate} items")[0] == "ring [PHONE] 12 items"
    # A single-digit group is never last: German lengths vary, the count would be swallowed.
    for text in ("dial +49 180 5 169938 2 times", "dial +49 30 1234567 2 times"):
        assert sanitize_text(text)[0] == "dial [PHONE] 2 times"
        assert sanitize_column([text])[0].to_pylist() == ["dial [PHONE] 2 times"]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(LOCALES)), st.integers(0, 10_000))
def test_property_locale_phones_are_redacted_and_paths_agree(region: str, seed: int) -> None:
    phones = phone_strings(region, 25, seed)
    texts = [f"contact: {p}, thanks" for p in phones]
    scalar = [sanitize_text(t) for t in texts]
    leaked = [p for p, (out, _) in zip(phones, scalar, strict=True) if out.count("[PHONE]") != 1]
    # Bare digit runs (libphonenumber writes German pagers as `169577290`), 7-digit numbers and
    # foreign numbers in their own national form (`3 04416`, Norfolk Island, in a German text)
    # may pass; the bench holds recall per locale at >= 99.5%.
    assert len(leaked) <= 1, leaked
    column, _ = sanitize_column(texts)
    assert column.to_pylist() == [out for out, _ in scalar]


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 10_000))
def test_property_lookalikes_survive_both_paths(seed: int) -> None:
    texts = [s.text for s in lookalike_samples(200, seed)]
    column, counts = sanitize_column(texts)
    assert column.to_pylist() == texts
    assert not any(counts.values())


def test_uuid_middle_groups_are_not_phones() -> None:
    """`0966-4623-8133` inside a UUID is a valid number in some region; the UUID is kept whole,
    on both paths, while a real number beside it is still redacted (Hypothesis found this)."""
    texts = [
        "desk a3b1772d-0966-4623-8133-41fe4d981876 after lunch",
        "contact b0ca84aa-0947-4296-9548-2eb0f8b3ac3d or write back",
        "call 020 7946 0958 about 3f2b1c4d-0912-4a3b-8c1d-0123456789ab",
    ]
    expected = [texts[0], texts[1], texts[2].replace("020 7946 0958", "[PHONE]")]
    assert [sanitize_text(t)[0] for t in texts] == expected
    column, _ = sanitize_column(texts)
    assert column.to_pylist() == expected
