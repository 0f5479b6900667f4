import sys

import dagster as dg
import numpy as np
import pytest

from feedback_assets.domain.drift.embedding import hashing_embed
from feedback_assets.resources.embedder import EmbedderResource
from feedback_assets_tests.openai_server import EMBEDDING_DIM, OpenAICompatServer, hash_embedding


def test_hashing_kind_matches_domain_embedder_and_is_normalized():
    texts = ["refund my order please", "deploy the helm chart", ""]
    out = EmbedderResource(dim=64, seed=3).embed(texts)
    assert out.shape == (3, 64) and out.dtype == np.float32
    np.testing.assert_array_equal(out, hashing_embed(texts, dim=64, seed=3))
    np.testing.assert_allclose(np.linalg.norm(out[:2], axis=1), 1.0, rtol=1e-5)
    assert not out[2].any()  # empty text -> zero vector, not NaN


def test_hashing_in_chunks_gives_the_rows_of_one_call():
    from feedback_assets.resources import embedder

    texts = [
        f"order {i} was late, refund {i % 7} please" for i in range(2 * embedder.HASHING_CHUNK + 5)
    ]
    texts[embedder.HASHING_CHUNK] = ""  # an empty text first in a chunk
    out = EmbedderResource(dim=32, seed=1).embed(texts)
    np.testing.assert_array_equal(out, hashing_embed(texts, dim=32, seed=1))
    assert EmbedderResource(dim=32).embed([]).shape == (0, 32)


def test_unknown_kind_is_a_clear_error():
    with pytest.raises(ValueError, match="kind"):
        EmbedderResource(kind="word2vec").embed(["x"])


def test_sentence_transformers_kind_without_package_names_the_fix(monkeypatch: pytest.MonkeyPatch):
    # None in sys.modules makes the import fail, installed or not: the missing-package path.
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(RuntimeError, match="sentence-transformers"):
        EmbedderResource(kind="sentence_transformers").embed(["x"])


def test_resource_is_usable_from_an_asset():
    @dg.asset
    def embedded(embedder: EmbedderResource) -> dg.MaterializeResult:
        vectors = embedder.embed(["a b c", "d e f"])
        return dg.MaterializeResult(metadata={"dim": int(vectors.shape[1])})

    result = dg.materialize([embedded], resources={"embedder": EmbedderResource(dim=32)})
    assert result.success
    mats = result.asset_materializations_for_node("embedded")
    assert mats[0].metadata["dim"].value == 32


def test_openai_kind_batches_orders_and_normalizes():
    texts = [f"text number {i}" for i in range(7)] + [""]
    with OpenAICompatServer() as server:
        resource = EmbedderResource(
            kind="openai", base_url=server.base_url, api_key="test", model="emb", batch_size=3
        )
        out = resource.embed(texts)
        calls = [r for r in server.requests if r["path"].endswith("/embeddings")]
    assert out.shape == (8, EMBEDDING_DIM) and out.dtype == np.float32
    assert len(calls) == 3  # ceil(8 / 3) batches
    assert calls[0]["json"]["model"] == "emb"
    assert calls[-1]["json"]["input"][-1] == " "  # empty text sent as a space
    expected = np.asarray(hash_embedding("text number 4"), dtype=np.float32)
    np.testing.assert_allclose(out[4], expected, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)
