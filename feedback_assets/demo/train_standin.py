"""A small local training stand-in: a tiny real model trained on an export batch.

Run as `python -m feedback_assets.demo.train_standin` by the command launcher. It reads the
FEEDBACK_* variables, trains on the OpenAI chat JSONL (or the plain JSONL) export, writes
`<model_dir>/<version>/` (model_card.md, model.json with stats, unigram.json with the response
token counts, and the retrieval model of `tiny_model`: it answers a prompt with the approved
response of the most similar training prompt, and `model_server` serves it) and prints one JSON
line `{"model_version_id": ..., "job_id": ...}` last. Exit code 2 on missing or empty training
data, with the reason on stderr.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from feedback_assets.demo import tiny_model

TOKEN_PATTERN = r"[\w']+"
TOP_K = 25


class TrainingDataError(Exception):
    """Training cannot start: the message says which input and why."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def training_file(env: dict[str, str]) -> tuple[str, Path]:
    """The chat export if present, else the plain JSONL export."""
    for fmt, var in (
        ("openai_chat", "FEEDBACK_EXPORT_OPENAI_CHAT"),
        ("jsonl", "FEEDBACK_EXPORT_JSONL"),
    ):
        value = env.get(var)
        if value:
            path = Path(value)
            if not path.is_file():
                raise TrainingDataError(f"{var}: {path} does not exist or is not a file")
            return fmt, path
    raise TrainingDataError(
        "no training data: set FEEDBACK_EXPORT_OPENAI_CHAT or FEEDBACK_EXPORT_JSONL"
    )


def load_pairs(fmt: str, path: Path) -> pl.DataFrame:
    """Columns prompt, response: one row per training example."""
    if path.stat().st_size == 0:
        raise TrainingDataError(f"{path}: training file is empty")
    try:
        raw = pl.read_ndjson(path)
    except Exception as exc:  # polars raises several error types for malformed JSON
        raise TrainingDataError(f"{path}: not valid JSON lines ({exc})") from exc
    if fmt == "openai_chat":
        if "messages" not in raw.columns:
            raise TrainingDataError(f"{path}: chat export rows lack 'messages'")
        msgs = (
            raw.with_row_index("example")
            .explode("messages")
            .unnest("messages")
            .select("example", "role", "content")
        )
        pairs = (
            msgs.group_by("example", maintain_order=True)
            .agg(
                pl.col("content").filter(pl.col("role") == "user").last().alias("prompt"),
                pl.col("content").filter(pl.col("role") == "assistant").last().alias("response"),
            )
            .drop("example")
        )
    else:
        missing = {"prompt", "response"} - set(raw.columns)
        if missing:
            raise TrainingDataError(f"{path}: jsonl rows lack {sorted(missing)}")
        pairs = raw.select("prompt", "response")
    pairs = pairs.filter(
        pl.col("response").is_not_null() & (pl.col("response").str.len_chars() > 0)
    )
    if pairs.height == 0:
        raise TrainingDataError(f"{path}: no example with a non-empty assistant response")
    return pairs


def fit_unigram(responses: pl.Series) -> dict[str, Any]:
    """Token counts plus held-out perplexity (every 10th example held out, add-one smoothing)."""
    tokens = (
        pl.DataFrame({"text": responses})
        .with_row_index("i")
        .with_columns(pl.col("text").str.to_lowercase().str.extract_all(TOKEN_PATTERN).alias("tok"))
    )
    exploded = tokens.select("i", "tok").explode("tok").drop_nulls("tok")
    held = exploded.filter(pl.col("i") % 10 == 9)
    train = exploded.filter(pl.col("i") % 10 != 9)
    counts = train.group_by("tok").len().sort(["len", "tok"], descending=[True, False])
    total = int(counts["len"].sum()) if counts.height else 0
    vocab = counts.height
    perplexity: float | None = None
    if held.height and total:
        joined = held.join(counts, on="tok", how="left").with_columns(pl.col("len").fill_null(0))
        # +1 in the vocab for the unseen-token bucket.
        logp = ((joined["len"] + 1) / (total + vocab + 1)).log()
        perplexity = float(math.exp(-float(logp.mean())))  # type: ignore[arg-type]
    return {
        "train_tokens": total,
        "held_out_tokens": held.height,
        "vocab_size": vocab,
        "held_out_perplexity": perplexity,
        "top_tokens": [[t, int(n)] for t, n in counts.head(TOP_K).iter_rows()],
        "counts": dict(counts.iter_rows()),
    }


def usable_id(value: str) -> bool:
    """A model id that names one directory under the model dir."""
    return bool(value) and "/" not in value and "\\" not in value and value not in (".", "..")


