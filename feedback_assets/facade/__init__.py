"""Store-side helpers behind feedback_assets.api (no Dagster)."""
