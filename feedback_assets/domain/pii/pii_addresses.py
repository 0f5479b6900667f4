"""Optional ADDRESS stage: street addresses by street-number + street-type patterns per locale,
extended over a following postcode line (the postcode cue), offline and regex-only.

Street lines (US, GB, IN, DE, FR, BR):
- English: `123 Main St`, `52762 Charles Parks Apt. 12`, `Flat 3, 12 Baker Street`,
  `H.No. 12, Sharma Nagar`; a known street type (`Street`, `Rd`, `Nagar`, `Marg`, the USPS
  suffixes capitalized) after 1-4 capitalized words and a house number;
- German: `Hauptstraße 12`, `Karl-Marx-Allee 3a`, `Berliner Straße 5-7`, and streets named
  after people as registers write names (`Hans Jürgen-Stroh-Weg 8`, `H.-Dieter-Kade-Ring 6`,
  `Carlo-van der Dussen-Straße 8`, `Koch IIweg 2`, `Mitschkering 9` when `Mitschke` is a
  known family name);
- Indian: a house number and a locality named after a family, `43, Agarwal` (a known family
  name, and the number not a count: `Chapter 3, Kumar` is kept);
- French: `12 rue de la Paix`, `3 bis, avenue Victor Hugo`;
- Portuguese (BR): `Rua Augusta, 1500`, `Av. Paulista nº 1000 - apto 12`, `Via Mendonça` (a
  known name after `Via`, which is English too).
A postcode block after the street line is part of the address: `Springfield, IL 62704`,
`London NW1 6XE`, `75002 Paris`, `01310-100 São Paulo / SP` (after a neighbourhood line such as
`Caiçara - Adelaide`), `Sangli-Miraj & Kupwad-400601`. A postcode also
anchors a street line without a house number (`rue de Buisson\\n84486 Vincent`) or without a
street type (`12, Sharma\\nThane 400601`). US military addresses (`PSC 1234, Box 5678\\nAPO AE
12345`) are covered. Not covered: a postcode or a city alone (quasi-identifiers, kept), German
`Am Markt 3` forms (`Im Jahr 2020` reads the same), and PO boxes.

Guards: the house number must end the match or be followed by a non-digit (`Spring 5.3`,
`Ring 2,50 €` are versions and prices, kept); English weak street types (`Lights`, `Keys`,
`Ports`, `View`) are left out.
`ADDRESS_PREFILTERS` is the same pattern without word boundaries, for the Rust engine.
"""

from __future__ import annotations

import re

from feedback_assets.domain.pii.pii_names import LOW, UP, gazetteer
from feedback_assets.domain.pii.spans import replace_spans

_H = r"[ \t]"
_SEP = rf"(?:,?{_H}*\n{_H}*|,{_H}*|{_H}+[-–]{_H}+)"
_WORD = rf"[{UP}][{LOW}]*(?:['’][{UP}][{LOW}]+|[{UP}][{LOW}]+)?\.?"
_CITY_WORD = rf"(?:[{UP}][{LOW}'’.]*(?:[{UP}][{LOW}]+)?(?:[-–][{UP}]?[{LOW}]+)*|[0-9]{{1,2}}[ªº])"
_CITY_PARTICLE = rf"(?:de|da|do|dos|das|la|le|les|sur|am|an|im|in|ob|der|den|vorm|bei|upon|on){_H}+"
# `Sangli-Miraj & Kupwad`: an ampersand may join the words of a city name.
_CITY = (
    rf"(?:{_CITY_PARTICLE})*{_CITY_WORD}"
    rf"(?:(?:{_H}+&)?{_H}+(?:{_CITY_PARTICLE})*{_CITY_WORD}){{0,6}}"
)


def _either_case(words: tuple[str, ...]) -> str:
    return "|".join(f"[{w[0].upper()}{w[0].lower()}]{re.escape(w[1:])}" for w in words)


