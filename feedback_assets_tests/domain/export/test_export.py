import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

import csv  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import pytest  # noqa: E402
from datasets import load_from_disk  # noqa: E402

from feedback_assets.domain.export.export import (  # noqa: E402
    ExportBlocked,
    export_batch,
    verify_export,
)
from feedback_assets.domain.export.files import resolve_under_root  # noqa: E402
from feedback_assets.domain.export.formats_columnar import (  # noqa: E402
    PARQUET_SCHEMA,
    write_hf_dataset,
    write_parquet,
)
from feedback_assets.domain.export.formats_lines import (  # noqa: E402
    to_openai_chat,
    validate_openai_chat,
    write_jsonl,
    write_openai_chat,
    write_preference_pairs,
)
from feedback_assets.domain.export.registry import format_names  # noqa: E402

N = 40


def curated(n: int = N) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(n)],
            "deployment_id": "dep",
            "model_version_id": ["m1" if i % 2 else None for i in range(n)],
            "prompt": [f'question {i}, with "quotes"\nand a newline' for i in range(n)],
            "response": [f"answer {i} — ünïcode" for i in range(n)],
            "original_response": [f"orig {i}" for i in range(n)],
            "curation_source": ["user_edit" if i < 5 else "high_quality" for i in range(n)],
            "curation_score": [10.0 if i < 5 else 0.5 + i / 100 for i in range(n)],
            "quality_score": [float("nan") if i == 3 else 0.9 for i in range(n)],
            "signal_score": 3.0,
            "role": "sft",
        }
    )


def pairs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "prompt": ["p1", "p2"],
            "chosen": ["good one", "better"],
            "rejected": ["bad one", "worse"],
            "source": ["edit", "thumbs"],
            "chosen_event_id": ["a", "b"],
            "rejected_event_id": ["a", "c"],
            "deployment_id": "dep",
        }
    )


def kto() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "prompt": ["p1", "p2", "p3"],
            "completion": ["c1", "c2", "c3"],
            "label": [True, False, True],
            "event_id": ["a", "b", "c"],
            "deployment_id": "dep",
        }
    )


def frames(sft: pd.DataFrame | None = None, preference: pd.DataFrame | None = None) -> dict:
    return {
        "sft": curated() if sft is None else sft,
        "preference": pairs() if preference is None else preference,
        "kto": kto(),
    }


def read_lines(path: str) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def test_jsonl_original_shape(tmp_path: Path) -> None:
    path = str(tmp_path / "x.jsonl")
    assert write_jsonl(curated(), path) == N
    rows = read_lines(path)
    assert rows[0] == {
        "prompt": curated().prompt[0],
        "response": "answer 0 — ünïcode",
        "source": "user_edit",
        "score": 10.0,
    }
    assert len(rows) == N


def test_openai_chat_passes_cookbook_checks(tmp_path: Path) -> None:
    path = str(tmp_path / "chat.jsonl")
    assert write_openai_chat(curated(), path, system_prompt="be brief") == N
    assert validate_openai_chat(path) == []
    first = read_lines(path)[0]["messages"]
    assert [m["role"] for m in first] == ["system", "user", "assistant"]
    assert first[2]["content"] == "answer 0 — ünïcode"


def test_openai_checks_find_each_problem() -> None:
    rows = [
        {"messages": [{"role": "user", "content": "hi"}]},  # no assistant
        {"messages": [{"role": "robot", "content": "x"}, {"role": "assistant", "content": "y"}]},
        {"messages": [{"role": "user"}, {"role": "assistant", "content": "y"}]},
        {"messages": [{"role": "user", "content": None}, {"role": "assistant", "content": "y"}]},
        {"messages": [{"role": "assistant", "content": "y", "extra": 1}]},
        {"msgs": []},
        "not a dict",
    ]
    problems = "\n".join(validate_openai_chat(rows, min_examples=10))
    for kind in (
        "example_missing_assistant_message",
        "unrecognized_role",
        "message_missing_key",
        "missing_content",
        "message_unrecognized_key",
        "missing_messages_list",
        "unrecognized_key:msgs",
        "data_type",
        "too_few_examples: 7 < 10",
    ):
        assert kind in problems
    assert "first at line 2" in problems  # unrecognized_role is on the second example


