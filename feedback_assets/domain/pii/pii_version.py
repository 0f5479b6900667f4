"""The pattern-set version: which redaction a text went through, recorded with it at ingest.

`sanitized_logs` skips redacting a row the SDK already redacted with the same pattern set (the
redaction is idempotent, so the result is the same) and redacts rows whose version differs or
is absent: older SDKs, `sanitize_at_source=False`, the collector, other custom patterns.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

import phonenumbers

from feedback_assets.domain.pii.pii_patterns import BUILTIN_STAGES

if TYPE_CHECKING:  # pii_optional imports pii_patterns too
    from feedback_assets.domain.pii.pii_optional import PiiRule

# Bump when the redaction changes without its patterns changing (validators, stage order).
REDACTION_REVISION = 2  # 2: phone groupings, name and address formats (session 5)
VERSION_LENGTH = 32  # events.pii_version


def pattern_set_version(custom: Sequence[PiiRule] = ()) -> str:
    """A short, stable digest of the built-in stages, the custom patterns, the optional stages
    switched on (person names, addresses) and the validators."""
    digest = hashlib.blake2b(digest_size=12)
    parts = [
        str(REDACTION_REVISION),
        phonenumbers.__version__,  # phone validation rules come with libphonenumber's metadata
        *(repr(spec) for spec in BUILTIN_STAGES),
        *(f"{p.name}\x1f{getattr(p, 'regex', 'optional stage')}" for p in custom),
    ]
    digest.update("\x1e".join(parts).encode())
    return f"{REDACTION_REVISION}-{digest.hexdigest()}"
