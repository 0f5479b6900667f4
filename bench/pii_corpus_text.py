"""Labelled person names and street addresses in six locales (Faker), and a set of PII-free
texts dense with capitalized words, for the optional PERSON and ADDRESS stages.

Used by `bench_detection` and the PII tests (which draw other seeds). A sample's `value` is
what must disappear: the name without its title or degree (`Dr.`, `B.Sc.`), the whole address
(street line, and postcode block when the address has one). Names are Faker's `name()` for the
locale; addresses are Faker's `street_address()` (half) or multi-line `address()` (half, with
its line breaks or joined by ", "). The gazetteer of `pii_names` is built from the same Faker
lists, so name recall here measures the rules on known names; `oov_name_samples` measures names
outside the gazetteer (only a cue finds them).
"""

from __future__ import annotations

import random
import re

from faker import Faker

from bench.pii_corpus import LOCALES, Sample

_NAME_TEMPLATES = (
    "My name is {}.",
    "Dear {},\nthanks for your patience.",
    "Please forward this to {} in accounting.",
    "{} called about the invoice.",
    "Kind regards,\n{}",
    "Contact person: {}",
    "Hi {}, your ticket is fixed.",
    "The refund was approved by {} yesterday.",
    "Customer {} asked for a callback.",
    "cc: {}",
)
_NATIVE_NAME = {
    "DE": "Mein Name ist {}.",
    "FR": "Je m'appelle {}.",
    "BR": "Meu nome é {}.",
}
_ADDRESS_TEMPLATES = (
    "Please ship it to {}.",
    "My address is {}",
    "{}",
    "Deliver to: {}, thanks",
    "The customer moved to {} last month.",
    "billing address\n{}\n",
)
_NATIVE_ADDRESS = {"DE": "Lieferadresse: {}", "FR": "Adresse : {}", "BR": "Endereço: {}"}


def _affixes(fake: Faker) -> set[str]:
    out: set[str] = set()
    for attr in ("prefixes_male", "prefixes_female", "prefixes", "suffixes_male",
                 "suffixes_female", "suffixes"):  # fmt: skip
        for provider in fake.get_providers():
            values = getattr(provider, attr, None)
            if values and not callable(values):
                out |= {str(v) for v in values}
    return {a for a in out if a[:1].isupper() or "." in a}  # fr_FR's "de", "du" stay in names


def _core(name: str, affixes: set[str]) -> str:
    words = name.split(" ")
    while words and words[0] in affixes:
        words = words[1:]
    while words and words[-1] in affixes:
        words = words[:-1]
    return " ".join(words)


def name_samples(region: str, n: int, seed: int = 0) -> list[Sample]:
    fake, rng = Faker(LOCALES[region]), random.Random(seed)
    fake.seed_instance(seed)
    affixes = _affixes(fake)
    templates = _NAME_TEMPLATES + tuple(v for k, v in _NATIVE_NAME.items() if k == region)
    out = []
    for _ in range(n):
        full = fake.name()
        out.append(
            Sample(rng.choice(templates).format(full), "PERSON", region, _core(full, affixes))
        )
    return out


def address_samples(region: str, n: int, seed: int = 0) -> list[Sample]:
    fake, rng = Faker(LOCALES[region]), random.Random(seed)
    fake.seed_instance(seed)
    templates = _ADDRESS_TEMPLATES + tuple(v for k, v in _NATIVE_ADDRESS.items() if k == region)
    out = []
    for i in range(n):
        value = fake.street_address() if i % 2 else fake.address()
        if "\n" in value and rng.random() < 0.5:
            value = value.replace("\n", ", ")
        out.append(Sample(rng.choice(templates).format(value), "ADDRESS", region, value))
    return out


def oov_name_samples(n: int, seed: int = 0) -> list[Sample]:
    """Invented names (never in a gazetteer) after a title or `my name is`, and bare."""
    rng = random.Random(seed)
    syll = ("ka", "lo", "mi", "zu", "ren", "tav", "qui", "bor", "nel", "sha", "vok", "dri")

    def word() -> str:
        return "".join(rng.choice(syll) for _ in range(rng.randint(2, 3))).capitalize()

    cued = ("My name is {}.", "Dear Mr. {},", "Dr. {} will call you.", "Sincerely, Ms. {}")
    out = []
    for i in range(n):
        value = f"{word()} {word()}"
        template = rng.choice(cued) if i % 2 else "{} called about the invoice."
        out.append(Sample(template.format(value), "PERSON", "oov", value))
    return out


_PRODUCTS = (
    "Visual Studio Code", "Google Chrome", "Microsoft Teams", "Apache Kafka", "Spring Boot",
    "Ruby on Rails", "Jupyter Notebook", "Power BI", "GitHub Actions", "Adobe Photoshop",
    "Amazon Web Services", "Windows Server", "Mac Mini", "Galaxy Note", "Pixel Pro",
    "Surface Laptop", "Jenkins", "Grafana Loki", "Tableau Desktop", "Oracle Database",
    "Julia Computing", "Crystal Reports", "Alexa Skills", "Siri Shortcuts", "Claude Code",
    "Harvey Nichols", "Victoria Station", "Jackson Hole", "Madison Square Garden",
    "Santa Clara", "San Jose", "Carson City", "Hugo Boss", "Georgia Tech", "Jordan River",
)  # fmt: skip
_OPENERS = (
    "Will", "May", "Can", "Please", "Thanks", "Hello", "Today", "Summer", "Mark", "Grant",
    "Chase", "Hope", "August", "Bill",
)  # fmt: skip
_CAP_TEMPLATES = (
    "{opener} {product} {n} work on {product2}?",
    "{product} {n}.{m} is out: {n} Critical Fixes, {m} New Features",
    "Chapter {n}: {words}",
    "{opener} the {product} team check ticket {n}?",
    "Top {n} {words} for {product}",
    "Open {n} Docker Ports on {product}",
    "Step {n}: Install {product} {n}.{m}",
    "{company} signed a {n}-year deal with {company2}.",
    "Flights from {city} to {city2} start at ${n}.{m}",
    "Release {n} {words} ({product})",
    "{opener}, {words}.",
    "Price: {n},{m} EUR for {product}, {n} Units",
)


def capitalized_lookalikes(n: int, seed: int = 0) -> list[Sample]:
    """PII-free texts full of capitalized words: products, companies, cities, title-case
    headings, sentences opening with a word that is also a given name."""
    fake, rng = Faker(["en_US", "de_DE", "fr_FR", "pt_BR"]), random.Random(seed)
    fake.seed_instance(seed)
    out = []
    for _ in range(n):
        words = " ".join(w.capitalize() for w in re.findall(r"[a-z]+", fake.catch_phrase())[:4])
        text = rng.choice(_CAP_TEMPLATES).format(
            opener=rng.choice(_OPENERS), product=rng.choice(_PRODUCTS),
            product2=rng.choice(_PRODUCTS), n=rng.randint(2, 99), m=rng.randint(0, 99),
            words=words or "Quick Start Guide", company=fake.company(), company2=fake.company(),
            city=fake.city(), city2=fake.city(),
        )  # fmt: skip
        out.append(Sample(text, "", "capitalized", text))
    return out
