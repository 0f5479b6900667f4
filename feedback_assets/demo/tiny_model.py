"""The demo's tiny real model: nearest-prompt retrieval over approved answers.

`fit` learns a TF-IDF vectorizer (lower-cased word unigrams and bigrams, sublinear term
frequency, smoothed IDF) over the training prompts; `answer` returns, for each query, the
response of the most similar training prompt (cosine similarity). The vocabulary is explicit, so
a saved model answers the same in every process. Files under the model's directory:
retrieval.json (metadata and vocabulary), retrieval_idf.npy, retrieval_prompts.npz (the prompt
matrix, CSR) and retrieval_examples.jsonl (the prompts and responses).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from scipy import sparse

from feedback_assets.domain.drift.embedding import TOKEN_PATTERN

FORMAT = "tfidf-nearest-prompt/1"
META_FILE = "retrieval.json"
IDF_FILE = "retrieval_idf.npy"
MATRIX_FILE = "retrieval_prompts.npz"
EXAMPLES_FILE = "retrieval_examples.jsonl"


class ModelFileError(Exception):
    """A saved model is missing a file or does not parse: the message names the file."""


@dataclass(frozen=True)
class RetrievalModel:
    prompts: list[str]
    responses: list[str]
    vocab: pl.DataFrame  # term (str) -> col (int64): the matrix column of each known term
    idf: np.ndarray  # float32 (n_terms,)
    matrix: sparse.csr_matrix  # (n_examples, n_terms), rows L2-normalized

    def __len__(self) -> int:
        return len(self.prompts)


@dataclass(frozen=True)
class Answers:
    index: np.ndarray  # int64 row of the matched training example, per query
    similarity: np.ndarray  # float32 cosine similarity of the match (0 when nothing matched)


def terms(texts: Sequence[str]) -> pl.DataFrame:
    """Long frame (doc: u32, term: str): each text's word unigrams and in-text bigrams."""
    frame = pl.DataFrame(
        {
            "doc": pl.int_range(0, len(texts), dtype=pl.UInt32, eager=True),
            "tok": pl.Series(list(texts), dtype=pl.String)
            .fill_null("")
            .str.to_lowercase()
            .str.extract_all(TOKEN_PATTERN),
        }
    )
    tokens = frame.explode("tok").drop_nulls("tok")
    bigrams = (
        tokens.with_columns(nxt=pl.col("tok").shift(-1), nxt_doc=pl.col("doc").shift(-1))
        .filter(pl.col("nxt_doc") == pl.col("doc"))
        .select("doc", term=pl.col("tok") + " " + pl.col("nxt"))
    )
    return pl.concat([tokens.rename({"tok": "term"}), bigrams])


def _tf_matrix(docs: pl.DataFrame, vocab: pl.DataFrame, n_docs: int) -> sparse.csr_matrix:
    """Sublinear term frequencies (1 + log count) of known terms, (n_docs, len(vocab))."""
    counted = (
        docs.join(vocab, on="term", how="inner").group_by("doc", "col").len().sort("doc", "col")
    )
    values = 1.0 + np.log(counted["len"].to_numpy().astype(np.float32))
    return sparse.csr_matrix(
        (values, (counted["doc"].to_numpy(), counted["col"].to_numpy())),
        shape=(n_docs, vocab.height),
        dtype=np.float32,
    )


def _normalize(m: sparse.csr_matrix) -> sparse.csr_matrix:
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sparse.csr_matrix(sparse.diags(scale.astype(np.float32)) @ m)


