"""The optional PERSON and ADDRESS stages: off by default, switched on by FEEDBACK_PII_STAGES,
the formats they cover in six locales (Faker, seeds other than the bench's), the look-alikes
they must keep, and the scalar and vectorized paths agreeing."""

import json

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.pii_corpus import LOCALES, lookalike_samples
from bench.pii_corpus_text import address_samples, capitalized_lookalikes, name_samples
from feedback_assets.domain.pii.pii_optional import OPTIONAL_STAGES, OptionalStage
from feedback_assets.domain.pii.sanitize import (
    parse_pii_stages,
    pii_rules,
    sanitize_column,
    sanitize_text,
    scan_pii,
)
from feedback_assets.domain.pii.sanitize_json import sanitize_json_column
from feedback_assets.domain.pii.sanitized_logs import sanitize_logs
from feedback_assets.settings import PII_STAGES, ConfigurationError, load_settings

ON = pii_rules(None, "person,address")

ADDRESSES = [
    ("Ship to 123 Main St, Springfield, IL 62704 please", "Ship to [ADDRESS] please"),
    ("I live at 52762 Charles Parks Apt. 12.", "I live at [ADDRESS]."),
    ("Flat 3, 221B Baker Street\nLondon\nNW1 6XE", "[ADDRESS]"),
    ("H.No. 12, Sharma Nagar, Thane 400601", "[ADDRESS]"),
    ("Lieferadresse: Hauptstraße 12, 10115 Berlin", "Lieferadresse: [ADDRESS]"),
    ("Karl-Marx-Allee 3a bitte", "[ADDRESS] bitte"),
    ("Adresse : 12 rue de la Paix, 75002 Paris", "Adresse : [ADDRESS]"),
    ("3 bis, avenue Victor Hugo", "[ADDRESS]"),
    ("Endereço: Rua Augusta, 1500 - apto 12", "Endereço: [ADDRESS]"),
    ("Av. Paulista nº 1000\n01310-100 São Paulo / SP", "[ADDRESS]"),
    ("PSC 1234, Box 5678\nAPO AE 12345", "[ADDRESS]"),
]
NAMES = [
    ("My name is John Smith.", "My name is [PERSON]."),
    ("Dear Mr. Okonkwo, thanks", "Dear Mr. [PERSON], thanks"),
    ("Dr Zorvath Quellin will call", "Dr [PERSON] will call"),  # no gazetteer: the title
    ("Hi Mark, the ticket is fixed", "Hi [PERSON], the ticket is fixed"),
    ("Kind regards,\nMaria da Silva", "Kind regards,\n[PERSON]"),
    ("Please ask Jean-Pierre Dupont.", "Please ask [PERSON]."),
    ("Mr Jamie O'Sullivan called", "Mr [PERSON] called"),
    ("Mein Name ist Jürgen Müller.", "Mein Name ist [PERSON]."),
    ("Je m'appelle Élodie Martin.", "Je m'appelle [PERSON]."),
    ("Meu nome é João Pereira.", "Meu nome é [PERSON]."),
    ("forwarded to Priya Sharma in accounting", "forwarded to [PERSON] in accounting"),
]
# The false-positive regression set: nothing here may change with both stages on.
KEPT = [
    "order 4820193312 shipped",
    "ORD-2026-004512 and INV-4411-203-9981",
    "upgrade to v1.13.27 or 2.3.1-rc2",
    "2026-01-03T10:15:00Z, 03/01/2026 10:15, 1767434100000",
    "Price: $1,299.00, 12 345,67 EUR, 19,99 €",
    "Will Jenkins run on Ubuntu 22 tonight?",
    "May I ask about Spring Boot 3.2?",
    "Mark the ticket as done. Grant access to the team.",
    "Today Summer Sale ends; Hope this helps.",
    "Open 8080 Docker Ports on Visual Studio Code",
    "Spring 5.3 and String 2 are versions, Ring 2,50 € a price",
    "Top 10 Python Tips for Apache Kafka",
    "Flights from Paris to Jordan start at $320.",
    "Im Jahr 2020 kamen 3 Kunden.",
    "Step 3: Install Claude Code 1.2 on Mac Mini",
    "Chapter 12: Quick Start Guide",
    "Welcome to Florence, Victoria and Austin.",
    "Johnson, Smith and Wilson signed with Garcia Ltd.",
]


@pytest.mark.parametrize(("text", "expected"), ADDRESSES + NAMES)
def test_formats_are_redacted_when_on(text: str, expected: str) -> None:
    assert sanitize_text(text, ON)[0] == expected
    assert sanitize_column([text], ON)[0].to_pylist() == [expected]


