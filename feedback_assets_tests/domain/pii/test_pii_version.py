"""The pattern-set version and sanitize_logs' fast path (rows the SDK already redacted)."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from feedback_assets.demo.traffic import generate_stream
from feedback_assets.domain.pii.pii_version import pattern_set_version
from feedback_assets.domain.pii.sanitize import PiiPattern, sanitize_column
from feedback_assets.domain.pii.sanitize_json import sanitize_json_column
from feedback_assets.domain.pii.sanitized_logs import leak_counts, sanitize_logs

PII = (
    " mail jane.doe@example.com",
    " card 4111 1111 1111 1111",
    " call +1 (415) 555-0134",
    " ip 10.2.3.44",
)
CUSTOM = (PiiPattern("TICKET", r"TCK-[0-9]{6}"),)


def test_version_is_stable_and_names_the_custom_patterns() -> None:
    assert pattern_set_version() == pattern_set_version(())
    assert pattern_set_version(CUSTOM) != pattern_set_version()
    assert pattern_set_version(CUSTOM) == pattern_set_version(tuple(CUSTOM))
    assert len(pattern_set_version(CUSTOM)) <= 32  # events.pii_version


def _events(n: int = 240) -> pd.DataFrame:
    events, _ = generate_stream(n, seed=5, deployment_id="support-bot")
    pii = [PII[i % len(PII)] if i % 3 == 0 else "" for i in range(n)]
    events["prompt"] = events["prompt"] + pd.Series(pii) + "  "  # trailing blanks: normalized
    events["response"] = events["response"] + pd.Series(pii[::-1]) + " TCK-123456"
    events["metadata"] = '{"note": "reach me at jane.doe@example.com", "topic": "billing"}'
    return events


def _sdk_redact(events: pd.DataFrame, rows: pd.Series, version: str | None) -> pd.DataFrame:
    """What the SDK stores: the chosen rows redacted at source and stamped with `version`."""
    out = events.copy()
    for col in ("prompt", "response"):
        cleaned, _ = sanitize_column(pa.array(out.loc[rows, col], pa.large_string()), CUSTOM)
        out.loc[rows, col] = cleaned.to_pylist()
    meta, _ = sanitize_json_column(pa.array(out.loc[rows, "metadata"], pa.large_string()), CUSTOM)
    out.loc[rows, "metadata"] = meta.to_pylist()
    out["pii_version"] = None
    out.loc[rows, "pii_version"] = version
    return out


def test_fast_path_gives_exactly_the_rows_of_the_full_redaction() -> None:
    current = pattern_set_version(CUSTOM)
    raw = _events()
    index = pd.Series(range(len(raw)))
    # A mix: redacted with this set, with an older set (raw PII kept by that SDK), not at all.
    stored = _sdk_redact(raw, index % 3 != 2, current)
    stored.loc[index % 5 == 0, "pii_version"] = "0-older"
    stored.loc[index % 5 == 0, "prompt"] = raw.loc[index % 5 == 0, "prompt"]
    signals = pd.DataFrame(columns=["edited_response", "metadata"])
    full = sanitize_logs(stored, signals, CUSTOM)
    fast = sanitize_logs(stored, signals, CUSTOM, current)
    pd.testing.assert_frame_equal(fast.events, full.events)
    assert fast.redactions == full.redactions  # the skipped rows held nothing to redact
    assert full.redactions["EMAIL"] > 0 and full.redactions["TICKET"] > 0
    assert not any(leak_counts(fast.events, ("prompt", "response", "metadata"), CUSTOM).values())
    # Rows stamped with the current set are skipped, so the PII left in them (a stamp that lies)
    # is not redacted by the fast path: the no_pii_leak check's full scan is what catches that.
    lying = stored.assign(pii_version=current)
    lying.loc[0, "prompt"] = "mail jane.doe@example.com"
    kept = sanitize_logs(lying, signals, CUSTOM, current)
    assert leak_counts(kept.events, ("prompt",), CUSTOM).get("EMAIL", 0) >= 1


def test_no_version_column_redacts_every_row() -> None:
    raw = _events(60)
    signals = pd.DataFrame(columns=["edited_response", "metadata"])
    pd.testing.assert_frame_equal(
        sanitize_logs(raw, signals, CUSTOM, pattern_set_version(CUSTOM)).events,
        sanitize_logs(raw, signals, CUSTOM).events,
    )