def fit_retrieval(
    pairs: pl.DataFrame, model_root: Path, base: str | None
) -> tuple[tiny_model.RetrievalModel, int]:
    """The retrieval model of the new examples, continuing from the base model when the base is
    a tiny model trained here (as a fine-tune starts from its base): the base's examples come
    after the new ones, so a newly approved answer wins a tie. Returns it and the base's count."""
    prompts, responses = pairs["prompt"].to_list(), pairs["response"].to_list()
    base_dir = model_root / base if base is not None and usable_id(base) else None
    if base_dir is None or not tiny_model.is_saved(base_dir):
        return tiny_model.fit(prompts, responses), 0
    try:
        previous = tiny_model.load(base_dir)
    except tiny_model.ModelFileError as exc:
        raise TrainingDataError(f"FEEDBACK_BASE_MODEL_VERSION: {exc}") from exc
    model = tiny_model.fit(prompts + previous.prompts, responses + previous.responses)
    return model, len(previous)


def train(env: dict[str, str]) -> dict[str, Any]:
    version = env.get("FEEDBACK_NEW_MODEL_VERSION", "")
    if not usable_id(version):
        raise TrainingDataError(f"FEEDBACK_NEW_MODEL_VERSION: {version!r} is not a usable id")
    fmt, path = training_file(env)
    pairs = load_pairs(fmt, path)
    model = fit_unigram(pairs["response"])
    pairs = pairs.filter(pl.col("prompt").is_not_null())
    if pairs.height == 0:
        raise TrainingDataError(f"{path}: no example has a user prompt")
    model_root = Path(env.get("FEEDBACK_MODEL_DIR") or "data/models")
    base = env.get("FEEDBACK_BASE_MODEL_VERSION") or None
    retrieval, base_examples = fit_retrieval(pairs, model_root, base)
    out_dir = model_root / version
    out_dir.mkdir(parents=True, exist_ok=True)
    job_id = f"standin-{uuid.uuid4().hex[:12]}"
    stats = {
        "model_version_id": version,
        "job_id": job_id,
        "deployment_id": env.get("FEEDBACK_DEPLOYMENT_ID", ""),
        "base_model_version_id": env.get("FEEDBACK_BASE_MODEL_VERSION") or None,
        "export_batch_id": env.get("FEEDBACK_EXPORT_BATCH_ID", ""),
        "export_manifest": env.get("FEEDBACK_EXPORT_MANIFEST", ""),
        "training_file": str(path),
        "training_format": fmt,
        "training_file_sha256": _sha256(path),
        "examples": pairs.height,
        "mean_response_chars": float(pairs["response"].str.len_chars().mean()),  # type: ignore[arg-type]
        "trigger_reasons": json.loads(env.get("FEEDBACK_TRIGGER_REASONS") or "[]"),
        "trained_at": datetime.now(UTC).isoformat(),
        **{k: v for k, v in model.items() if k != "counts"},
        "retrieval_format": tiny_model.FORMAT,
        "retrieval_examples": len(retrieval),
        "retrieval_examples_from_base": base_examples,
        "retrieval_terms": retrieval.vocab.height,
    }
    tiny_model.save(retrieval, out_dir)
    (out_dir / "unigram.json").write_text(json.dumps(model["counts"]), encoding="utf-8")
    (out_dir / "model.json").write_text(json.dumps(stats, indent=2), encoding="utf-8")
    (out_dir / "model_card.md").write_text(model_card(stats), encoding="utf-8")
    return stats


def model_card(stats: dict[str, Any]) -> str:
    ppl = stats["held_out_perplexity"]
    top = ", ".join(f"`{t}` ({n})" for t, n in stats["top_tokens"][:10])
    reasons = "\n".join(f"- {r}" for r in stats["trigger_reasons"]) or "- (none recorded)"
    return f"""# Model card: {stats["model_version_id"]}

A retrieval model trained by the local stand-in: it answers a prompt with the approved response
of the most similar training prompt (TF-IDF over word uni- and bigrams, cosine similarity).
Beside it, a unigram language model of the responses gives the statistics below.

| field | value |
|---|---|
| deployment | {stats["deployment_id"]} |
| base model version | {stats["base_model_version_id"] or "-"} |
| export batch | {stats["export_batch_id"]} |
| training file | {stats["training_file"]} ({stats["training_format"]}) |
| training file sha256 | {stats["training_file_sha256"]} |
| examples | {stats["examples"]} |
| retrieval examples | {stats["retrieval_examples"]} |
| of them from the base model | {stats["retrieval_examples_from_base"]} |
| retrieval terms | {stats["retrieval_terms"]} |
| train tokens | {stats["train_tokens"]} |
| vocabulary | {stats["vocab_size"]} |
| held-out perplexity | {"-" if ppl is None else f"{ppl:.2f}"} |
| trained at | {stats["trained_at"]} |

## Why it was retrained
{reasons}

## Most frequent tokens
{top}
"""


def main() -> int:
    try:
        stats = train(dict(os.environ))
    except TrainingDataError as exc:
        print(f"train_standin: {exc}", file=sys.stderr)
        return 2
    print(
        f"trained {stats['model_version_id']} on {stats['examples']} examples "
        f"({stats['train_tokens']} tokens, vocab {stats['vocab_size']})"
    )
    print(json.dumps({"model_version_id": stats["model_version_id"], "job_id": stats["job_id"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