@pytest.mark.parametrize("text", KEPT)
def test_false_positive_regression_set_is_kept(text: str) -> None:
    assert sanitize_text(text, ON) == (text, {})


@pytest.mark.parametrize(("text", "_"), ADDRESSES + NAMES)
def test_stages_are_off_by_default(text: str, _: str) -> None:
    assert sanitize_text(text)[0] == text
    assert sanitize_column([text])[0].to_pylist() == [text]


def test_settings_default_off_and_parsed() -> None:
    assert load_settings({}).pii_stages == ()
    assert pii_rules(None, load_settings({}).pii_stages) == ()
    got = load_settings({"FEEDBACK_PII_STAGES": " Person, address "}).pii_stages
    assert got == ("address", "person")
    assert pii_rules(None, got) == (OptionalStage("ADDRESS"), OptionalStage("PERSON"))
    with pytest.raises(ConfigurationError, match="FEEDBACK_PII_STAGES.*names"):
        load_settings({"FEEDBACK_PII_STAGES": "person,names"})
    assert set(PII_STAGES) == set(OPTIONAL_STAGES)


def test_stage_parsing_errors_name_the_stage() -> None:
    assert parse_pii_stages(["PERSON"]) == (OptionalStage("PERSON"),)
    with pytest.raises(ValueError, match="unknown.*'iban'"):
        parse_pii_stages("person,iban")
    with pytest.raises(ValueError, match="'NAMES'"):
        OptionalStage("NAMES")


def test_custom_patterns_and_stages_combine() -> None:
    rules = pii_rules(json.dumps([{"name": "EMP", "regex": r"\bEMP-[0-9]{4}\b"}]), "person")
    out, counts = sanitize_text("EMP-1234 is my id, my name is Anna Schmidt", rules)
    assert out == "[EMP] is my id, my name is [PERSON]"
    assert counts == {"EMP": 1, "PERSON": 1}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(region=st.sampled_from(sorted(LOCALES)), seed=st.integers(100, 10**6))
def test_faker_names_and_addresses_across_locales(region: str, seed: int) -> None:
    """Faker's names and addresses of a locale: almost all redacted whole, both paths agree,
    and redacting twice changes nothing."""
    samples = name_samples(region, 40, seed) + address_samples(region, 40, seed)
    texts = [s.text for s in samples]
    scalar = [sanitize_text(t, ON)[0] for t in texts]
    assert sanitize_column(texts, ON)[0].to_pylist() == scalar
    assert [sanitize_text(t, ON)[0] for t in scalar] == scalar
    missed = [s.text for s, out in zip(samples, scalar, strict=True) if s.value in out]
    assert len(missed) <= 4, missed  # the bench measures the rate; this guards regressions


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(100, 10**6))
def test_lookalikes_survive_with_stages_on(seed: int) -> None:
    ids = [s.text for s in lookalike_samples(150, seed)]  # ids, versions, prices, dates
    assert sum(scan_pii(ids, ON).values()) == 0


def test_capitalized_lookalikes_stay_under_the_measured_rate() -> None:
    """Adversarial capitalized text (person-named brands such as Harvey Nichols): the bench
    measures 3.7%. Over 1,200 texts a regression past 5% fails (2.4 standard errors above the
    measured rate); a per-150 bound on random seeds would fail by chance."""
    caps = [s.text for seed in range(8) for s in capitalized_lookalikes(150, 1000 + seed)]
    out, _ = sanitize_column(caps, ON)
    changed = [a for a, b in zip(caps, out.to_pylist(), strict=True) if a != b]
    assert len(changed) / len(caps) <= 0.05, (len(changed), changed[:10])


def test_json_metadata_and_sanitized_logs_use_the_stages() -> None:
    meta = [json.dumps({"note": "Customer Anna Schmidt lives at Hauptstraße 12"})]
    out, counts = sanitize_json_column(meta, ON)
    assert json.loads(out[0].as_py()) == {"note": "Customer [PERSON] lives at [ADDRESS]"}
    assert counts["PERSON"] == counts["ADDRESS"] == 1
    events = pd.DataFrame(
        {"event_id": ["e1"], "prompt": ["My name is Anna Schmidt"], "response": ["Hello!"],
         "metadata": ["{}"]}
    )  # fmt: skip
    signals = pd.DataFrame(columns=["signal_id", "event_id", "edited_response", "metadata"])
    clean = sanitize_logs(events, signals, ON)
    assert clean.events["prompt"].tolist() == ["My name is [PERSON]"]
    assert sanitize_logs(events, signals).events["prompt"].tolist() == ["My name is Anna Schmidt"]
