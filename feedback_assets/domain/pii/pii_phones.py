"""Phone candidates (one regex for both engines) and their validation by libphonenumber.

Like cards (shape + Luhn), a phone is a phone-shaped candidate that `phonenumbers` accepts:
- the shape is required: separators, parentheses, a `+`/`00` country code or a trunk `0`.
  Bare digit runs (order ids, epochs), dates, times, prices and versions never qualify.
- extensions (`x713`, `ext. 12`, `extension 4`) belong to the number: the word boundary that
  used to end a match sits after them (`1730x713` has none between `0` and `x`).
- validation: `is_valid_number` for the number's own country (`+`/`00`) or for one of
  REGIONS (national formats); North American numbers only need the NANP shape (area code and
  exchange 2-9) and a possible length: unassigned area codes are still phones to a reader.
- a candidate that swallowed a trailing group (`+44 20 7946 0958 12 items`) is redacted up to
  its longest valid prefix, so the words after it stay.
- 8-digit national numbers (`05490 267`, a German small town) count only when written in
  libphonenumber's own grouping for them, with no hyphen: `0532 0130` (an IBAN piece;
  `05320 130` as a number) and `04292-896` (a Brazilian postcode) stay text.
- `+cc (0)...`: the `(0)` is a trunk hint a reader skips; a country without a trunk 0
  (`+247 (0)856017`) is validated without it.
"""

from __future__ import annotations

import functools
import re

import phonenumbers

# National formats are tried in these regions (the first six are the ones the bench covers).
REGIONS: tuple[str, ...] = ("US", "GB", "DE", "FR", "IN", "BR", "IT", "ES", "NL", "AU")
SHORT_REGIONS: tuple[str, ...] = ("DE",)  # 8-digit national numbers: the bench regions' only
# Fewest digits (extension aside): national numbers with their trunk 0 or area code hold 9+
# in the six regions but Germany's smallest towns; 8-digit groups are mostly ids and IBAN
# pieces (`0532 0130` in `DE89 3704 0044 0532 0130 00`), so at 8 the grouping must be the
# number's own (`_grouped_as_dialled`).
MIN_DIGITS_NATIONAL = 9
MIN_DIGITS_GROUPED = 8
MIN_DIGITS_INTL = 8  # country code included

# The extension, or else a word boundary: one of them ends every candidate.
_END = r"(?:[ ]?(?:[xX]|[eE]xt\.?|[eE]xtension)[ ]?[0-9]{1,6}\b|\b)"
# A single-digit group before a longer one: German service numbers (`+49 180 5 169938`);
# never last, so `+49 30 1234567 2 times` keeps its count.
_INTL_TAIL = r"(?:[-. ]?\(0\))?[-. ]?(?:\([0-9]{1,4}\)[-. ]?)?[0-9]{1,14}(?:[-. /](?:[0-9][-. ])?[0-9]{2,8}){0,5}"
# A UUID is matched whole first (leftmost wins in both engines), so its middle groups
# (`a3b1772d-0966-4623-8133-...`) are never read as a trunk-0 number; the validator drops it.
UUID_REGEX = r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_UUID = re.compile(UUID_REGEX.removeprefix(r"\b"))
PHONE_REGEX = (
    "(?:"
    + "|".join(
        (
            UUID_REGEX,
            # North America: (415) 555-0134, 415.555.0134, +1-415-555-0134, 001-415-555-0134
            r"(?:\+1[-. ]?|\b1[-. ]|\b001[-. ])?(?:\([2-9][0-9]{2}\)[-. ]?|\b[2-9][0-9]{2}[-. ])"
            r"[2-9][0-9]{2}[-. ][0-9]{4}",
            # A country code: +44 20 7946 0958, +44 (0)20 ..., +33 1 23 45 67 89, 0049 30 ...
            r"\+[1-9][0-9]{0,2}" + _INTL_TAIL,
            r"\b00[1-9][0-9]{0,2}[-. ][0-9]{1,14}(?:[-. /](?:[0-9][-. ])?[0-9]{2,8}){0,5}",
            # Trunk 0: 020 7946 0958, 030/12345678, 07911 123456, (0161) 496 0000; German
            # service numbers 0180 5 169938, 0900/3 747763 (not 0180-5-169938: ids keep one
            # separator); a dialled `00` inside the area code's parentheses, (00497) 93742
            r"\b0[1-9][0-9]{0,4}[-/ ](?:[0-9] )?[0-9]{3,8}(?:[- ][0-9]{3,4})?",
            r"\(0[0-9][0-9]{0,4}\)[-. ]?[0-9]{3,8}(?:[- ][0-9]{3,4})?",
            # France: 01 23 45 67 89, 06.12.34.56.78; 08 service numbers as libphonenumber
            # writes them, 0 800 40 51 90 (only they: `0 150 23 45 67` reads as a table row)
            r"\b0[1-9](?:[-. ][0-9]{2}){4}",
            r"\b0[-. ]8[0-9]{2}(?:[-. ][0-9]{2}){3}",
            # Brazil without the trunk 0: (11) 98765-4321, 11 3456-7890
            r"(?:\([1-9]{2}\) ?|\b[1-9]{2} )9?[0-9]{4}-[0-9]{4}",
            # India, mobile: 98765 43210; 140 numbers: 140 677 1863 (after North America,
            # whose 1 415 555 0134 wins at the same place)
            r"\b[6-9][0-9]{4}[- ][0-9]{5}",
            r"\b1[0-9]{2}[-. ][0-9]{3}[-. ][0-9]{4}",
        )
    )
    + ")"
    + _END
)
# Superset prefilters (digit- or literal-led, no \b, no letters: marker-proof), and the same
# conditions on the text's skeleton (digits -> 0) for the scalar gate.
PHONE_PREFILTERS: tuple[str, ...] = (
    r"[0-9]{2}[-./ ](?:[0-9] )?[0-9]{3}",
    r"0(?:[1-9]|[-. ]8[0-9]{2})[-. ][0-9]{2}[-. ][0-9]{2}",
    r"[+(][0-9]",
    r"00[1-9][0-9]{0,2}[-. ][0-9]",
)
PHONE_SHAPES: tuple[str, ...] = (
    r"00[-./ ]000",
    r"00[-. ]00[-. ]00",
    r"\+0",
    r"\(0",
    r"000[-./ ]0",
)

