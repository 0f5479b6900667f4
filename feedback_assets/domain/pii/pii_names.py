"""Optional PERSON stage: person names found by gazetteers and context cues, offline.

A name is a run of capitalized words (particles such as `da`, `van`, `de la`, `auch` and
initials allowed inside; hyphenated parts such as `Clarke-O'Connor`, `Rohleder-van der Dussen`,
`H.-Dieter`, `Hans-H.`) that one of these rules accepts, checked in order:
- strong cue before it (a title `Mr.`, `Dr`, `Frau`, `Mme`, `Sra.`, or `my name is`, `ich heiße`,
  `je m'appelle`, `meu nome é`): its leading words that are known names or not common words;
- weak cue before it (a greeting `Dear`, `Hi`, `Hallo`, `Olá`; a sign-off `Kind regards,`; a
  role `customer`, `contact`, `cc`, also capitalized in the run: `Customer Amber Small`): the
  same, when its first word is a known name, and a lone common word only when no word follows
  it (`Hi Mark, ...` is a name, `Hi, Can I ...` is not);
- no cue: a known given name followed by a known family name, unless both are common words,
  or by a second given name, when neither is a common word (`Mark Victoria Station`), or the given name opens a question or a
  command at the start of a sentence (`Will Jenkins run?`, `Grant Jenkins access`).
A generational suffix or a trailing particle joins the name (`Koch II`, `Dussen van`); a legal
form after it makes it a company, kept (`Nicolas Couturier S.A.R.L.`, `Duarte Correia Ltda`).
Known names: the gazetteer in `data/` (Latin-script given and family names, built from Faker's
lists by `data/build_gazetteer.py`). Common words (`data/common_words.txt`) are never redacted
on their own, and a lone known name without a cue is kept (`Paris`, `Jordan`, `Florence`).
Names outside the gazetteer are found only after a strong cue.

`NAME_PREFILTERS` (Rust dialect) select the rows the rules may change in the vectorized path:
every accepted name starts with a cue or a known given name that the prefilters match.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources

from feedback_assets.domain.pii.spans import replace_spans

UP = "A-ZÀ-ÖØ-Þ"
LOW = "a-zß-öø-ÿ"
# `auch` from German registers (`Knut auch Schlauchin`), as Faker's de_DE list spells it.
PARTICLES = (
    "da", "de", "do", "dos", "das", "di", "del", "della", "van", "von", "der", "den", "du",
    "la", "le", "ten", "ter", "zu", "y", "bin", "al", "e", "auch",
)  # fmt: skip
_PARTICLE = "(?:" + "|".join(PARTICLES) + ")"
_WORDISH = rf"[{UP}](?:[{LOW}]+(?:[{UP}][{LOW}]+)?(?:['’][{UP}][{LOW}]+)?|['’][{UP}][{LOW}]+)"
# Hyphenated parts: double names (`Clarke-O'Connor`, `Austermühle-van der Dussen`) and German
# abbreviated given names (`H.-Dieter`, `Hans-H.`, `Klaus-D.`).
_TOKEN = (
    rf"(?:[{UP}]\.-)?{_WORDISH}"
    rf"(?:-(?:(?:{_PARTICLE} )*{_WORDISH}|[{UP}]\.(?!\w)))*"
)
_INITIAL = rf"[{UP}]\."
# A run: capitalized words joined by spaces, particles and initials inside it.
_RUN = re.compile(
    rf"(?<![\w'’-]){_TOKEN}(?:(?: +{_PARTICLE})* +(?:{_TOKEN}|{_INITIAL}(?= +[{UP}])))*"
)
_SPLIT = re.compile(r"[- ]")
_PIECE = re.compile(rf"{_TOKEN}|{_INITIAL}|{_PARTICLE}")
# A generational suffix (`Koch II`, `Koch II-Köster`) or a trailing particle of a name written
# family-first (`Dussen van`) belongs to the name before it.
_AFTER_NAME = re.compile(rf"(?: +(?:II|III|IV|Jr\.|Sr\.)(?:-{_WORDISH})*| +v[ao]n)(?![\w'’-])")
# Particles also written capitalized inside a name: `Alice Le Gall`, `Anna Van Dijk`.
_PARTICLE_WORDS = frozenset(PARTICLES) | {p.capitalize() for p in PARTICLES if len(p) > 1}

TITLES = (
    "Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Prof", "Herr", "Frau", "Mme", "Mlle", "Sr", "Sra",
    "Srta", "Dra", "Shri", "Smt", "Sri", "Sir", "Dame", "Lady", "Lord", "Ing",
)  # fmt: skip
STRONG_PHRASES = (
    "my name is", "my name's", "i am called", "call me", "mein name ist", "ich heiße",
    "ich heisse", "je m'appelle", "je m’appelle", "mon nom est", "meu nome é", "me chamo",
    "mi nombre es", "me llamo",
)  # fmt: skip
GREETINGS = (
    "Dear", "Hi", "Hello", "Hey", "Hallo", "Liebe", "Lieber", "Bonjour", "Salut", "Cher",
    "Chère", "Olá", "Oi", "Prezado", "Prezada", "Caro", "Cara", "Namaste", "Regards",
    "Thanks", "Cheers", "Sincerely", "Best", "Grüße", "Cordialement", "Atenciosamente",
    "regards", "wishes", "grüße", "sincerely",  # sign-offs end lowercase: `Kind regards,`
)  # fmt: skip
# Role words and self-introductions; not bare prepositions: "from Jordan", "to Paris".
ROLE_WORDS = (
    "customer", "client", "user", "patient", "employee", "contact", "cc", "signed", "name",
    "named", "person", "agent", "colleague", "manager", "i'm", "i am", "this is", "ich bin", "je suis",
    "eu sou", "sou o", "sou a", "kunde", "kundin", "cliente", "paciente", "ask", "tell",
)  # fmt: skip
_TITLE_SET = frozenset(TITLES)
_GREETING_SET = frozenset(GREETINGS)
_STRONG_SET = frozenset(STRONG_PHRASES)
_ROLE_SET = frozenset(ROLE_WORDS)
_CUE_TOKENS = frozenset(TITLES) | frozenset(GREETINGS)
# Role words capitalized inside the name's run: `Customer Amber Small`, `Contact Jay Law`.
_ROLE_TOKENS = frozenset(w.capitalize() for w in ROLE_WORDS if " " not in w)
# A legal form after the name makes it a company (`Nicolas Couturier S.A.R.L.`, `Duarte Correia
# Ltda`, `Rudolph Kranz AG`, `Albert Moreau et Fils`).
_COMPANY = re.compile(
    r"[ \t]*,?[ \t]+(?:S\.?A\.?(?:R\.?L\.?|S\.?)?|Ltda|Ltd|LLC|Inc|Corp|GmbH|AG|KG|PLC|Plc"
    r"|et[ \t]+Fils|&[ \t]+(?:Co|Sons))(?![\w-])"
)
_COMPANY_WORDS = frozenset(("Ltda", "Ltd", "Inc", "Corp", "Plc"))  # inside the run
_WORD_NEXT = re.compile(r"[ \t]+\w")
_SENTENCE_START = re.compile(r"(?:^|[.!?;\n\"“(]\s*)$")
# Given names that open questions and commands: `Will Jenkins run?`, `May Parker join?`.
_OPENERS = frozenset(("Will", "May", "Can", "Did", "Grant", "Bill", "Chase", "Press", "Sue"))


@dataclass(frozen=True)
class Gazetteer:
    given: frozenset[str]
    family: frozenset[str]
    common: frozenset[str]


def _read(name: str) -> frozenset[str]:
    text = resources.files(__package__).joinpath("data", f"{name}.txt").read_text("utf-8")
    return frozenset(text.split())


@functools.cache
def gazetteer() -> Gazetteer:
    """The shipped name lists (read once; package data, no network)."""
    return Gazetteer(_read("given_names"), _read("family_names"), _read("common_words"))


def _spaced(phrase: str) -> str:
    return r"\s+".join(re.escape(w) for w in phrase.split())


@functools.cache
def name_prefilters() -> tuple[str, ...]:
    """Rust patterns whose union matches every text the PERSON stage may change."""
    g = gazetteer()
    given = "|".join(sorted(g.given, key=len, reverse=True))
    known = "|".join(sorted(g.given | g.family, key=len, reverse=True))
    weak = "|".join([*GREETINGS, *(f"(?i:{_spaced(w)})" for w in ROLE_WORDS)])
    phrases = "|".join(_spaced(p) for p in STRONG_PHRASES)
    return (
        rf"(?:{'|'.join(TITLES)})\.?[ \t]*[:,]?[ \t]*[{UP}]",
        rf"(?i:{phrases})[ \t]*[:,]?[ \t]*[{UP}]",
        rf"(?:{weak})[ \t]*[:,]?\s*(?:{known})",
        rf"(?:{given})(?:-(?:{_PARTICLE} )*[{UP}][{LOW}]*\.?)*(?: +{_PARTICLE})* +[{UP}]",
    )


# --- the rules -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Piece:
    start: int
    end: int
    word: str
    name_like: bool  # a capitalized word (not a particle or an initial)


def _pieces(run: re.Match[str]) -> list[_Piece]:
    base = run.start()
    out = []
    found = list(_PIECE.finditer(run.group(0)))
    for i, m in enumerate(found):
        w = m.group(0)
        # A capitalized particle is a particle between names, a name at the end (`Suhani Das`).
        particle = w in _PARTICLE_WORDS and i + 1 < len(found)
        name_like = bool(_parts(w)) and not particle
        out.append(_Piece(base + m.start(), base + m.end(), w, name_like))
    return out


def _parts(word: str) -> list[str]:
    """The name words of a token: `Austermühle-van der Dussen` -> Austermühle, Dussen;
    `H.-Dieter` -> Dieter (initials and particles are not looked up)."""
    if "-" not in word and " " not in word:  # the common case, without a split
        return [word] if word[:1].isupper() and word[-1] != "." and len(word) > 1 else []
    return [p for p in _SPLIT.split(word) if p[:1].isupper() and p[-1] != "." and len(p) > 1]


def _is_given(g: Gazetteer, word: str) -> bool:
    parts = _parts(word)
    return bool(parts) and parts[0] in g.given


def _is_known(g: Gazetteer, word: str) -> bool:
    return _is_given(g, word) or any(p in g.family for p in _parts(word))


def _is_common(g: Gazetteer, word: str) -> bool:
    return word.lower() in g.common


def _extend(g: Gazetteer, pieces: list[_Piece], i: int) -> int:
    """Index after the last name word of the span that starts at pieces[i]: words that are known
    names or not common words; particles and initials only between name words."""
    end = i + 1
    for j in range(i + 1, len(pieces)):
        p = pieces[j]
        if p.name_like:
            if not (_is_known(g, p.word) or not _is_common(g, p.word)):
                break
            end = j + 1
    return end


def _cue_before(before: str) -> tuple[bool, bool]:
    """(strong, weak): whether the text before a name ends with a cue, then optional spaces, a
    colon or comma, spaces; a strong cue is on the name's line (`Mr.\nSmith` is not)."""
    t = before.rstrip()
    if t[-1:] in (":", ","):
        t = t[:-1].rstrip()
    words = t.split()[-3:]
    if not words:
        return False, False
    last = words[-1].lstrip("(\"'“")
    tails = [" ".join(words[i:]).lower() for i in range(len(words))]
    same_line = "\n" not in before[len(t) :]
    title = last.rstrip(".").split(".")[-1].lstrip("-")  # `Dipl.-Ing.`, `Univ.Prof.`
    strong = same_line and (title in _TITLE_SET or any(x in _STRONG_SET for x in tails))
    weak = last in _GREETING_SET or any(x in _ROLE_SET for x in tails)
    return strong, weak


