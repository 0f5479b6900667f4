"""Every input is either an accepted event or a ValidationError naming its field, with a message
any encoder can carry: lone surrogates in keys and values, deep or cyclic nesting, objects whose
__repr__/__str__/__hash__ raise, and Mappings that cannot be read. An empty response is valid."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedback_assets.domain.ingest.validate import ValidationError, validate_event, validate_signal
from feedback_assets.domain.ingest.validate_batch import validate_event_batch
from feedback_assets.domain.ingest.values import json_safe
from feedback_assets.domain.records import EVENT_COLUMNS

NOW = datetime(2026, 11, 30, tzinfo=UTC)
BASE = {"deployment_id": "d", "prompt": "p", "response": "r"}


class Hostile:
    """A value whose every introspection raises."""

    def __repr__(self) -> str:
        raise RuntimeError("repr boom")

    def __str__(self) -> str:
        raise RuntimeError("str boom")

    def __hash__(self) -> int:
        raise RuntimeError("hash boom")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq boom")


class HashableHostile(Hostile):
    """Usable as a key: its hash is its identity, so __eq__ is never needed in a dict."""

    def __hash__(self) -> int:
        return id(self)


class Colliding(Hostile):
    """Hashes like the deployment id "d", so a set of ids compares it (and __eq__ raises)."""

    def __hash__(self) -> int:
        return hash("d")


class Unreadable(Mapping[str, Any]):
    """A Mapping whose iteration raises."""

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("getitem boom")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("iter boom")

    def __len__(self) -> int:
        return 3


def _deep(levels: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    node = root
    for _ in range(levels):
        node["a"] = {}
        node = node["a"]
    return root


def _cyclic() -> dict[str, Any]:
    d: dict[str, Any] = {}
    d["self"] = d
    return d


def _cyclic_list() -> dict[str, Any]:
    items: list[Any] = []
    items.append(items)
    return {"l": items}


CASES: list[tuple[str, dict[Any, Any], list[str]]] = [
    ("surrogate user_id", {**BASE, "user_id": "u\ud800"}, ["user_id"]),
    ("surrogate field name", {**BASE, "x\ud800": 1}, ["x\\ud800"]),
    ("surrogate metadata key", {**BASE, "metadata": {"k\udfff": 1}}, ["metadata"]),
    ("metadata 3000 deep", {**BASE, "metadata": _deep(3000)}, ["metadata"]),
    ("cyclic metadata", {**BASE, "metadata": _cyclic()}, ["metadata"]),
    ("cyclic list in metadata", {**BASE, "metadata": _cyclic_list()}, ["metadata"]),
    ("hostile prompt", {**BASE, "prompt": Hostile()}, ["prompt"]),
    ("hostile latency", {**BASE, "latency_ms": Hostile()}, ["latency_ms"]),
    ("hostile count", {**BASE, "token_count": Hostile()}, ["token_count"]),
    ("hostile metadata value", {**BASE, "metadata": {"a": Hostile()}}, ["metadata"]),
    ("hostile metadata key", {**BASE, "metadata": {HashableHostile(): 1}}, ["metadata"]),
    ("hostile field name", {**BASE, HashableHostile(): 1}, ["<HashableHostile: repr failed"]),
    ("hostile timestamp", {**BASE, "timestamp": Hostile()}, ["timestamp"]),
    ("surrogate timestamp", {**BASE, "timestamp": "2026\ud800"}, ["timestamp"]),
    ("deep unknown field", {**BASE, "extra": _deep(3000)}, ["extra"]),
]


@pytest.mark.parametrize(("name", "payload", "fields"), CASES, ids=[c[0] for c in CASES])
def test_hostile_input_gets_a_field_named_error(
    name: str, payload: dict[Any, Any], fields: list[str]
) -> None:
    with pytest.raises(ValidationError) as info:
        validate_event(payload, NOW)
    got = info.value.fields
    assert [f[: len(want)] for f, want in zip(got, fields, strict=True)] == fields, got
    str(info.value).encode()  # the message itself is encodable (dead letters store it)
    # And as one row of a batch, between two good ones.
    batch = validate_event_batch([BASE, payload, BASE], NOW)
    assert batch.positions.tolist() == [0, 2]
    assert [(i, str(e)) for i, e in batch.errors] == [(1, str(info.value))]


def test_unreadable_payloads_are_named_as_the_event() -> None:
    for payload in (Unreadable(), "text", None, [1, 2]):
        with pytest.raises(ValidationError) as info:
            validate_event(payload, NOW)  # type: ignore[arg-type]
        assert info.value.fields == ["event"]
    with pytest.raises(ValidationError) as sig:
        validate_signal({"event_id": "e", "signal_type": Hostile()})
    assert sig.value.fields == ["signal_type"] and "repr failed" in str(sig.value)
    # A value equal in hash to its neighbours' breaks the column-wise checks: row by row.
    colliding = {**BASE, "deployment_id": Colliding()}
    batch = validate_event_batch([BASE, Unreadable(), colliding, BASE], NOW)
    assert batch.positions.tolist() == [0, 3]
    assert [(i, e.fields) for i, e in batch.errors] == [(1, ["event"]), (2, ["deployment_id"])]


@pytest.mark.parametrize("response", ["", " ", "\n\t", "\u3000"])
def test_an_empty_or_blank_response_is_a_valid_event(response: str) -> None:
    assert validate_event({**BASE, "response": response}, NOW)["response"] == response
    batch = validate_event_batch([{**BASE, "response": response}] * 3, NOW)
    assert not batch.errors and batch.table.column("response").to_pylist() == [response] * 3
    with pytest.raises(ValidationError, match="prompt: must not be empty"):
        validate_event({**BASE, "prompt": response}, NOW)
    with pytest.raises(ValidationError, match="response: is required"):
        validate_event({"deployment_id": "d", "prompt": "p"}, NOW)


def test_json_safe_makes_any_value_plain_encodable_json() -> None:
    value = {
        "k\ud800": ["v\udc00", Hostile(), float("nan"), 2**70],
        HashableHostile(): _cyclic(),
        "deep": _deep(3000),
    }
    safe = json_safe(value)
    orjson.dumps(safe)  # encodable
    assert safe["k\\ud800"][:2] == ["v\\udc00", "<Hostile: repr failed with RuntimeError>"]
    assert json_safe(Unreadable()).startswith("<Unreadable: unreadable")


_surrogates = st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1)
_keys = st.one_of(
    st.sampled_from([*EVENT_COLUMNS, "bogus"]),
    st.text(max_size=3),
    _surrogates.map(lambda s: "k" + s),
    st.builds(HashableHostile),
    st.integers(),
)
_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=3),
    _surrogates,
    st.builds(Hostile),
    st.sampled_from([_deep(50), _cyclic(), _cyclic_list(), b"bytes"]),
)
_nested = st.recursive(
    _leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
    max_leaves=12,
)
_payloads = st.one_of(
    st.dictionaries(_keys, _nested, max_size=4).map(lambda d: {**BASE, **d}),
    st.dictionaries(_keys, _nested, max_size=3).map(lambda d: {**BASE, "metadata": d}),
    st.builds(Unreadable),
    _nested,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_payloads, max_size=6))
def test_any_input_is_an_event_or_a_field_named_error(payloads: list[Any]) -> None:
    batch = validate_event_batch(payloads, NOW)
    errors = dict(batch.errors)
    assert sorted([*errors, *batch.positions.tolist()]) == list(range(len(payloads)))
    for i, payload in enumerate(payloads):
        try:
            validate_event(payload, NOW)
        except ValidationError as exc:
            assert exc.fields and all(isinstance(f, str) for f in exc.fields)
            str(exc).encode()
            assert str(errors[i]) == str(exc)
        else:
            assert i not in errors
