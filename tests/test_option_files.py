"""Parse option files (`.docingest.yaml` per folder, `<file>.docingest.yaml` per document): which
apply, how they merge, what they may set, and that listings never take them for documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from docingest.errors import DocIngestError, ErrorCode
from docingest.option_files import (
    OptionFileReader,
    overrides_digest,
    parse_option_overrides,
    settable_options,
)
from docingest.source import iter_source_files


def _tree(root: Path) -> Path:
    (root / "de" / "scans").mkdir(parents=True)
    (root / ".docingest.yaml").write_text("parse_options:\n  ocr_languages: en\n  bbox_top: 0.1\n")
    (root / "de" / ".docingest.yaml").write_text("parse_options:\n  ocr_languages: de\n")
    (root / "de" / "scans" / "a.pdf").write_bytes(b"%PDF-1.4\n")
    (root / "de" / "scans" / "a.pdf.docingest.yaml").write_text(
        "parse_options:\n  high_res_ocr: true\n  bbox_top: 0.0\n"
    )
    (root / "top.pdf").write_bytes(b"%PDF-1.4\n")
    return root / "de" / "scans" / "a.pdf"


def test_nearer_files_win_key_by_key(tmp_path: Path) -> None:
    document = _tree(tmp_path)
    assert parse_option_overrides(tmp_path, document) == {
        "ocr_languages": "de", "bbox_top": 0.0, "high_res_ocr": True,
    }  # fmt: skip
    assert parse_option_overrides(tmp_path, tmp_path / "top.pdf") == {
        "ocr_languages": "en", "bbox_top": 0.1,
    }  # fmt: skip
    # A folder above the source root is not read.
    assert parse_option_overrides(tmp_path / "de", document) == {
        "ocr_languages": "de", "bbox_top": 0.0, "high_res_ocr": True,
    }  # fmt: skip


def test_listing_skips_option_files(tmp_path: Path) -> None:
    _tree(tmp_path)
    assert [f.document_id for f in iter_source_files(tmp_path)] == ["de/scans/a.pdf", "top.pdf"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("isolate: false\n", "the one key"),
        ("parse_options:\n  isolate: false\n", "isolate cannot be set here"),
        ("parse_options:\n  timeout_s: 99999\n", "timeout_s cannot be set here"),
        ("parse_options:\n  password: x\n", "password cannot be set here"),
        ("parse_options:\n  image_dir: /etc\n", "image_dir cannot be set here"),
        ("parse_options: [1, 2]\n", "must be a mapping"),
        ("parse_options: {\n", "invalid parse option file"),
    ],
)
def test_invalid_files_are_corrupt_input(tmp_path: Path, text: str, reason: str) -> None:
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.4\n")
    (tmp_path / ".docingest.yaml").write_text(text)
    with pytest.raises(DocIngestError, match=reason) as info:
        parse_option_overrides(tmp_path, tmp_path / "a.pdf")
    assert info.value.code is ErrorCode.CORRUPT_FILE and not info.value.retryable


def test_a_link_is_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("parse_options:\n  engine: fast\n")
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / ".docingest.yaml").symlink_to(outside)
    with pytest.raises(DocIngestError, match="not a regular file"):
        parse_option_overrides(folder, folder / "a.pdf")


def test_what_may_be_set_and_the_digest() -> None:
    settable = set(settable_options())
    assert {"ocr_languages", "bbox_top", "remove_hidden_text", "engine"} <= settable
    assert not settable & {"isolate", "timeout_s", "memory_limit_mb", "password", "image_dir"}
    assert overrides_digest({}) == ""
    assert overrides_digest({"a": 1, "b": 2}) == overrides_digest({"b": 2, "a": 1}) != ""


def test_a_name_at_the_length_limit_has_no_sidecar(tmp_path: Path) -> None:
    """`<name>.docingest.yaml` of a 250-byte file name is over the file system's limit: the
    document has no sidecar (its folder's file still applies), it is not unreadable."""
    (tmp_path / ".docingest.yaml").write_text("parse_options:\n  bbox_top: 0.1\n")
    document = tmp_path / ("n" * 246 + ".pdf")
    document.write_bytes(b"%PDF-1.4\n")
    assert parse_option_overrides(tmp_path, document) == {"bbox_top": 0.1}


def test_one_reader_for_a_whole_tree_answers_as_each_document_alone(tmp_path: Path) -> None:
    """The sensor's reader reads each folder's files once; the answers stay per document."""
    document = _tree(tmp_path)
    (tmp_path / "de" / "scans" / "b.pdf").write_bytes(b"%PDF-1.4\n")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / ".docingest.yaml").write_text("parse_options: [1]\n")
    reader = OptionFileReader(tmp_path)
    for path in (document, document.with_name("b.pdf"), tmp_path / "top.pdf"):
        assert reader.overrides(path) == parse_option_overrides(tmp_path, path)
    # A folder's file changed during the tick is not read again: the next tick's reader sees it.
    (tmp_path / "de" / ".docingest.yaml").write_text("parse_options:\n  ocr_languages: fr\n")
    assert reader.overrides(document)["ocr_languages"] == "de"
    assert OptionFileReader(tmp_path).overrides(document)["ocr_languages"] == "fr"
    for name in ("x.pdf", "y.pdf"):  # an invalid folder file fails every document under it
        with pytest.raises(DocIngestError, match="must be a mapping") as info:
            reader.overrides(tmp_path / "bad" / name)
        assert info.value.code is ErrorCode.CORRUPT_FILE