def test_hf_dataset_round_trip_with_declared_features(tmp_path: Path) -> None:
    path = str(tmp_path / "hf")
    counts = write_hf_dataset(curated(), path, test_size=0.25, seed=1)
    assert counts == {"train": 30, "test": 10}
    dd = load_from_disk(path)
    assert dd["train"].num_rows == 30 and dd["test"].num_rows == 10
    assert dd["train"].features["curation_score"].dtype == "float64"
    ids = set(dd["train"]["event_id"]) | set(dd["test"]["event_id"])
    assert ids == set(curated()["event_id"])
    again = str(tmp_path / "hf2")
    write_hf_dataset(curated(), again, test_size=0.25, seed=1)
    assert load_from_disk(again)["test"]["event_id"] == dd["test"]["event_id"]  # seeded split


def test_hf_dataset_with_an_empty_split_loads_back(tmp_path: Path) -> None:
    # 4 rows at test_size 0.1 leave the test split empty; datasets alone cannot reload that.
    assert write_hf_dataset(curated(4), str(tmp_path / "hf")) == {"train": 4, "test": 0}
    dd = load_from_disk(str(tmp_path / "hf"))
    assert dd["train"].num_rows == 4 and dd["test"].num_rows == 0


def test_parquet_real_parquet_with_schema(tmp_path: Path) -> None:
    path = str(tmp_path / "c.parquet")
    assert write_parquet(curated(), path, "batch-1") == N
    table = pq.read_table(path)
    assert table.schema.remove_metadata().equals(PARQUET_SCHEMA)
    assert set(table.column("export_batch_id").to_pylist()) == {"batch-1"}
    assert table.column("quality_score").null_count == 1
    assert table.column("model_version_id").to_pylist()[:2] == [None, "m1"]


def test_preference_pair_shapes(tmp_path: Path) -> None:
    trl, oai = str(tmp_path / "t.jsonl"), str(tmp_path / "o.jsonl")
    assert write_preference_pairs(pairs(), trl, "trl") == 2
    assert write_preference_pairs(pairs(), oai, "openai") == 2
    assert read_lines(trl)[0] == {"prompt": "p1", "chosen": "good one", "rejected": "bad one"}
    assert read_lines(oai)[1] == {
        "input": {"messages": [{"role": "user", "content": "p2"}]},
        "preferred_output": [{"role": "assistant", "content": "better"}],
        "non_preferred_output": [{"role": "assistant", "content": "worse"}],
    }
    with pytest.raises(ValueError, match="shape"):
        write_preference_pairs(pairs(), trl, "nope")  # type: ignore[arg-type]


def test_export_batch_every_format_round_trips(tmp_path: Path) -> None:
    root = str(tmp_path / "exports")
    m = export_batch(
        frames(),
        root,
        "b1",
        source_window={"start": "2026-01-01", "end": "2026-01-02"},
        filters={"deployment_id": "dep"},
        config={"limit": 1000},
        code_version="abc123",
    )
    assert set(m["files"]) == set(format_names())
    assert m["files"]["hf_dataset"]["splits"] == {"train": 36, "test": 4}
    assert m["counts"]["curated"] == N and m["counts"]["curated_by_source"]["user_edit"] == 5
    assert m["counts"]["curated_by_role"] == {"sft": N}
    assert {f["role"] for name, f in m["files"].items() if name in format_names(["sft"])} == {"sft"}
    assert m["files"]["kto"]["role"] == "kto"
    assert set(pq.read_table(tmp_path / "exports/b1/curated.parquet")["role"].to_pylist()) == {
        "sft"
    }
    assert m["code_version"] == "abc123" and m["source_window"]["end"] == "2026-01-02"
    on_disk = json.loads((tmp_path / "exports" / "b1" / "manifest.json").read_text())
    assert on_disk["files"]["parquet"]["sha256"] == m["files"]["parquet"]["sha256"]
    assert verify_export(m, root) == []
    with open(tmp_path / "exports" / "b1" / "curated.csv", newline="") as f:
        back = list(csv.DictReader(f))
    assert len(back) == N and back[0]["prompt"] == curated().prompt[0]
    assert [r["label"] for r in read_lines(str(tmp_path / "exports/b1/kto.jsonl"))] == [
        True,
        False,
        True,
    ]
    # A re-run is idempotent: same files, same checksums.
    m2 = export_batch(frames(), root, "b1", code_version="abc123")
    assert {k: v["sha256"] for k, v in m2["files"].items()} == {
        k: v["sha256"] for k, v in m["files"].items()
    }