_NANP = re.compile(r"[2-9][0-9]{2}[2-9][0-9]{6}")
_DIGIT_RUN = re.compile(r"[0-9]+")


def _number_ok(number: phonenumbers.PhoneNumber) -> bool:
    if phonenumbers.is_valid_number(number):
        return True
    national = str(number.national_number)
    return (
        number.country_code == 1
        and _NANP.fullmatch(national) is not None
        and phonenumbers.is_possible_number(number)
    )


@functools.lru_cache(maxsize=65536)
def phone_ok(candidate: str) -> bool:
    """A dialable number (with its extension, if any) in its own country or one of REGIONS."""
    body = re.split(r"[ ]?(?:[xX]|[eE]xt)", candidate, maxsplit=1)[0]
    text = "+" + candidate[2:] if candidate.startswith("00") else candidate
    digits = sum(map(len, _DIGIT_RUN.findall(body)))
    if text.startswith("+"):
        if digits < MIN_DIGITS_INTL:
            return False
        # `(0)` first as written (libphonenumber drops it where there is a trunk 0), then without
        texts = (text, text.replace("(0)", "", 1)) if "(0)" in text else (text,)
        return any(_valid_in(t, None) is not None for t in texts)
    if digits < MIN_DIGITS_GROUPED:
        return False
    # Weak shapes must be written as the number is: 8 digits (German towns only: Italy's
    # `0532 0130` is an IBAN piece as often; never hyphenated: `04292-896` is a Brazilian
    # postcode) and a bare lead `1` + digit (India's 140 numbers, Brazil's areas 11-19;
    # `123 456 7890` is no number as written).
    short = digits < MIN_DIGITS_NATIONAL
    if short and "-" in body:
        return False
    strict = short or (body[:1] == "1" and body[1:2].isdigit())
    for region in SHORT_REGIONS if short else REGIONS:
        number = _valid_in(text, region)
        if number is not None and (not strict or _grouped_as_dialled(body, number)):
            return True
    return False


def _valid_in(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    """The number `text` dials from `region` (None: it holds its country code), if valid."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return number if _number_ok(number) else None


def _grouped_as_dialled(body: str, number: phonenumbers.PhoneNumber) -> bool:
    """The candidate's digit groups are those of the number's national format (`05490 267`,
    `(05490) 267`; not `0549 0267`): the area code stands apart as people write it."""
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return _groups(national) == _groups(body)


def _groups(text: str) -> list[int]:
    return [len(run) for run in _DIGIT_RUN.findall(text)]


def phone_prefix_len(candidate: str) -> int:
    """Length of the longest valid prefix that ends after a digit group, 0 if none; -1 for a
    UUID, which holds no phone at all (the search skips it whole)."""
    if _UUID.fullmatch(candidate):
        return -1
    if phone_ok(candidate):
        return len(candidate)
    ends = [m.end() for m in _DIGIT_RUN.finditer(candidate)][:-1]
    for end in reversed(ends):
        if candidate[end : end + 1] in ("-", ".", " ", "/") and phone_ok(candidate[:end]):
            return end
    return 0