# English street types: these in either case, the other USPS suffixes capitalized only.
_EN_TYPES = (
    "Street", "St", "Road", "Rd", "Avenue", "Ave", "Lane", "Ln", "Drive", "Dr", "Boulevard",
    "Blvd", "Court", "Ct", "Place", "Pl", "Terrace", "Crescent", "Close", "Highway", "Hwy",
    "Parkway", "Pkwy", "Square", "Sq", "Circle", "Cir", "Trail", "Mews", "Nagar", "Marg",
    "Chowk", "Ganj", "Zila", "Colony", "Layout", "Vihar", "Enclave", "Bazaar", "Bazar", "Path",
)  # fmt: skip
_USPS = (
    "Alley", "Branch", "Bridge", "Brook", "Brooks", "Burg", "Burgs", "Bypass", "Camp", "Canyon",
    "Cape", "Causeway", "Circles", "Cliff", "Cliffs", "Common", "Corner", "Corners", "Courts",
    "Cove", "Coves", "Creek", "Crest", "Crossing", "Crossroad", "Curve", "Dale", "Dam",
    "Divide", "Drives", "Estate", "Estates", "Expressway", "Extension", "Extensions", "Falls",
    "Ferry", "Field", "Fields", "Flats", "Ford", "Fords", "Forest", "Forge", "Forges", "Fork",
    "Forks", "Fort", "Freeway", "Garden", "Gardens", "Gateway", "Glen", "Glens", "Green",
    "Greens", "Grove", "Groves", "Harbor", "Harbors", "Haven", "Heights", "Hill", "Hills",
    "Hollow", "Inlet", "Island", "Islands", "Isle", "Junction", "Junctions", "Knoll", "Knolls",
    "Lake", "Lakes", "Landing", "Loaf", "Lock", "Locks", "Lodge", "Loop", "Mall", "Manor",
    "Manors", "Meadow", "Meadows", "Mill", "Mills", "Mission", "Motorway", "Mount", "Mountain",
    "Mountains", "Neck", "Orchard", "Oval", "Overpass", "Park", "Parks", "Parkways", "Passage",
    "Pike", "Pine", "Pines", "Plain", "Plains", "Plaza", "Prairie", "Radial", "Ramp", "Ranch",
    "Rapid", "Rapids", "Ridge", "Ridges", "River", "Roads", "Route", "Row", "Rue", "Shoal",
    "Shoals", "Shore", "Shores", "Skyway", "Springs", "Spur", "Spurs", "Squares", "Station",
    "Stravenue", "Stream", "Streets", "Summit", "Throughway", "Trace", "Track", "Trafficway",
    "Tunnel", "Turnpike", "Underpass", "Union", "Unions", "Valley", "Valleys", "Viaduct",
    "Village", "Villages", "Ville", "Vista", "Walk", "Walks", "Wall", "Way", "Ways", "Well",
    "Wells", "Club", "Course", "Fall", "Flat", "Key", "Keys", "Land", "Light", "Lights", "Pass",
    "Point", "Points", "Port", "Ports", "Rest", "Run", "Spring", "Via", "View", "Views", "Center",
    "Centers",
)  # fmt: skip
_EN_TYPE = rf"(?:{_either_case(_EN_TYPES)}|{'|'.join(_USPS)})\b\.?"
# Types that are everyday words too (`Open 12 Docker Ports`): without a postcode block, the word
# before them must be a known given or family name (`4495 Hart Pass`).
_AMBIGUOUS = frozenset((
    "Club", "Course", "Fall", "Falls", "Flat", "Flats", "Field", "Fields", "Key", "Keys", "Land",
    "Light", "Lights", "Lock", "Locks", "Loop", "Mall", "Mission", "Park", "Parks", "Pass",
    "Point", "Points", "Port", "Ports", "Ramp", "Rest", "Row", "Run", "Spring", "Springs",
    "Station", "Trace", "Track", "Union", "Unions", "Via", "View", "Views", "Walk", "Walks",
    "Well", "Wells", "Center", "Centers",
))  # fmt: skip
_HOUSE = (
    r"(?:(?:H\.?[ \t]?No\.?|House[ \t]No\.?|Plot[ \t]No\.?|Door[ \t]No\.?|No\.?|#)[ \t]*)?"
    r"[0-9]{1,6}[A-Za-z]?(?:[-/][0-9]{1,5}[A-Za-z]?)?"
)
_UNIT = rf"(?:Flat|Studio|Apartment|Apt\.?|Unit|Suite){_H}+[0-9]{{1,4}}[A-Za-z]?"
_SECONDARY = (
    rf"(?:,?{_H}+(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Flat|Floor|Fl\.?|Room|Rm\.?|Bldg\.?|#)"
    rf"{_H}*#?[0-9]{{1,5}}[A-Za-z]?)?"
)
_EN_NAME = rf"(?:(?:{_WORD}|[0-9]{{1,3}}(?:st|nd|rd|th)){_H}+){{1,4}}"
_EN_STREET = (
    rf"\b(?:(?:{_UNIT}{_SEP})?{_HOUSE}(?:,?{_H}+|{_SEP})|{_UNIT}{_SEP})"
    rf"(?:(?:{_WORD}|[0-9]{{1,3}}(?:st|nd|rd|th)){_H}+){{0,3}}(?P<last>{_WORD}){_H}+(?P<type>{_EN_TYPE})"
    + _SECONDARY
)

