"""Signal types and the ONE weight table (the original had three that disagreed)."""

from __future__ import annotations

from collections.abc import Mapping

from feedback_assets.domain.records import SIGNAL_TYPES

# The original library's priors.
DEFAULT_SIGNAL_WEIGHTS: Mapping[str, float] = {
    "thumbs_up": 3.0,
    "copy": 2.0,
    "share": 2.0,
    "edit": 5.0,
    "regenerate": -1.0,
    "thumbs_down": -2.0,
    "report": -3.0,
}
EXPLICIT_SIGNALS: frozenset[str] = frozenset({"thumbs_up", "thumbs_down", "edit", "report"})
IMPLICIT_SIGNALS: frozenset[str] = frozenset({"copy", "share", "regenerate"})
POSITIVE_SIGNALS: frozenset[str] = frozenset({"thumbs_up", "copy", "share", "edit"})
NEGATIVE_SIGNALS: frozenset[str] = frozenset({"thumbs_down", "regenerate", "report"})

assert set(DEFAULT_SIGNAL_WEIGHTS) == set(SIGNAL_TYPES) == EXPLICIT_SIGNALS | IMPLICIT_SIGNALS