def fit(prompts: Sequence[str], responses: Sequence[str]) -> RetrievalModel:
    """A model answering each prompt with the response of its most similar training prompt."""
    if len(prompts) != len(responses):
        raise ValueError(f"responses: {len(responses)} rows but prompts has {len(prompts)}")
    if not prompts:
        raise ValueError("prompts: at least one training example is needed")
    docs = terms(prompts)
    df = docs.unique(["doc", "term"]).group_by("term").len().sort("term")
    vocab = df.select("term", col=pl.int_range(0, df.height, dtype=pl.Int64))
    n = len(prompts)
    idf = (np.log((1.0 + n) / (1.0 + df["len"].to_numpy())) + 1.0).astype(np.float32)
    tf = _tf_matrix(docs, vocab, n)
    matrix = _normalize(sparse.csr_matrix(tf @ sparse.diags(idf)))
    return RetrievalModel(
        prompts=[str(p) for p in prompts],
        responses=[str(r) for r in responses],
        vocab=vocab,
        idf=idf,
        matrix=matrix,
    )


def embed(model: RetrievalModel, texts: Sequence[str]) -> sparse.csr_matrix:
    """L2-normalized TF-IDF rows of `texts` in the model's vocabulary (unknown terms dropped)."""
    tf = _tf_matrix(terms(texts), model.vocab, len(texts))
    return _normalize(sparse.csr_matrix(tf @ sparse.diags(model.idf)))


def nearest(model: RetrievalModel, texts: Sequence[str]) -> Answers:
    """The most similar training example of each text (the first one on ties)."""
    if not texts:
        return Answers(np.zeros(0, np.int64), np.zeros(0, np.float32))
    sims = (embed(model, texts) @ model.matrix.T).toarray()
    index = sims.argmax(axis=1).astype(np.int64)
    return Answers(index, sims[np.arange(len(texts)), index].astype(np.float32))


def answer(model: RetrievalModel, texts: Sequence[str]) -> list[str]:
    """The approved response of the most similar training prompt, per text."""
    return [model.responses[i] for i in nearest(model, texts).index.tolist()]


def save(model: RetrievalModel, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    terms_by_col = model.vocab.sort("col")["term"].to_list()
    np.save(directory / IDF_FILE, model.idf, allow_pickle=False)
    sparse.save_npz(directory / MATRIX_FILE, model.matrix, compressed=True)
    with (directory / EXAMPLES_FILE).open("w", encoding="utf-8") as fh:
        for p, r in zip(model.prompts, model.responses, strict=True):
            fh.write(json.dumps({"prompt": p, "response": r}, ensure_ascii=False) + "\n")
    meta = {"format": FORMAT, "examples": len(model), "vocab": terms_by_col}
    # Metadata last: its presence marks a complete model (a server may be watching the dir).
    tmp = directory / (META_FILE + ".tmp")
    tmp.write_text(json.dumps(meta), encoding="utf-8")
    tmp.replace(directory / META_FILE)


def is_saved(directory: Path) -> bool:
    return (directory / META_FILE).is_file()


def load(directory: Path) -> RetrievalModel:
    try:
        meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
        idf = np.load(directory / IDF_FILE, allow_pickle=False)
        matrix = sparse.csr_matrix(sparse.load_npz(directory / MATRIX_FILE))
        examples = pl.read_ndjson(directory / EXAMPLES_FILE, schema=_EXAMPLE_SCHEMA)
    except (OSError, ValueError, pl.exceptions.PolarsError) as exc:
        raise ModelFileError(f"{directory}: cannot load the retrieval model ({exc})") from exc
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{directory / META_FILE}: format {meta.get('format')!r} != {FORMAT}")
    vocab = meta.get("vocab") or []
    if matrix.shape != (examples.height, len(vocab)) or idf.shape != (len(vocab),):
        raise ModelFileError(
            f"{directory}: shapes disagree (matrix {matrix.shape}, {examples.height} examples, "
            f"{len(vocab)} terms, idf {idf.shape})"
        )
    return RetrievalModel(
        prompts=examples["prompt"].to_list(),
        responses=examples["response"].to_list(),
        vocab=pl.DataFrame(
            {"term": vocab, "col": np.arange(len(vocab), dtype=np.int64)},
            schema={"term": pl.String, "col": pl.Int64},
        ),
        idf=idf.astype(np.float32),
        matrix=matrix,
    )


_EXAMPLE_SCHEMA = {"prompt": pl.String, "response": pl.String}
