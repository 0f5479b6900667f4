"""Labelled PII and look-alike texts in six locales, built with Faker and libphonenumber.

Used by `bench_detection` and by the PII tests. Phones are Faker's numbers for the locale that
libphonenumber accepts (North America: any NANP-shaped number, as Faker's area codes are often
unassigned), written in the formats people use: libphonenumber's national, international and
E.164 forms, Faker's own layout, regional variants (`+44 (0)20 ...`, `030/...`, `01.23...`,
`+91-98765-43210`) and US extensions (`x713`, ` ext. 12`). Bare digit runs are left out: they
are not detected by design (order ids look the same).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers
from faker import Faker

LOCALES: dict[str, str] = {
    "US": "en_US",
    "GB": "en_GB",
    "DE": "de_DE",
    "FR": "fr_FR",
    "IN": "en_IN",
    "BR": "pt_BR",
}
_F = phonenumbers.PhoneNumberFormat
_TEMPLATES = (
    "Please call me at {} tomorrow.",
    "my number: {}",
    "{}",
    "Tel.: {}, thanks",
    "You can reach the office (desk {}) after lunch.",
    "contact {} or write back",
)
# No JCB: Faker draws JCB numbers from 3500-3599, the real range is 3528-3589.
_CARD_TYPES = ("visa16", "visa13", "mastercard", "amex", "discover", "diners")


@dataclass(frozen=True)
class Sample:
    text: str
    entity: str  # expected marker name; "" for a look-alike (nothing may be redacted)
    locale: str
    value: str  # the PII (or look-alike) string inside `text`


def _regional(region: str, number: phonenumbers.PhoneNumber, rng: random.Random) -> list[str]:
    national = phonenumbers.format_number(number, _F.NATIONAL)
    intl = phonenumbers.format_number(number, _F.INTERNATIONAL)
    cc, _, rest = intl.partition(" ")
    out = [national, intl, phonenumbers.format_number(number, _F.E164)]
    if region == "US":
        d = str(number.national_number)
        out += [
            f"{d[:3]}.{d[3:6]}.{d[6:]}",
            f"({d[:3]}){d[3:6]}-{d[6:]}",
            f"+1-{d[:3]}-{d[3:6]}-{d[6:]}",
        ]
    elif region in ("GB", "DE", "FR"):
        out.append(f"{cc} (0){rest}")
    if region == "DE":
        out.append(national.replace(" ", "/", 1))
    elif region == "FR":
        out.append(national.replace(" ", "."))
    elif region == "IN":
        out.append(intl.replace(" ", "-"))
    return out


def _extension(rng: random.Random) -> str:
    digits = str(rng.randint(1, 99999))
    return rng.choice(("x", " x", " ext. ", " ext ", "ext.")) + digits


def phone_strings(region: str, n: int, seed: int = 0) -> list[str]:
    """n phone numbers of `region` in its common written formats (see the module doc)."""
    fake, rng = Faker(LOCALES[region]), random.Random(seed)
    fake.seed_instance(seed)
    out: list[str] = []
    while len(out) < n:
        raw = fake.phone_number()
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            continue
        nanp = region == "US" and re.fullmatch(r"[2-9]\d\d[2-9]\d{6}", str(number.national_number))
        if not (phonenumbers.is_valid_number(number) or nanp):
            continue
        shaped = [raw] if re.search(r"[-. ()+]", raw.split("x")[0]) else []
        choice = rng.choice(shaped + _regional(region, number, rng))
        if region == "US" and "x" not in choice and rng.random() < 0.3:
            choice += _extension(rng)
        out.append(choice)
    return out


def _entity_values(region: str, fake: Faker) -> dict[str, Callable[[], str]]:
    values: dict[str, Callable[[], str]] = {
        "EMAIL": fake.email,
        "CREDIT_CARD": lambda: fake.credit_card_number(card_type=random.choice(_CARD_TYPES)),
        "IP": fake.ipv4_public,
        "IBAN": fake.iban,
    }
    if region == "US":
        values["SSN"] = fake.ssn
    return values


def pii_samples(region: str, n: int, seed: int = 0) -> list[Sample]:
    """n samples per entity for one locale, each value inside a short sentence."""
    fake, rng = Faker(LOCALES[region]), random.Random(seed)
    fake.seed_instance(seed)
    random.seed(seed)  # Faker's card-type pick above uses the module generator
    out = [
        Sample(rng.choice(_TEMPLATES).format(p), "PHONE", region, p)
        for p in phone_strings(region, n, seed)
    ]
    for entity, make in _entity_values(region, fake).items():
        for _ in range(n):
            value = make()
            out.append(Sample(rng.choice(_TEMPLATES).format(value), entity, region, value))
    return out


def lookalike_samples(n: int, seed: int = 0) -> list[Sample]:
    """Texts dense with ids, versions, timestamps, dates, prices and codes: no PII at all."""
    fake, rng = Faker(["en_US", "de_DE", "fr_FR", "pt_BR"]), random.Random(seed)
    fake.seed_instance(seed)
    makers: tuple[Callable[[], str], ...] = (
        lambda: f"order {rng.randint(10**7, 10**12)}",
        lambda: f"ORD-{rng.randint(2015, 2030)}-{rng.randint(0, 999999):06d}",
        lambda: f"INV-{rng.randint(1000, 9999)}-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
        lambda: f"v{rng.randint(0, 30)}.{rng.randint(0, 99)}.{rng.randint(0, 999)}",
        lambda: (
            f"{rng.randint(0, 9)}.{rng.randint(0, 99)}.{rng.randint(0, 99)}-rc{rng.randint(1, 9)}"
        ),
        lambda: fake.iso8601(),
        lambda: fake.date_time().strftime(rng.choice(("%d/%m/%Y %H:%M", "%d.%m.%Y", "%Y-%m-%d"))),
        lambda: str(rng.randint(1_500_000_000_000, 1_800_000_000_000)),
        lambda: fake.pricetag(),
        lambda: f"{rng.randint(1, 999)} {rng.randint(0, 999):03d},{rng.randint(0, 99):02d} EUR",
        lambda: fake.isbn13(),
        lambda: fake.uuid4(),
        lambda: fake.sha1()[: rng.choice((7, 40))],
        lambda: f"build {rng.randint(20200101, 20301231)}.{rng.randint(1, 99)}",
        lambda: f"{rng.randint(1, 99)} {rng.randint(100, 999)} {rng.randint(100, 999)} units",
        lambda: f"{rng.uniform(0, 1000):.4f} ms, p99 {rng.uniform(0, 5000):.1f}",
        lambda: f"row {rng.randint(1, 9999)} of {rng.randint(10000, 99999)}",
    )
    out: list[Sample] = []
    for _ in range(n):
        value = rng.choice(makers)()
        out.append(Sample(rng.choice(_TEMPLATES).format(value), "", "lookalike", value))
    return out
