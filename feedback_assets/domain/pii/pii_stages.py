"""The redaction stages: each built-in pattern compiled for Python `re` and for Rust (polars),
with its cheap gates, and the scalar application of one stage to one text. See `sanitize`.

Order: custom patterns, the built-ins (ENTITY_TYPES), then the optional stages the rules
enable (`pii_optional`), kind "scan": a Python function redacts, Rust prefilters pick rows."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

from feedback_assets.domain.pii.pii_optional import (
    OptionalStage,
    PiiRule,
    ScanSpec,
    scan_specs,
)
from feedback_assets.domain.pii.pii_patterns import (
    BUILTIN_STAGES,
    PiiPattern,
    card_ok,
    iban_prefix_len,
    ip_ok,
    phone_prefix_len,
    python_pattern,
    rust_pattern,
)


@dataclass(frozen=True)
class Stage:
    name: str
    py: re.Pattern[str]
    rust: str
    kind: str  # "replace" | "card" | "rows", see pii_patterns.StageSpec
    prefilters: tuple[str, ...]
    gates: tuple[str, ...]
    gate_groups: tuple[tuple[str, tuple[str, ...]], ...]
    shape_literals: tuple[bytes, ...]  # shapes that are plain strings: a C substring test
    shapes: tuple[re.Pattern[bytes], ...]
    min_digits: int
    marker: str
    marker_proof: bool
    scan: Callable[[str, str], tuple[str, int]] | None = None  # kind "scan": redact(text, marker)

    def may_match(self, text: str, shape: bytes | None, digits: int = 0) -> bool:
        """Cheap necessary condition for a match (False: the stage cannot change the text)."""
        # map(text.__contains__) keeps the substring tests in C (a generator costs ~3x more)
        if self.gate_groups:
            if not any(
                (not char or char in text) and any(map(text.__contains__, group))
                for char, group in self.gate_groups
            ):
                return False
        elif self.gates and not any(map(text.__contains__, self.gates)):
            return False
        if shape is None or not (self.shapes or self.shape_literals):
            return True
        if digits < self.min_digits:
            return False
        return any(map(shape.__contains__, self.shape_literals)) or any(
            g.search(shape) for g in self.shapes
        )


def _literal(pattern: str) -> str | None:
    """The text a regex matches when it is a plain (possibly escaped) string, else None."""
    text = re.sub(r"\\([^A-Za-z0-9])", r"\1", pattern)
    plain = not re.search(
        r"\\[A-Za-z0-9]|[.^$*+?{}\[\]()|]", re.sub(r"\\[^A-Za-z0-9]", "", pattern)
    )
    return text if plain else None


@functools.lru_cache(maxsize=64)
def stages_for(custom: tuple[PiiRule, ...]) -> tuple[Stage, ...]:
    patterns = [p for p in custom if isinstance(p, PiiPattern)]
    enabled = {p.name for p in custom if isinstance(p, OptionalStage)}
    out = [
        Stage(
            p.name,
            re.compile(p.regex),
            p.regex,
            "replace",
            (),
            (),
            (),
            (),
            (),
            0,
            f"[{p.name}]",
            False,
        )
        for p in patterns
    ]
    for spec in BUILTIN_STAGES:
        out.append(
            Stage(
                spec.name,
                python_pattern(spec),
                rust_pattern(spec.regex),
                spec.kind,
                tuple(rust_pattern(p) for p in spec.prefilters),
                spec.gates,
                spec.gate_groups,
                tuple(lit.encode() for g in spec.shapes if (lit := _literal(g)) is not None),
                tuple(re.compile(g.encode()) for g in spec.shapes if _literal(g) is None),
                spec.min_digits,
                f"[{spec.name}]",
                spec.marker_proof,
            )
        )
    for name, scan in scan_specs().items():
        if name in enabled:
            out.append(_scan_stage(scan))
    return tuple(out)


def _scan_stage(spec: ScanSpec) -> Stage:
    digit = (b"0",) if spec.min_digits else ()
    rust = spec.prefilters[0]
    return Stage(
        spec.name, re.compile(""), rust, "scan", spec.prefilters, (), (), digit, (),
        spec.min_digits, f"[{spec.name}]", False, spec.redact,
    )  # fmt: skip


# --- scalar path ---------------------------------------------------------------------------


def scalar_stage(stage: Stage, text: str) -> tuple[str, int]:
    """One stage on one text (callers may skip it when `may_match` is False)."""
    if stage.gates and not stage.may_match(text, None):
        return text, 0
    if stage.kind == "replace":
        return stage.py.subn(stage.marker, text)
    if stage.scan is not None:
        return stage.scan(text, stage.marker)
    if stage.kind == "card":
        return _validated(stage, text, lambda cand: len(cand) if card_ok(cand) else 0)
    if stage.name == "IBAN":
        return _validated(stage, text, iban_prefix_len)
    if stage.name == "PHONE":
        return _validated(stage, text, phone_prefix_len)
    hits = 0

    def repl(m: re.Match[str]) -> str:
        nonlocal hits
        cand = m.group(0)
        ok = ip_ok(cand, text[m.start() - 1] if m.start() else "")
        hits += ok
        return stage.marker if ok else cand

    return stage.py.sub(repl, text), hits


def _validated(stage: Stage, text: str, valid_len: Callable[[str], int]) -> tuple[str, int]:
    """Redact the valid prefix of each candidate (`valid_len`: its length, 0 if none). After a
    candidate fails, the search resumes inside it, so a card or IBAN glued behind groups that
    fail (`010 0000 4002 2122 0001 2244`, `AD00 DE89 3704 ...`) is not hidden; after a valid
    prefix, it resumes at the prefix's end, so words the candidate swallowed are searched too.
    A negative `valid_len` skips the candidate whole."""
    parts: list[str] = []
    last = pos = hits = 0
    while (m := stage.py.search(text, pos)) is not None:
        keep = valid_len(m.group(0))
        if keep > 0:
            parts += [text[last : m.start()], stage.marker]
            last = pos = m.start() + keep
            hits += 1
        elif keep < 0:  # something else whole (a UUID): nothing inside it is searched
            pos = m.end()
        else:
            pos = m.start() + 1  # a candidate starts at a word boundary: inner group starts only
    parts.append(text[last:])
    return "".join(parts), hits
