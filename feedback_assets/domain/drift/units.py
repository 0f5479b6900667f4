"""Independent units for the per-feature drift tests: one event per prompt asked in a session.

Why: a regeneration repeats its original's prompt, source, locale, model version and topic,
and its answer is drawn from the same topic and variant. Counted as separate rows, such pairs
make chi-square, KS and proportion tests treat one request as two independent observations and
overstate the evidence in the far tail, where a family-wise correction reads its p-values. The
tests run on units instead: the first event of each (session, prompt) group, the grouping
curation uses to pair a regeneration with its original. User ids are not used: when many
people share one id ("anonymous"), a common prompt would fold their requests into one. The
regenerate signal sits on that first event, so the regenerate rate keeps its meaning (the
share of requests the user asked again). The text tests already keep one event per prompt.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def independent_units(events: pd.DataFrame) -> pd.DataFrame:
    """`events` without repeats: the earliest event of each (session, prompt) group.

    Events with no session or no prompt are each their own unit. Order and index are kept.
    """
    if "session_id" not in events.columns or "prompt" not in events.columns or len(events) < 2:
        return events
    frame = pd.DataFrame(
        {
            "k": events["session_id"].astype("string").to_numpy(),
            "p": events["prompt"].astype("string").to_numpy(),
        }
    )
    ordered = frame
    if "timestamp" in events.columns:
        # Only the order matters; an unreadable timestamp sorts last instead of failing.
        ts = pd.to_datetime(events["timestamp"], utc=True, errors="coerce", format="mixed")
        frame["t"] = ts.to_numpy()
        ordered = frame.sort_values("t", kind="stable", na_position="last")
    order = ordered.index.to_numpy()
    repeat = ordered.duplicated(["k", "p"], keep="first") & ordered["k"].notna()
    repeat &= ordered["p"].notna()
    keep = np.ones(len(events), dtype=bool)
    keep[order[repeat.to_numpy()]] = False
    return events if keep.all() else events[keep]
