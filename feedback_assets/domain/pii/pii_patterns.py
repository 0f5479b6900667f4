"""PII pattern table, validators and custom-pattern parsing for `domain.sanitize`.

Every built-in regex is written once and compiled for two engines: Python `re` (scalar path)
and the Rust `regex` crate behind polars (vectorized path). The patterns therefore avoid
lookaround and backreferences, and use ASCII word boundaries in both engines (Python
`re.ASCII`, Rust `(?-u:\\b)`): Unicode `\\b` differs slightly between the engines and stops the
Rust lazy DFA on non-ASCII text.

Decisions worth knowing:
- Cards: 13-19 digits, bare or in 4-4-4-4(-n), 4-6-5, 4-6-4 or 4-4-4-n groups, with a known
  network prefix (Visa, Mastercard, Amex, Diners, Discover, JCB, UnionPay) AND a valid Luhn
  digit. The prefix rule keeps order ids and millisecond timestamps (which start with 1) intact.
- IPv4: a dotted quad with octets 0-255 is an address, 4-part versions included (`1.13.27.1` is
  redacted: privacy first). It is a version, and kept, when glued to a word (`v1.2.3.4`), when
  part of a longer dotted run (`1.2.3.4.5`, `v1.2.3.4.5`) or followed by a letter-led suffix
  (`1.2.3.4-rc1`). IPv6 is not detected (times and versions make short forms ambiguous).
- IBAN: uppercase, a registered IBAN country + 2 check digits + BBAN, compact or in groups of
  4, mod-97 valid; when trailing words were swallowed, the longest valid prefix is redacted.
- Phones: a phone-shaped candidate (extension included) that libphonenumber validates; see
  `pii_phones`. Bare digit runs, dates, times, prices and versions never qualify.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from feedback_assets.domain.pii.pii_phones import (
    PHONE_PREFILTERS,
    PHONE_REGEX,
    PHONE_SHAPES,
    phone_prefix_len,
)

ENTITY_TYPES: tuple[str, ...] = ("SECRET", "CREDIT_CARD", "IBAN", "SSN", "EMAIL", "IP", "PHONE")

_SECRET = "|".join(
    (
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\s\S]*?"
        r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----",
        # An unterminated key block is redacted to the end of the text.
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\s\S]*",
        r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
        r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
        r"\bgh[opsur]_[A-Za-z0-9]{36,}\b",
        r"\bgithub_pat_[A-Za-z0-9_]{22,}\b",
        r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
        r"\b[Bb]earer[ \t]+[A-Za-z0-9._~+/=-]{8,}",
    )
)
# 4 digits, then 4+4+1-7 (bare 13-19 digits or 4-4-4-n groups) or 6+4-5 (Amex/Diners 4-6-5).
# Written so that the Rust engine keeps its digit prefilter (a third alternative loses it).
_CARD = r"\b[0-9]{4}[ -]?(?:[0-9]{4}[ -]?[0-9]{4}[ -]?[0-9]{1,7}|[0-9]{6}[ -]?[0-9]{4,5})\b"
_IBAN_COUNTRIES = re.findall(
    "[A-Z]{2}",
    "AD AE AL AT AZ BA BE BG BH BI BR BY CH CR CY CZ DE DJ DK DO EE EG ES FI FK FO FR GB GE GI "
    "GL GR GT HR HU IE IL IQ IS IT JO KW KZ LB LC LI LT LU LV LY MC MD ME MK MN MR MT MU NI NL "
    "NO OM PK PL PS PT QA RO RS RU SA SC SD SE SI SK SM SO ST SV TL TN TR UA VA VG XK YE",
)  # the SWIFT IBAN registry's countries
_IBAN_HEAD = "(?:" + "|".join(_IBAN_COUNTRIES) + ")[0-9]{2}"
# Prefilters of <= 40 literals each: small literal sets keep Rust's fast multi-literal search.
_IBAN_PREFILTERS = tuple(
    "(?:" + "|".join(_IBAN_COUNTRIES[i : i + 40]) + ")[0-9]{2}"
    for i in range(0, len(_IBAN_COUNTRIES), 40)
)
_IBAN = rf"\b{_IBAN_HEAD}(?: ?[A-Z0-9]{{4}}){{2,7}}(?: ?[A-Z0-9]{{1,3}})?\b"
_SSN = (
    r"\b(?:00[1-9]|0[1-9][0-9]|[1-578][0-9]{2}|6[0-57-9][0-9]|66[0-57-9])"
    r"(?:-(?:0[1-9]|[1-9][0-9])-| (?:0[1-9]|[1-9][0-9]) )"
    r"(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})\b"
)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_EMAIL = rf"\b[A-Za-z0-9._%+-]+@{_LABEL}(?:\.{_LABEL})*\.[A-Za-z]{{2,}}\b"
# Candidate: a dotted run of 4+ numeric parts, with an optional letter-led suffix (-rc1); the
# validator keeps plain quads with octets 0-255 not preceded by a dot.
_IP = r"\b[0-9]+(?:\.[0-9]+){3,}(?:-[A-Za-z][0-9A-Za-z.]*)?\b"
_PHONE = PHONE_REGEX


@dataclass(frozen=True)
class StageSpec:
    """One redaction stage.

    kind: "replace" (the regex alone decides); "card" (candidates validated in bulk, which also
    narrows the rows worth a look); "rows" (rare candidates, validated per distinct value).
    Validated stages extract candidates from the touched rows; prefilters only pick those rows.
    prefilters: Rust patterns whose union is a superset of `regex` matches; each one is digit-
    or literal-led so the Rust engine can skip text fast (a single alternation of them cannot).
    gates: substrings of which one must be present for `regex` to match (cheap scalar skip,
    and an Aho-Corasick prefilter in the vectorized path).
    gate_groups: the same gates as (char, substrings) pairs: a group is searched only when its
    char is in the text ("" = always); single-char searches are memchr-fast.
    shapes: regexes of which one must match the text's `SHAPE` skeleton (digits -> 0, A-Z -> A);
    each starts with a literal, which `re` finds by a fast prefix scan.
    min_digits: fewest digits a match holds (counted on the skeleton).
    py_regex: an equivalent Python pattern led by a character class (`re` then scans for the
    first character instead of trying the whole pattern at every position); "" = `regex`.
    marker_proof: no prefilter can match across a `[NAME]` marker (they hold no letters next to
    "[" or "]", no `\\b`, no "_"), so a text the prefilters miss never gains a match by the
    redactions of earlier stages.
    """

    name: str
    regex: str
    kind: str = "replace"
    prefilters: tuple[str, ...] = ()
    gates: tuple[str, ...] = ()
    shapes: tuple[str, ...] = ()
    gate_groups: tuple[tuple[str, tuple[str, ...]], ...] = ()
    py_regex: str = ""
    min_digits: int = 0
    marker_proof: bool = False


# Skeleton for the scalar gates, computed on UTF-8 bytes (bytes.translate is a table lookup;
# non-ASCII bytes are >= 0x80 and never form an ASCII gate). Markers are "[" + letters/
# underscores + "]", so a redaction never creates a shape gate that the original text lacked.
SHAPE = bytes.maketrans(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"0" * 10 + b"A" * 26)

# `\b` before a leading digit, as a lookbehind after it: the pattern starts with a class.
_PY_DIGIT_EDGE = r"[0-9](?<![A-Za-z0-9_].)"


_SECRET_GATE_GROUPS = (
    ("-", ("-----BEGIN", "sk-", "xox")),
    ("_", ("github_pat_", *(f"gh{c}_" for c in "opsur"))),
    ("", ("AKIA", "ASIA", "earer")),
)
BUILTIN_STAGES: tuple[StageSpec, ...] = (
    StageSpec(
        "SECRET",
        _SECRET,
        gates=tuple(g for _, group in _SECRET_GATE_GROUPS for g in group),
        gate_groups=_SECRET_GATE_GROUPS,
        py_regex=rf"(?=[-sAgxBb])(?:{_SECRET})",
    ),
    StageSpec(
        "CREDIT_CARD",
        _CARD,
        kind="card",
        # Every card network's prefix starts with 2-6: ids and ms timestamps (1...) drop out.
        prefilters=(r"\b[2-6][0-9]{3}" + _CARD.removeprefix(r"\b[0-9]{4}"),),
        shapes=("0000",),
        min_digits=13,
        py_regex=_PY_DIGIT_EDGE + "[0-9]{3}" + _CARD.removeprefix(r"\b[0-9]{4}"),
    ),
    StageSpec(
        "IBAN",
        _IBAN,
        kind="rows",
        prefilters=_IBAN_PREFILTERS,
        shapes=("AA00",),
        marker_proof=True,
        py_regex=rf"(?=[A-Z])(?:{_IBAN})",
    ),
    StageSpec("SSN", _SSN, shapes=("000[- ]00[- ]0000",), min_digits=9),
    StageSpec("EMAIL", _EMAIL, gates=("@",)),
    StageSpec(
        "IP",
        _IP,
        kind="rows",
        prefilters=(r"[0-9]\.[0-9]+\.[0-9]+\.[0-9]",),
        shapes=(r"0\.0+\.0+\.0",),
        marker_proof=True,
        min_digits=4,
        py_regex=_PY_DIGIT_EDGE + _IP.removeprefix(r"\b[0-9]+").replace("(?:", "[0-9]*(?:", 1),
    ),
    StageSpec(
        "PHONE",
        _PHONE,
        kind="rows",
        prefilters=PHONE_PREFILTERS,
        shapes=PHONE_SHAPES,
        marker_proof=True,
        py_regex=rf"(?=[+(0-9a-fA-F])(?:{_PHONE})",  # hex letters: a UUID is matched whole
    ),
)
assert _CARD.startswith(r"\b[0-9]{4}") and _IP.startswith(r"\b[0-9]+(?:")
assert tuple(s.name for s in BUILTIN_STAGES) == ENTITY_TYPES


def rust_pattern(pattern: str) -> str:
    """The built-in pattern in the Rust dialect (ASCII word boundaries)."""
    return pattern.replace(r"\b", r"(?-u:\b)")


def python_pattern(spec: StageSpec) -> re.Pattern[str]:
    """The stage's scalar pattern: `py_regex` when given (same matches, faster scan)."""
    return re.compile(spec.py_regex or spec.regex, re.ASCII)


