"""Builds the name gazetteer shipped beside this script (run by hand; the output is committed).

    python feedback_assets/domain/pii/data/build_gazetteer.py   # needs Faker (a dev dependency)

given_names.txt / family_names.txt: the Latin-script given and family names of Faker's person
providers for LOCALES (MIT; Faker's lists come from public name statistics). Multi-word entries
("Anthony Gabriel") are split into their words. common_words.txt: Faker's lorem word lists
(en_US, de_DE, fr_FR) plus EXTRA_COMMON: frequent words that a name
stage must never redact on their own (`Will`, `May`, `Mark` are given names too).

The files are read at run time by `pii_names`; Faker is never imported there.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

LOCALES = (
    "en_US", "en_GB", "en_IE", "en_NZ", "en_IN", "de_DE", "de_AT", "de_CH",
    "fr_FR", "fr_CA", "fr_CH", "pt_BR", "pt_PT", "es_ES", "es_MX", "it_IT", "nl_NL",
)  # fmt: skip
LOREM = ("en_US", "de_DE", "fr_FR")
# Capitalized at a sentence start or in a heading, and names too; never a name on their own.
EXTRA_COMMON = """
january february march april may june july august september october november december
monday tuesday wednesday thursday friday saturday sunday today tomorrow yesterday
hello hi hey dear thanks thank please regards best cheers sincerely team all everyone
customer client user admin support sales service manager director agent staff guest
will can must shall might could would should did does done the this that these those
art bill chase drew faith frank gay grace hope hunter joy june mark max miles page penny
rich rose ruby sky summer autumn winter spring dawn eve holly iris ivy jade jasmine lily
crystal amber star storm river stone rock wolf king queen prince duke earl baron
young brown white green black gray grey long short little small hill wood woods field
fields price cash gold silver church hall bell bush banks rivers lane street north south mac
east west new old big august pat sue ray jay dean don doc ted tom jack bob
""".split()
_LATIN = re.compile(r"^[A-Za-zÀ-ÖØ-öø-žḀ-ỿ'’-]{2,}$")
HERE = Path(__file__).parent


def _words(values: object) -> set[str]:
    return {w for v in values for w in str(v).split() if _LATIN.match(w)}  # type: ignore[attr-defined]


def _person_lists() -> tuple[set[str], set[str]]:
    given: set[str] = set()
    family: set[str] = set()
    for loc in LOCALES:
        p = importlib.import_module(f"faker.providers.person.{loc}").Provider
        for attr in ("first_names", "first_names_male", "first_names_female"):
            given |= _words(getattr(p, attr, ()) or ())
        family |= _words(getattr(p, "last_names", ()) or ())
    return given, family


def main() -> None:
    given, family = _person_lists()
    common = set(EXTRA_COMMON)
    for loc in LOREM:
        common |= {w.lower() for w in importlib.import_module(f"faker.providers.lorem.{loc}").Provider.word_list}
    for name, words in (("given_names", given), ("family_names", family), ("common_words", common)):
        (HERE / f"{name}.txt").write_text("\n".join(sorted(words)) + "\n", encoding="utf-8")
        print(name, len(words))


if __name__ == "__main__":
    main()
