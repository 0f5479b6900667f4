"""The export-format registry: every entry round-trips, names resolve, bad names explain."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from feedback_assets.domain.export.export import export_batch, file_path, verify_export  # noqa: E402
from feedback_assets.domain.export.files import digest  # noqa: E402
from feedback_assets.domain.export.registry import (  # noqa: E402
    FORMATS,
    ROLES,
    ExportFormat,
    format_names,
    resolve_format,
    resolve_formats,
)
from feedback_assets_tests.domain.export.test_export import curated, kto, pairs  # noqa: E402

# One sample input per role: a format of any role is exercised without editing this test.
SAMPLES = {"sft": curated, "preference": pairs, "kto": kto}


def test_every_role_has_a_sample() -> None:
    assert set(SAMPLES) == set(ROLES)


@pytest.mark.parametrize("spec", FORMATS, ids=lambda f: f.name)
def test_every_format_round_trips(spec: ExportFormat, tmp_path: Path) -> None:
    """write -> load back: the same row count, and the file matches the recorded checksum."""
    rows = SAMPLES[spec.role]()
    root = str(tmp_path)
    m = export_batch({spec.role: rows}, root, "rt", formats=[spec.name])
    info = m["files"][spec.name]
    assert info["path"] == spec.file_name and info["rows"] == len(rows)
    path = file_path(m, root, spec.name)
    assert digest(path) == (info["sha256"], info["bytes"])
    loaded, problems = spec.load(path, frozenset({"rt"}))
    assert problems == [] and loaded == len(rows)
    assert verify_export(m, root) == []
    again = export_batch({spec.role: rows}, root, "rt", formats=[spec.name])
    assert again["files"][spec.name]["sha256"] == info["sha256"]  # a re-run writes the same


@pytest.mark.parametrize("spec", FORMATS, ids=lambda f: f.name)
def test_every_format_merges_two_batches(spec: ExportFormat, tmp_path: Path) -> None:
    rows = SAMPLES[spec.role]()
    root = str(tmp_path)
    parts = [export_batch({spec.role: rows}, root, b, formats=[spec.name]) for b in ("a", "b")]
    dest = str(tmp_path / "merged" / spec.file_name)
    spec.merge([file_path(m, root, spec.name) for m in parts], dest)
    loaded, problems = spec.load(dest, frozenset({"a", "b"}))
    assert problems == [] and loaded == 2 * len(rows)


def test_json_lines_merge_is_byte_concatenation(tmp_path: Path) -> None:
    spec = resolve_format("openai_chat")
    root = str(tmp_path)
    parts = [
        export_batch({"sft": curated(n)}, root, f"b{n}", formats=["openai_chat"]) for n in (3, 5)
    ]
    sources = [file_path(m, root, "openai_chat") for m in parts]
    spec.merge(sources, str(tmp_path / "m.jsonl"))
    assert (tmp_path / "m.jsonl").read_bytes() == b"".join(Path(p).read_bytes() for p in sources)


def test_csv_merge_keeps_one_header(tmp_path: Path) -> None:
    spec = resolve_format("csv")
    root = str(tmp_path)
    parts = [export_batch({"sft": curated(4)}, root, b, formats=["csv"]) for b in ("a", "b")]
    spec.merge([file_path(m, root, "csv") for m in parts], str(tmp_path / "m.csv"))
    back = pd.read_csv(tmp_path / "m.csv")
    assert len(back) == 8 and back["event_id"].tolist() == [f"e{i}" for i in range(4)] * 2


def test_names_and_aliases_are_unambiguous_within_a_role() -> None:
    names = [f.name for f in FORMATS]
    assert len(names) == len(set(names))
    for role in ROLES:
        keys = [k for f in FORMATS if f.role == role for k in (f.name, *f.aliases)]
        assert len(keys) == len(set(keys)), role
    aliases = {a for f in FORMATS for a in f.aliases}
    assert not aliases & set(names)


@pytest.mark.parametrize(
    ("name", "roles", "canonical"),
    [
        # The original library's export formats (api.export, the export_feedback stage).
        ("jsonl", ["sft"], "jsonl"),
        ("huggingface", ["sft"], "hf_dataset"),
        ("parquet", ["sft"], "parquet"),
        ("csv", ["sft"], "csv"),
        ("openai", ["sft"], "openai_chat"),
        # Its preference pair formats (api.export_preference_pairs).
        ("trl", ["preference", "kto"], "dpo_trl"),
        ("openai", ["preference", "kto"], "dpo_openai"),
        ("kto", ["preference", "kto"], "kto"),
        ("DPO_TRL", None, "dpo_trl"),
    ],
)
def test_original_names_resolve(name: str, roles: list | None, canonical: str) -> None:
    assert resolve_format(name, roles=roles).name == canonical


def test_unknown_and_ambiguous_names_explain_themselves() -> None:
    with pytest.raises(ValueError) as info:
        resolve_format("xml", roles=["sft"], field="format")
    msg = str(info.value)
    assert msg.startswith("format: unknown export format 'xml'; valid: jsonl, openai_chat")
    assert "hf_dataset (aliases: huggingface, hf)" in msg and "dpo_trl" not in msg
    with pytest.raises(ValueError, match="formats: 'openai' is ambiguous.*dpo_openai"):
        resolve_formats(["openai"])
    with pytest.raises(ValueError, match="format: unknown export format 'parquet'"):
        resolve_format("parquet", roles=["preference", "kto"])
    assert [f.name for f in resolve_formats(["jsonl", "hf", "jsonl"])] == ["jsonl", "hf_dataset"]
    assert format_names(["kto"]) == ("kto",)