# --- validators: scalar (used by the scalar path and for few candidates) -----------------

_IIN = (
    r"^(?:4[0-9]{12}(?:[0-9]{3}){0,2}"
    r"|5[1-5][0-9]{14}"
    r"|2(?:22[1-9]|2[3-9][0-9]|[3-6][0-9]{2}|7[01][0-9]|720)[0-9]{12}"
    r"|3[47][0-9]{13}"
    r"|3(?:0[0-5]|[68][0-9])[0-9]{11}"
    r"|6(?:011|5[0-9]{2}|4[4-9][0-9])[0-9]{12,15}"
    r"|35(?:2[89]|[3-8][0-9])[0-9]{12,15}"
    r"|62[0-9]{14,17})$"
)
_IIN_RE = re.compile(_IIN)
_SEPARATORS = re.compile(r"[ -]")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_ok(candidate: str) -> bool:
    digits = _SEPARATORS.sub("", candidate)
    return _IIN_RE.match(digits) is not None and luhn_ok(digits)


def _iban_mod97(compact: str) -> bool:
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def iban_prefix_len(candidate: str) -> int:
    """Length of the longest mod-97-valid prefix made of whole groups, 0 if none."""
    if _iban_mod97(candidate.replace(" ", "")):
        return len(candidate)
    parts = candidate.split(" ")
    for k in range(len(parts) - 1, 0, -1):
        prefix = " ".join(parts[:k])
        if _iban_mod97(prefix.replace(" ", "")):
            return len(prefix)
    return 0


