"""Optional built-in stages (person names, street addresses): off by default, switched on by
configuration (FEEDBACK_PII_STAGES=person,address), and carried with the custom patterns.

A deployment's PII rules are one tuple, `PiiRule`s: its custom patterns (`PiiPattern`) and the
optional stages it enabled (`OptionalStage`). Every sanitize function takes that tuple, so the
stages reach the client, the sanitized_logs asset and the live windows the way custom patterns
do. Optional stages run after the built-ins: ADDRESS before PERSON, since street names hold
person names (`Karl-Marx-Allee 3`, `Rua João Silva, 12`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from feedback_assets.domain.pii.pii_addresses import ADDRESS_PREFILTERS, redact_addresses
from feedback_assets.domain.pii.pii_names import name_prefilters, redact_names
from feedback_assets.domain.pii.pii_patterns import PiiPattern, parse_custom_patterns

# Setting value -> stage (and marker) name, in the order the stages run.
OPTIONAL_STAGES: dict[str, str] = {"address": "ADDRESS", "person": "PERSON"}
OPTIONAL_ENTITY_TYPES: tuple[str, ...] = tuple(OPTIONAL_STAGES.values())


@dataclass(frozen=True)
class OptionalStage:
    """An optional built-in stage a deployment switched on; `name` is its marker name."""

    name: str

    def __post_init__(self) -> None:
        if self.name not in OPTIONAL_ENTITY_TYPES:
            raise ValueError(
                f"PII stage {self.name!r}: unknown; optional stages are {list(OPTIONAL_STAGES)}"
            )


PiiRule: TypeAlias = PiiPattern | OptionalStage


@dataclass(frozen=True)
class ScanSpec:
    """How an optional stage runs: its scalar redaction and its row prefilters (Rust)."""

    name: str
    redact: Callable[[str, str], tuple[str, int]]
    prefilters: tuple[str, ...]
    min_digits: int  # fewest digits a match holds (a cheap scalar skip)


@functools.cache
def scan_specs() -> dict[str, ScanSpec]:
    """Built on first use: the name prefilters need the gazetteer."""
    return {
        "ADDRESS": ScanSpec("ADDRESS", redact_addresses, ADDRESS_PREFILTERS, 0),
        "PERSON": ScanSpec("PERSON", redact_names, name_prefilters(), 0),
    }


def parse_pii_stages(spec: str | Sequence[str] | None) -> tuple[OptionalStage, ...]:
    """`person,address` (any case, any order) -> the stages, in their running order."""
    if spec is None:
        return ()
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    wanted = {item.strip().lower() for item in items if item.strip()}
    unknown = sorted(wanted - OPTIONAL_STAGES.keys())
    if unknown:
        raise ValueError(
            f"PII stages: unknown {unknown}; the optional stages are {list(OPTIONAL_STAGES)}"
        )
    return tuple(OptionalStage(name) for key, name in OPTIONAL_STAGES.items() if key in wanted)


def pii_rules(
    patterns: str | Sequence[Mapping[str, str]] | None,
    stages: str | Sequence[str] | None = None,
) -> tuple[PiiRule, ...]:
    """A deployment's PII rules: its custom patterns, then the optional stages it enabled."""
    return (*parse_custom_patterns(patterns), *parse_pii_stages(stages))