_DE_SUFFIX = r"(?:straße|strasse|str\.|weg|gasse|platz|allee|damm|ufer|chaussee|pfad|steig|stieg|promenade|[b-df-hj-np-tv-zß]ring)"
_DE_PARTICLE = "(?:von|van|vom|der|den|de|zu|zum|zur|am|an|im|auch)"
_DE_NUMBER = rf"{_H}+[0-9]{{1,4}}[a-zA-Z]?(?:{_H}?[-/]{_H}?[0-9]{{1,4}}[a-zA-Z]?)?"
_DE_WORD = r"(?:Straße|Strasse|Str\.|Weg|Gasse|Platz|Allee|Ring|Damm|Ufer|Chaussee|Pfad|Promenade)"
# Streets named after people, as the registers spell names: `Hans Jürgen-Stroh-Weg`,
# `H.-Dieter-Kade-Ring`, `Marian-Koch II-Weg`, `Carlo-van der Dussen-Straße`, `Dussen vanplatz`,
# `auch Schlauchinallee`, `Koch IIweg`. A word before the street (`lead`, `Grein Grothweg`) stays
# in it only when it is a known name (`Visit Karl-Marx-Allee 3` loses `Visit`).
_DE_NAME = rf"(?:[{UP}][{LOW}]+|[{UP}]\.)"
_DE_PART = (
    rf"(?:{_DE_PARTICLE}{_H}+)*{_DE_NAME}(?:{_H}+(?:{_DE_PARTICLE}{_H}+)*(?:{_DE_NAME}|II|III|IV))?"
    rf"(?:{_H}+{_DE_PARTICLE})*"
)
_DE_GLUED = (
    rf"(?:{_DE_PARTICLE}{_H}+)*(?:(?P<stem>[{UP}][{LOW}]+)(?:{_DE_SUFFIX}|(?P<ering>[aeiouäöü]ring))"
    rf"|[{UP}][{LOW}]+{_H}+(?:II|III|IV|v[ao]n)(?:{_DE_SUFFIX}|ring))"  # `Mitschkering`: name + ring
)
_DE_STREET = (
    rf"\b(?:(?P<lead>[{UP}][{LOW}]+{_H}+)?(?:{_DE_PART}(?:-{_DE_PART})*-{_DE_WORD}|{_DE_GLUED})"
    rf"|[{UP}][{LOW}]+{_H}+{_DE_WORD})" + _DE_NUMBER
)

_FR_TYPE = (
    rf"(?:{_either_case(('rue', 'avenue', 'boulevard', 'chemin', 'impasse', 'allée', 'quai', 'place'))}"
    r"|Av\.|Bd|Route|Cours|Passage|Square|Voie|Faubourg|Chaussée|Sentier|Rond-[Pp]oint"
    r"|Esplanade|Promenade|Parvis|Résidence|Cité|Hameau|Villa)"
)
_FR_NAME = (
    rf"(?:(?:de{_H}la|de{_H}l['’]|du|des|de|d['’]|la|le|les|l['’]){_H}*)?[{UP}][{LOW}'’-]+"
    rf"(?:[ \t-]+(?:(?:de|du|des|la|le|les|et|sur|sous|en|aux|au)[ \t-]+)*[{UP}][{LOW}'’-]+){{0,4}}"
)
_FR_STREET = rf"\b[0-9]{{1,4}}(?:{_H}?(?:bis|ter|quater|[A-D]))?,?{_H}+{_FR_TYPE}{_H}+{_FR_NAME}"