@pytest.mark.parametrize("role", ["eval", "kto", "preference", "legacy"])
def test_sft_formats_refuse_rows_of_another_role(tmp_path: Path, role: str) -> None:
    rows = curated()
    rows.loc[7, "role"] = role
    with pytest.raises(ValueError, match=rf"frames\['sft'\]\.role: .*'{role}'"):
        export_batch({**frames(), "sft": rows}, str(tmp_path), "b1")
    assert not (tmp_path / "b1").exists()  # refused before anything was written


def test_verify_export_catches_truncation_and_missing(tmp_path: Path) -> None:
    root = str(tmp_path)
    m = export_batch(frames(), root, "b2", formats=("jsonl", "parquet", "hf_dataset"))
    jl = tmp_path / "b2" / "curated.jsonl"
    data = jl.read_bytes()
    jl.write_bytes(data[: len(data) // 2])
    pq_path = tmp_path / "b2" / "curated.parquet"
    pq_path.write_bytes(pq_path.read_bytes()[:-100])
    problems = verify_export(m, root)
    assert any(p.startswith("jsonl: checksum") for p in problems)
    assert any(p.startswith("jsonl:") and "not valid JSON" in p for p in problems)
    assert any(p.startswith("parquet: cannot be read back") for p in problems)
    for f in (tmp_path / "b2" / "hf_dataset").rglob("*.arrow"):
        f.unlink()
    assert any(p.startswith("hf_dataset:") for p in verify_export(m, root))


def test_pii_at_export_time_blocks_and_writes_nothing(tmp_path: Path) -> None:
    leaky = curated()
    leaky.loc[7, "response"] = "mail me at jane.doe@example.com"
    with pytest.raises(ExportBlocked, match="EMAIL=1"):
        export_batch(frames(sft=leaky), str(tmp_path), "b3")
    assert not (tmp_path / "b3").exists()
    bad_pairs = pairs()
    bad_pairs.loc[0, "chosen"] = "ssn 123-45-6789"
    with pytest.raises(ExportBlocked):
        export_batch(frames(preference=bad_pairs), str(tmp_path), "b4", formats=("dpo_trl",))


@pytest.mark.parametrize(
    "bad", ["/etc/passwd", "../escape", "a/../../escape", "C:\\x", "~/x", "s3://b/k", ""]
)
def test_path_traversal_rejected(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="path"):
        resolve_under_root(str(tmp_path), bad)


def test_resolve_under_root_accepts_inside_paths_and_urls(tmp_path: Path) -> None:
    assert resolve_under_root(str(tmp_path), "a/./b/../c.jsonl") == str(
        tmp_path.resolve() / "a" / "c.jsonl"
    )
    assert (
        resolve_under_root("s3://bucket/exports/", "b1/x.jsonl") == "s3://bucket/exports/b1/x.jsonl"
    )
    (tmp_path / "link").symlink_to("/tmp")
    with pytest.raises(ValueError, match="outside"):
        resolve_under_root(str(tmp_path), "link/x")


def test_export_to_fsspec_memory_root() -> None:
    root = "memory://exports-test"
    m = export_batch(frames(), root, "b5", formats=("jsonl", "parquet", "csv", "kto"))
    assert verify_export(m, root) == []
    assert m["files"]["csv"]["rows"] == N


def test_bad_batch_id_and_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="batch_id"):
        export_batch(frames(), str(tmp_path), "../b")
    with pytest.raises(ValueError, match="formats: unknown export format 'xml'; valid: jsonl"):
        export_batch(frames(), str(tmp_path), "b", formats=("xml",))
    with pytest.raises(ValueError, match=r"frames: no rows given for role\(s\) \['kto'\]"):
        export_batch({"sft": curated()}, str(tmp_path), "b", formats=("jsonl", "kto"))


def test_to_openai_chat_rows_match_writer() -> None:
    rows = list(to_openai_chat(curated(12), system_prompt="sys"))
    assert len(rows) == 12 and validate_openai_chat(rows) == []
    assert rows[1]["messages"][1] == {"role": "user", "content": curated().prompt[1]}
