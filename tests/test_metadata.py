"""Sidecar metadata and its validation (the `--filter` parser is tests/test_filters.py's)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from docingest.errors import ConfigError, DocIngestError, ErrorCode
from docingest.metadata import (
    MAX_SIDECAR_BYTES,
    RESERVED_KEYS,
    is_sidecar,
    load_sidecar,
    merge_metadata,
    sidecar_path,
)


def test_sidecar_path_and_detection() -> None:
    assert sidecar_path(Path("docs/report.pdf")) == Path("docs/report.pdf.metadata.json")
    assert is_sidecar(Path("docs/report.pdf.metadata.json"))
    assert not is_sidecar(Path("docs/report.pdf"))
    assert not is_sidecar(Path("docs/.metadata.json"))


def test_missing_sidecar_is_empty(tmp_path: Path) -> None:
    assert load_sidecar(tmp_path / "report.pdf") == {}


def test_valid_sidecar_loads(tmp_path: Path) -> None:
    data = {
        "team": "legal",
        "year": 2024,
        "score": 0.5,
        "draft": False,
        "owner": None,
        "tags": ["a", "b", 3],
        "x.y-z_1": "ok",
    }
    sidecar_path(tmp_path / "r.pdf").write_text(json.dumps(data), encoding="utf-8")
    assert load_sidecar(tmp_path / "r.pdf") == data


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("[1, 2]", "JSON object"),
        ("{not json", "JSON"),
        ('{"": 1}', "non-empty"),
        ('{"bad key": 1}', "letters"),
        (json.dumps({"k" * 65: 1}), "longer than 64"),
        ('{"text": "x"}', "reserved"),
        ('{"nested": {"a": 1}}', "dict"),
        ('{"deep": [[1]]}', "list"),
        (json.dumps({"long": "x" * 1001}), "1001 characters"),
        (json.dumps({"many": list(range(101))}), "101 items"),
        ('{"nan": NaN}', "finite"),
    ],
)
def test_invalid_sidecar_is_corrupt_file(tmp_path: Path, content: str, reason: str) -> None:
    sidecar_path(tmp_path / "r.pdf").write_text(content, encoding="utf-8")
    with pytest.raises(DocIngestError) as caught:
        load_sidecar(tmp_path / "r.pdf")
    assert caught.value.code is ErrorCode.CORRUPT_FILE
    assert not caught.value.retryable
    assert caught.value.message.startswith("invalid sidecar metadata r.pdf.metadata.json: ")
    assert reason in caught.value.message


def test_oversized_sidecar_is_refused_before_parsing(tmp_path: Path) -> None:
    sidecar_path(tmp_path / "r.pdf").write_text(" " * (MAX_SIDECAR_BYTES + 1) + "{}")
    with pytest.raises(DocIngestError, match="bytes"):
        load_sidecar(tmp_path / "r.pdf")


def test_reserved_keys_cover_the_pipeline_payload() -> None:
    assert {"document_id", "text", "embedding_model", "chunk_index"} <= RESERVED_KEYS


def test_merge_sidecar_wins() -> None:
    merged = merge_metadata({"team": "ops", "region": "eu"}, {"team": "legal"})
    assert merged == {"team": "legal", "region": "eu"}


@pytest.mark.parametrize(
    ("source", "sidecar", "error"),
    [
        ({"sha256": "x"}, {}, ConfigError),
        ({}, {"sha256": "x"}, DocIngestError),
    ],
)
def test_merge_validates_both(
    source: dict[str, Any], sidecar: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error, match="reserved"):
        merge_metadata(source, sidecar)