_BR_STRONG = r"(?:Rua|R\.|Avenida|Av\.?|Alameda|Al\.|Travessa|Tv\.|Praça|Pça\.?|Estrada|Estr\.|Rodovia|Rod\.|Largo)"
_BR_WEAK = (
    r"(?:Aeroporto|Área|Campo|Chácara|Colônia|Condomínio|Conjunto|Distrito|Esplanada|Estação"
    r"|Favela|Fazenda|Feira|Jardim|Ladeira|Lago|Lagoa|Loteamento|Morro|Núcleo|Parque|Passarela"
    r"|Pátio|Praia|Quadra|Recanto|Residencial|Setor|Sítio|Trecho|Trevo|Vale|Vereda|Via|Viaduto"
    r"|Viela|Vila)"
)
_BR_NAME = (
    rf"(?:(?:da|de|do|das|dos){_H}+)*[{UP}][{LOW}'’-]+"
    rf"(?:{_H}+(?:(?:da|de|do|das|dos|e){_H}+)*[{UP}][{LOW}'’-]+|{_H}+[0-9]{{1,2}}{_H}+de{_H}+[{UP}][{LOW}]+){{0,5}}"
)
_BR_NUMBER = rf"(?:n[º°o.]*{_H}*)?[0-9]{{1,5}}[A-Za-z]?"
_BR_COMPLEMENT = (
    rf"(?:{_H}*[-,]{_H}*(?:apto?|apartamento|sala|bloco|casa|conj|cj|lote|loja|andar)\.?"
    rf"{_H}*[0-9A-Za-z]{{1,5}})?"
)
# `Via Mendonça`, `Via de Rios`: "via" is English too, so the name must be a known one.
_BR_VIA = rf"\bVia{_H}+(?P<via>{_BR_NAME})"
_BR_STREET = (
    rf"\b(?:{_BR_STRONG}{_H}+{_BR_NAME}(?:,{_H}*|{_H}+)|{_BR_WEAK}{_H}+{_BR_NAME}(?:,{_H}*|{_H}+n[º°o.]*{_H}*))"
    rf"{_BR_NUMBER}{_BR_COMPLEMENT}"
)

_TAIL = (
    "(?:"
    + "|".join(
        (
            rf"{_SEP}{_CITY},{_H}*[A-Z]{{2}}{_H}+[0-9]{{5}}(?:-[0-9]{{4}})?",  # US
            rf"{_SEP}(?:{_CITY}{_SEP})?[A-Z]{{1,2}}[0-9][A-Z0-9]?{_H}?[0-9][A-Z]{{2}}\b",  # GB
            rf"{_SEP}(?:[DF]-)?[0-9]{{5}}{_H}+{_CITY}(?:{_H}+CEDEX(?:{_H}+[0-9]{{1,2}})?)?",  # DE, FR
            rf"{_SEP}(?:{_CITY}{_SEP}){{0,2}}[0-9]{{5}}-?[0-9]{{3}}\b(?:{_H}+{_CITY}(?:{_H}*[/-]{_H}*[A-Z]{{2}}\b)?)?",  # BR
            rf"{_SEP}(?:{_CITY}{_H}*(?:[-–,]{_H}*)?)?[0-9]{{3}}{_H}?[0-9]{{3}}\b",  # IN
        )
    )
    + ")"
)
_MILITARY = (
    rf"\b(?:(?:(?:USNS|USNV|USS|USCGC){_H}+[{UP}][{LOW}]+|PSC{_H}[0-9]{{4}},{_H}Box{_H}[0-9]{{4}}"
    rf"|Unit{_H}[0-9]{{4}}{_H}Box{_H}[0-9]{{4}})(?:{_SEP}|{_H}+))?(?:APO|FPO|DPO){_H}+(?:AA|AE|AP){_H}+[0-9]{{5}}\b"
)
_LOCALITY = rf"[{UP}](?:['’][{UP}])?[{LOW}]+"  # `Sharma`, `D’Alia`
# Street lines the postcode block must confirm: no house number, or no street type.
_ANCHORED = (
    rf"\b(?:(?:{_FR_TYPE}{_H}+{_FR_NAME}|(?:{_BR_STRONG}|{_BR_WEAK}){_H}+{_BR_NAME}|{_EN_NAME}{_EN_TYPE})"
    rf"|[{UP}][{LOW}]+ring{_DE_NUMBER}"
    rf"|(?:{_UNIT}{_SEP})?{_HOUSE}(?:,?{_H}+|{_SEP}){_LOCALITY}(?:{_H}+{_LOCALITY}){{0,3}})"
)
# Street names alone, in the types that prose never uses for anything else (`rue Dumont`,
# `Avenida Paulista`): a street without its number is still where someone lives or works.
_NAMED = (
    rf"\b(?:(?:rue|avenue|boulevard|chemin|impasse|allée|quai){_H}+{_FR_NAME}"
    rf"|(?:{_BR_STRONG}|{_BR_WEAK.replace('|Via|', '|')}){_H}+{_BR_NAME})"
)
# An Indian house-number cue (`H.No. 12`) before a locality line.
_IN_HOUSE = (
    rf"\b(?:H\.?{_H}?No\.?|House{_H}No\.?|Door{_H}No\.?|Plot{_H}No\.?){_H}*[0-9]{{1,5}}"
    rf"(?:[-/][0-9]{{1,5}})?[A-Za-z]?{_SEP}[{UP}][{LOW}]+(?:{_H}+[{UP}][{LOW}]+){{0,3}}"
)
# An Indian house number and a locality named after a family (`43, Agarwal`, `97/946\nMishra`):
# the name must be a known family name, and the number not a count (`Chapter 3, Kumar`).
_IN_BARE = rf"\b[0-9]{{1,3}}(?:/[0-9]{{1,3}})?(?:,{_H}*|{_H}*\n{_H}*)(?P<family>{_LOCALITY})"
ADDRESS_REGEX = (
    rf"{_EN_STREET}(?P<tail>{_TAIL})?|(?:{_DE_STREET}|{_FR_STREET}|{_BR_STREET})(?:{_TAIL})?"
    rf"|{_ANCHORED}{_TAIL}|{_MILITARY}|(?:{_NAMED}|{_IN_HOUSE}|{_BR_VIA})(?:{_TAIL})?|{_IN_BARE}"
)
_ADDRESS = re.compile(ADDRESS_REGEX)
# The house number (or postcode) must not run on into a decimal: `Spring 5.3`, `Ring 2,50`.
_RUNS_ON = re.compile(r"[.,][0-9]|[0-9A-Za-z]")
ADDRESS_PREFILTERS: tuple[str, ...] = (ADDRESS_REGEX.replace(r"\b", ""),)


