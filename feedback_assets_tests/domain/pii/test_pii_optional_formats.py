"""The name and address formats the optional stages learned for issue #15 (recall >= 99.5% in
every locale): German register names and the streets named after them, Indian house number +
locality lines, Brazilian neighbourhoods; and the look-alikes these rules must keep."""

import pytest

from bench.pii_corpus import LOCALES
from bench.pii_corpus_text import address_samples, name_samples
from feedback_assets.domain.pii.sanitize import pii_rules, sanitize_column, sanitize_text

ON = pii_rules(None, "person,address")

NAMES = [
    ("Kind regards,\nChloe Reynolds-O'Sullivan", "Kind regards,\n[PERSON]"),  # lowercase sign-off
    ("cc: Hassan Reinhardt-Koch II", "cc: [PERSON]"),  # generational suffix
    ("Contact person: Beatrice Koch II-Köster", "Contact person: [PERSON]"),
    (
        "The refund was approved by Tomas auch Schlauchin yesterday.",
        "The refund was approved by [PERSON] yesterday.",
    ),  # fmt: skip
    ("Mein Name ist Elise Dussen van.", "Mein Name ist [PERSON]."),  # family-first particle
    ("Customer Friedemann Rohleder-van der Dussen asked", "Customer [PERSON] asked"),
    ("Dear H.-Dieter Hölzenbecher,\nthanks", "Dear [PERSON],\nthanks"),  # abbreviated given
    ("Hans-H. Haase called about the invoice.", "[PERSON] called about the invoice."),
    ("Kind regards,\nHerr Klaus-D. Wulf", "Kind regards,\nHerr [PERSON]"),
    ("Customer Amber Small asked for a callback.", "Customer [PERSON] asked for a callback."),
    ("Customer Ing. Mark Rose B.Eng. asked", "Customer Ing. [PERSON] B.Eng. asked"),  # a title
    ("Kind regards,\nDipl.-Ing. Marvin auch Schlauchin", "Kind regards,\nDipl.-Ing. [PERSON]"),
    (
        "Please forward this to Françoise de la Le Roux in accounting.",
        "Please forward this to [PERSON] in accounting.",
    ),  # fmt: skip
]
ADDRESSES = [
    ("Deliver to: Hans Jürgen-Stroh-Weg 8-2, thanks", "Deliver to: [ADDRESS], thanks"),
    ("Lieferadresse: H.-Dieter-Kade-Ring 67-63", "Lieferadresse: [ADDRESS]"),
    ("billing address\nHans D.-Kühnert-Platz 481\n", "billing address\n[ADDRESS]\n"),
    ("Ship to Marian-Koch II-Weg 191, thanks", "Ship to [ADDRESS], thanks"),
    ("Ship to Carlo-van der Dussen-Straße 88\n25890 Forst", "Ship to [ADDRESS]"),
    ("Ship to Heinz-Walter-Dussen van-Allee 3-6", "Ship to [ADDRESS]"),
    ("Ship to Dussen vanplatz 913\n83757 Dieburg now", "Ship to [ADDRESS] now"),
    ("Ship to auch Schlauchinallee 737", "Ship to [ADDRESS]"),
    ("Ship to Koch IIweg 2-9, 89402 Artern", "Ship to [ADDRESS]"),
    ("Ship to Grein Grothweg 59", "Ship to [ADDRESS]"),  # a known name before the street
    ("Visit Karl-Marx-Allee 3", "Visit [ADDRESS]"),  # a word that is not a name stays out
    ("My address is Mitschkering 9", "My address is [ADDRESS]"),  # family name + ring
    ("billing address\nKoch IIring 48-23\n", "billing address\n[ADDRESS]\n"),
    ("billing address\n88/68, D’Alia\nTiruppur 695539\n", "billing address\n[ADDRESS]\n"),
    ("Please ship it to 43, Agarwal.", "Please ship it to [ADDRESS]."),
    ("billing address\n97/946\nMishra\n", "billing address\n[ADDRESS]\n"),
    ("Please ship it to 01/452\nDas.", "Please ship it to [ADDRESS]."),  # ends the line
    ("17, Seth Nagar\nSangli-Miraj & Kupwad 594954, thanks", "[ADDRESS], thanks"),
    ("Parque Duarte, 98\nCaiçara - Adelaide\n73972-402 Sampaio / PR.", "[ADDRESS]."),
    ("Endereço: Via de Albuquerque", "Endereço: [ADDRESS]"),
    ("My address is Via Sophie Dias", "My address is [ADDRESS]"),
]
# Look-alikes of the new rules: English gerunds on -ering, counts before `12, Name`, a German
# article after a line number, `via` + a product, a greeting before a sentence, companies.
KEPT = [
    "Lowering 5 thresholds and Clustering 12 nodes, Bordering 3 states",
    "During 2020, we shipped Rendering 4 frames",
    "Chapter 3, Kumar explains it; Step 3, More details; In 2019, Smith wrote",
    "Seite 12\nDas ist gut",
    "Via Slack 3 times, Via Email 2",
    "Hi, Can I return an opened router?",
    "Hello, Will you fix it?",
    "Nicolas Couturier S.A.R.L. signed with Duarte Correia Ltda and Albert Moreau et Fils.",
]


@pytest.mark.parametrize(("text", "expected"), NAMES + ADDRESSES)
def test_new_formats_are_redacted(text: str, expected: str) -> None:
    assert sanitize_text(text, ON)[0] == expected
    assert sanitize_column([text], ON)[0].to_pylist() == [expected]


@pytest.mark.parametrize("text", KEPT)
def test_new_rules_keep_their_lookalikes(text: str) -> None:
    assert sanitize_text(text, ON) == (text, {})
    assert sanitize_column([text], ON)[0].to_pylist() == [text]


@pytest.mark.parametrize("region", sorted(LOCALES))
def test_recall_per_locale_on_an_unseen_seed(region: str) -> None:
    """400 Faker names and 400 addresses of each locale at a seed the rules were not tuned on:
    at most 2 of each missed (the issue's bar, 99.5%); the bench measures the rate."""
    for samples in (name_samples(region, 400, 4242), address_samples(region, 400, 4242)):
        out = sanitize_column([s.text for s in samples], ON)[0].to_pylist()
        missed = [s.text for s, o in zip(samples, out, strict=True) if s.value in o]
        assert len(missed) <= 2, missed
