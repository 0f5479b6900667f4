"""Text embedder resource: offline hashing (default), OpenAI-compatible API, sentence-transformers.

Every kind returns L2-normalized float32 vectors, one row per input text.
"""

import functools
from collections.abc import Sequence
from typing import Any

import dagster as dg
import numpy as np
from pydantic import Field, PrivateAttr

from feedback_assets.domain.drift.embedding import hashing_embed
from feedback_assets.resources.circuit import (
    DEFAULT_COOLDOWN_S,
    DEFAULT_THRESHOLD,
    CircuitBreaker,
    shared_circuit,
)

KINDS = ("hashing", "openai", "sentence_transformers")
HASHING_CHUNK = 4096  # texts per hashing_embed call


def _normalize(vectors: np.ndarray) -> np.ndarray:
    arr = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    return np.divide(arr, norms, out=np.zeros_like(arr), where=norms > 0)


class EmbedderResource(dg.ConfigurableResource):
    """Pluggable embedder for drift detection and diversity curation."""

    kind: str = Field(default="hashing", description="hashing | openai | sentence_transformers")
    dim: int = Field(default=256, description="Output dimension of the hashing embedder.")
    base_url: str | None = Field(default=None, description="OpenAI-compatible API base URL.")
    api_key: str | None = Field(default=None, description="API key; pass dg.EnvVar(...).")
    model: str = Field(default="text-embedding-3-small", description="Embedding model name.")
    batch_size: int = Field(default=256, description="Texts per API / model call.")
    seed: int = Field(default=0, description="Seed of the hashing embedder's projection.")
    timeout_s: float = Field(default=60.0, description="Per-request timeout (openai kind).")
    circuit_failures: int = Field(
        default=DEFAULT_THRESHOLD,
        ge=1,
        description="Failed API calls in a row after which the rest of the run skips the API.",
    )
    circuit_state_dir: str | None = Field(
        default=None, description="where an open circuit is remembered across runs"
    )
    circuit_cooldown_s: float = Field(
        default=DEFAULT_COOLDOWN_S, ge=0, description="how long later runs skip a failed API"
    )
    _circuit: CircuitBreaker | None = PrivateAttr(default=None)

    @property
    def circuit(self) -> CircuitBreaker:
        """This run's breaker for the embeddings API (one resource instance per run)."""
        if self._circuit is None:
            self._circuit = shared_circuit(
                "embedder", self.circuit_failures, self.circuit_state_dir, self.circuit_cooldown_s
            )
        return self._circuit

    def circuit_metadata(self) -> dict[str, object]:
        """`embedder_circuit_open` and its reason, for an asset's metadata."""
        return self.circuit.metadata()

    def identity(self) -> str:
        """Which vectors this embedder makes: cached embeddings are reused only from the same."""
        return ":".join(str(v) for v in (self.kind, self.base_url, self.model, self.dim, self.seed))

    def embed_or_none(self, texts: list[str]) -> tuple[np.ndarray | None, str | None]:
        """Vectors, or None and the reason when the embeddings endpoint failed or its circuit is
        open: an outage must not fail the asset, which then runs without this run's embeddings."""
        try:
            return self.embed(texts), None
        except Exception as exc:
            if self.kind == "hashing":
                raise  # offline and local: a failure here is a bug, not an outage
            return None, self.circuit.reason or f"embedder: {type(exc).__name__}: {exc}"[:300]

    def embed(self, texts: list[str]) -> np.ndarray:
        if self.kind not in KINDS:
            raise ValueError(f"kind: must be one of {KINDS}, got {self.kind!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {self.batch_size}")
        if self.kind == "hashing":
            # Each text's vector is its own: chunks bound the token tables (1.3 GB for 66k
            # texts of 1 KB at once, measured) and give the same rows.
            parts = [
                hashing_embed(texts[i : i + HASHING_CHUNK], dim=self.dim, seed=self.seed)
                for i in range(0, len(texts), HASHING_CHUNK)
            ]
            return np.concatenate(parts) if parts else hashing_embed([], self.dim, self.seed)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.kind == "openai":
            return self._openai(texts)
        return self._sentence_transformers(texts)

    def _batches(self, texts: Sequence[str]) -> list[list[str]]:
        step = self.batch_size
        return [list(texts[i : i + step]) for i in range(0, len(texts), step)]

    def _openai(self, texts: list[str]) -> np.ndarray:
        import openai

        breaker = self.circuit
        breaker.check()  # CircuitOpenError: the API kept failing earlier in this run
        client = openai.OpenAI(base_url=self.base_url, api_key=self.api_key, timeout=self.timeout_s)
        rows: list[list[float]] = []
        for batch in self._batches(texts):
            # The API rejects empty strings; a space embeds as "nothing said".
            cleaned = [t if t else " " for t in batch]
            breaker.check()
            try:
                response = client.embeddings.create(model=self.model, input=cleaned)
            except openai.APIError as exc:
                breaker.failure(f"{type(exc).__name__}: {exc}")
                raise
            breaker.success()
            ordered = sorted(response.data, key=lambda d: d.index)
            if len(ordered) != len(batch):
                raise RuntimeError(
                    f"embeddings: API returned {len(ordered)} vectors for {len(batch)} inputs"
                )
            rows.extend(list(d.embedding) for d in ordered)
        return _normalize(np.asarray(rows, dtype=np.float32))

    def _sentence_transformers(self, texts: list[str]) -> np.ndarray:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise RuntimeError(
                "kind: 'sentence_transformers' needs the sentence-transformers package "
                "(pip install sentence-transformers) and a locally available model"
            ) from exc
        model = _sentence_model(SentenceTransformer, self.model)  # loaded once per process
        vectors = model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True)
        return _normalize(np.asarray(vectors))


@functools.cache
def _sentence_model(factory: Any, name: str) -> Any:
    # Curation embeds in chunks: loading the model per call would load it once per chunk.
    return factory(name)