_WORD_NEXT = re.compile(r"[ \t]+\w")
# English gerunds whose stem is also a family name (`Lowering 5 thresholds`).
_ERING_WORDS = frozenset(("Lowering", "Bordering"))
# Words that count things before `12, Name`: not a house number.
_COUNTERS = frozenset((
    "chapter", "step", "page", "table", "row", "line", "item", "version", "figure", "fig",
    "section", "part", "room", "order", "ticket", "issue", "no", "number", "level", "grade",
    "round", "day", "week", "year", "question", "slide", "seat", "gate", "platform", "rank",
    "score", "top", "vol", "volume", "episode", "season", "game", "match", "lesson", "unit",
))  # fmt: skip


def _known_name(word: str) -> bool:
    g = gazetteer()
    return word in g.given or word in g.family


def _family(word: str) -> bool:
    g = gazetteer()
    return word in g.family and word.lower() not in g.common


def _valid(text: str, m: re.Match[str]) -> bool:
    """The checks a regex cannot make: known names where a pattern alone would be too broad."""
    kind = m.group("type")
    if kind is not None and not m.group("tail") and kind.rstrip(".") in _AMBIGUOUS:
        return _known_name(m.group("last").rstrip("."))
    if m.group("ering"):
        stem = m.group("stem") + m.group("ering")[0]
        word = stem + "ring"
        return len(stem) >= 4 and stem in gazetteer().family and word not in _ERING_WORDS
    if m.group("via") is not None:
        first = next(w for w in m.group("via").split() if w[:1].isupper())
        return _known_name(first) and first.lower() not in gazetteer().common
    if m.group("family") is not None:
        before = text[: m.start()].split()
        if before and before[-1].lower().rstrip(":") in _COUNTERS:
            return False
        # A family name that is a word too (`Das`, `More`) must end the line or the clause.
        word = m.group("family")
        return _family(word) or (word in gazetteer().family and not _WORD_NEXT.match(text, m.end()))
    return True


def _start(m: re.Match[str]) -> int:
    """Where the address starts: a word before a German street stays only if it is a name."""
    lead = m.group("lead")
    if lead and not _known_name(lead.strip()):
        return m.end("lead")
    return m.start()


def address_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the street addresses in `text`, left to right."""
    spans = []
    for m in _ADDRESS.finditer(text):
        start, end = _start(m), m.end()
        if start and (text[start - 1].isalnum() or text[start - 1] in "_.-/'’"):
            continue
        if _RUNS_ON.match(text, end) or not _valid(text, m):
            continue
        spans.append((start, end))
    return spans


def redact_addresses(text: str, marker: str) -> tuple[str, int]:
    """`text` with each address replaced by `marker`, and the number of addresses."""
    return replace_spans(text, address_spans(text), marker)