def ip_ok(candidate: str, before: str = "") -> bool:
    """A plain dotted quad with octets 0-255; `before` is the character preceding it."""
    parts = candidate.split(".")
    if len(parts) != 4 or before == ".":
        return False
    return all(p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts)


# --- validators: vectorized over a column of candidates ---------------------------------


def cards_ok(candidates: pl.Series) -> np.ndarray:
    """Vectorized `card_ok`: network prefix via a regex kernel, Luhn via numpy."""
    digits = candidates.str.replace_all(r"[ -]", "")
    ok = digits.str.contains(_IIN).fill_null(False).to_numpy().copy()
    idx = np.flatnonzero(ok)
    if idx.size:
        padded = digits.gather(idx).str.zfill(19).to_list()
        raw = np.frombuffer("".join(padded).encode("ascii"), dtype=np.uint8)
        grid = raw.reshape(-1, 19).astype(np.int16) - 48
        doubled = grid[:, 1::2] * 2  # every second digit from the right (index 17, 15, ... 1)
        grid[:, 1::2] = np.where(doubled > 9, doubled - 9, doubled)
        ok[idx] = grid.sum(axis=1) % 10 == 0
    return ok


def candidate_verdicts(entity: str, cands: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Per candidate: (holds PII, is wholly PII). The context-free part of the scalar checks."""
    if entity == "CREDIT_CARD":
        ok = cards_ok(cands)
        return ok, ok
    # IBAN, IP and phone candidates are rare: validate each distinct one in Python.
    uniq = cands.unique().to_list()
    values = cands.to_list()
    if entity in ("IBAN", "PHONE"):
        prefix_len = iban_prefix_len if entity == "IBAN" else phone_prefix_len
        keep = {c: prefix_len(c) for c in uniq}
        some = np.fromiter((keep[c] > 0 for c in values), bool, len(values))
        return some, np.fromiter((keep[c] == len(c) for c in values), bool, len(values))
    valid = {c: ip_ok(c) for c in uniq}
    ok = np.fromiter((valid[c] for c in values), bool, len(values))
    return ok, ok


# --- custom patterns ---------------------------------------------------------------------

_NAME = re.compile(r"^[A-Z][A-Z_]*$")  # no digits: markers must never look like PII
_EMPTY_PROBES = ("", "a", " ", "a b", "1-2.3@x_y", "\n")


@dataclass(frozen=True)
class PiiPattern:
    """A custom pattern from config; matches become `[name]`."""

    name: str
    regex: str


def parse_custom_patterns(
    spec: str | Sequence[Mapping[str, str]] | None,
) -> tuple[PiiPattern, ...]:
    """Parse custom patterns from a JSON string (env FEEDBACK_PII_PATTERNS) or a list of dicts.

    Each regex must compile in both engines (no lookaround, no backreferences) and must not
    match the empty string; names are upper-case identifiers distinct from the built-ins.
    """
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return ()
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except json.JSONDecodeError as exc:
            raise ValueError(f"custom PII patterns: invalid JSON ({exc})") from exc
    if not isinstance(spec, list | tuple):
        raise ValueError("custom PII patterns: expected a list of {name, regex} objects")
    out: list[PiiPattern] = []
    seen: set[str] = set()
    for i, item in enumerate(spec):
        if not isinstance(item, Mapping) or not {"name", "regex"} <= item.keys():
            raise ValueError(f"custom PII pattern #{i}: expected an object with name and regex")
        name, regex = item["name"], item["regex"]
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"custom PII pattern #{i}: name {name!r} must match [A-Z][A-Z_]*")
        if name in ENTITY_TYPES or name in seen:
            raise ValueError(f"custom PII pattern {name}: name already in use")
        if not isinstance(regex, str) or not regex:
            raise ValueError(f"custom PII pattern {name}: regex must be a non-empty string")
        _check_regex(name, regex)
        seen.add(name)
        out.append(PiiPattern(name=name, regex=regex))
    return tuple(out)


def _check_regex(name: str, regex: str) -> None:
    try:
        compiled = re.compile(regex)
    except re.error as exc:
        raise ValueError(f"custom PII pattern {name}: invalid regex ({exc})") from exc
    try:
        pl.Series([""]).str.contains(regex)
    except pl.exceptions.PolarsError as exc:
        raise ValueError(
            f"custom PII pattern {name}: regex not supported by the vectorized engine "
            f"(no lookaround or backreferences): {exc}"
        ) from exc
    if any(m.end() == m.start() for probe in _EMPTY_PROBES for m in compiled.finditer(probe)):
        raise ValueError(f"custom PII pattern {name}: regex matches the empty string")
    if _has_dollar_anchor(regex):
        raise ValueError(
            f"custom PII pattern {name}: `$` matches differently in the two engines "
            r"(before a final newline in Python); use \b or an explicit character instead"
        )


def _has_dollar_anchor(regex: str) -> bool:
    escaped = in_class = False
    for ch in regex:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "[":
            in_class = True
        elif ch == "]":
            in_class = False
        elif ch == "$" and not in_class:
            return True
    return False
