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
"""

from __future__ import annotations

import functools
import re

import phonenumbers

# National formats are tried in these regions (the first six are the ones the bench covers).
REGIONS: tuple[str, ...] = ("US", "GB", "DE", "FR", "IN", "BR", "IT", "ES", "NL", "AU")
# Fewest digits (extension aside): national numbers with their trunk 0 or area code hold 9+
# in the six regions but Germany's smallest towns; 8-digit groups are mostly ids and IBAN
# pieces (`0532 0130` in `DE89 3704 0044 0532 0130 00`).
MIN_DIGITS_NATIONAL = 9
MIN_DIGITS_INTL = 8  # country code included

# The extension, or else a word boundary: one of them ends every candidate.
_END = r"(?:[ ]?(?:[xX]|[eE]xt\.?|[eE]xtension)[ ]?[0-9]{1,6}\b|\b)"
_INTL_TAIL = r"(?:[-. ]?\(0\))?[-. ]?(?:\([0-9]{1,4}\)[-. ]?)?[0-9]{1,14}(?:[-. /][0-9]{2,8}){0,5}"
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
            r"\b00[1-9][0-9]{0,2}[-. ][0-9]{1,14}(?:[-. /][0-9]{2,8}){0,5}",
            # Trunk 0: 020 7946 0958, 030/12345678, 07911 123456, (0161) 496 0000
            r"\b0[1-9][0-9]{0,4}[-/ ][0-9]{3,8}(?:[- ][0-9]{3,4})?",
            r"\(0[1-9][0-9]{0,4}\)[-. ]?[0-9]{3,8}(?:[- ][0-9]{3,4})?",
            # France: 01 23 45 67 89, 06.12.34.56.78
            r"\b0[1-9](?:[-. ][0-9]{2}){4}",
            # Brazil without the trunk 0: (11) 98765-4321, 11 3456-7890
            r"(?:\([1-9]{2}\) ?|\b[1-9]{2} )9?[0-9]{4}-[0-9]{4}",
            # India, mobile: 98765 43210
            r"\b[6-9][0-9]{4}[- ][0-9]{5}",
        )
    )
    + ")"
    + _END
)
# Superset prefilters (digit- or literal-led, no \b, no letters: marker-proof), and the same
# conditions on the text's skeleton (digits -> 0) for the scalar gate.
PHONE_PREFILTERS: tuple[str, ...] = (
    r"[0-9]{2}[-./ ][0-9]{3}",
    r"0[1-9][-. ][0-9]{2}[-. ][0-9]{2}",
    r"[+(][0-9]",
    r"00[1-9][0-9]{0,2}[-. ][0-9]",
)
PHONE_SHAPES: tuple[str, ...] = (
    r"00[-./ ]000",
    r"00[-. ]00[-. ]00",
    r"\+0",
    r"\(0",
    r"000[-. ]0",
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
    least = MIN_DIGITS_INTL if text.startswith("+") else MIN_DIGITS_NATIONAL
    if sum(map(len, _DIGIT_RUN.findall(body))) < least:
        return False
    regions: tuple[str | None, ...] = (None,) if text.startswith("+") else REGIONS
    for region in regions:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if _number_ok(number):
            return True
    return False


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