def _cued_span(g: Gazetteer, text: str, pieces: list[_Piece]) -> tuple[int, int] | None:
    """(first, end) piece indices of a name right after a cue, else None."""
    k = 0
    strong = weak = False
    # "Dear John", "Mr Smith", "Customer Amber Small"
    while k < len(pieces) and (pieces[k].word in _CUE_TOKENS or pieces[k].word in _ROLE_TOKENS):
        strong |= pieces[k].word in TITLES
        weak = True
        k += 1
    if k == len(pieces) or not pieces[k].name_like:
        return None
    before_strong, before_weak = _cue_before(text[max(0, pieces[k].start - 40) : pieces[k].start])
    strong = strong or before_strong
    weak = weak or before_weak
    word = pieces[k].word
    if strong and (_is_known(g, word) or not _is_common(g, word)):
        return k, _extend(g, pieces, k)
    if weak and _is_known(g, word):
        end = _extend(g, pieces, k)
        # A lone common word goes on a sentence after a weak cue (`Hi, Can I`), a name does not
        # (`Hi Mark, the ticket`): it is a name only when no word follows it.
        lone = end == k + 1 and _is_common(g, word)
        if lone and _WORD_NEXT.match(text, pieces[k].end):
            return None
        return k, end
    return None


def _full_name_span(g: Gazetteer, text: str, pieces: list[_Piece]) -> tuple[int, int] | None:
    """A known given name followed by a family name (or an uncommon given name), no cue."""
    words = [i for i, p in enumerate(pieces) if p.name_like]
    for a, b in zip(words, words[1:], strict=False):
        first, second = pieces[a].word, pieces[b].word
        if not _is_given(g, first) or b - a > 4:  # `Claude de la Da Costa`
            continue
        c1, c2 = _is_common(g, first), _is_common(g, second)
        family = any(p in g.family for p in _parts(second))
        if not (family or (_is_given(g, second) and not (c1 or c2))) or (c1 and c2):
            continue
        opener = first in _OPENERS and b == a + 1
        if opener and _SENTENCE_START.search(text[max(0, pieces[a].start - 3) : pieces[a].start]):
            continue
        return a, _extend(g, pieces, a)
    return None


def name_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the person names in `text`, left to right, not overlapping."""
    g = gazetteer()
    spans = []
    for run in _RUN.finditer(text):
        pieces = _pieces(run)
        found = _cued_span(g, text, pieces) or _full_name_span(g, text, pieces)
        if found is not None:
            first, end = found
            stop = pieces[end - 1].end
            if _COMPANY.match(text, stop) or any(
                p.word in _COMPANY_WORDS for p in pieces[first:end]
            ):
                continue
            after = _AFTER_NAME.match(text, stop)
            spans.append((pieces[first].start, after.end() if after else stop))
    return spans


def redact_names(text: str, marker: str) -> tuple[str, int]:
    """`text` with each name replaced by `marker`, and the number of names."""
    return replace_spans(text, name_spans(text), marker)
