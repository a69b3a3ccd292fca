"""Parse option files (`.docingest.yaml` per folder, `<file>.docingest.yaml` per document): which
apply, how they merge, what they may set, and that listings never take them for documents."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from docingest.errors import DocIngestError, ErrorCode
from docingest.option_files import (
    OptionFileReader,
    overrides_digest,
    parse_option_overrides,
    settable_options,
)
from docingest.source import iter_source_files, scan
from resources import SourceResource


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


def test_the_listing_tells_the_reader_which_files_exist(tmp_path: Path) -> None:
    """The sensor's reader takes the option files its walk saw: the same answers as looking
    each candidate up, links and folders of that name still refused, and a tree without
    option files costs no lookup at all."""
    document = _tree(tmp_path)
    (tmp_path / "de" / "b.pdf").write_bytes(b"%PDF-1.4\n")
    (tmp_path / "linked").mkdir()
    (tmp_path / "linked" / "c.pdf").write_bytes(b"%PDF-1.4\n")
    (tmp_path / "linked" / ".docingest.yaml").symlink_to(tmp_path / ".docingest.yaml")
    (tmp_path / "linked" / "d.pdf").write_bytes(b"%PDF-1.4\n")
    (tmp_path / "linked" / "d.pdf.docingest.yaml").mkdir()
    listed = scan(tmp_path)
    assert sorted(Path(p).relative_to(tmp_path).as_posix() for p in listed.option_files) == [
        ".docingest.yaml", "de/.docingest.yaml", "de/scans/a.pdf.docingest.yaml",
        "linked/.docingest.yaml", "linked/d.pdf.docingest.yaml",
    ]  # fmt: skip
    from_listing = OptionFileReader(tmp_path, listed.option_files)
    looked_up = OptionFileReader(tmp_path)
    for path in (document, tmp_path / "de" / "b.pdf", tmp_path / "top.pdf"):
        assert from_listing.overrides(path) == looked_up.overrides(path)
        assert from_listing.digest(path) == overrides_digest(looked_up.overrides(path)) != ""
    for name in ("c.pdf", "d.pdf"):
        with pytest.raises(DocIngestError, match="not a regular file"):
            from_listing.digest(tmp_path / "linked" / name)

    bare = tmp_path / "bare"
    (bare / "sub").mkdir(parents=True)
    (bare / "sub" / "e.pdf").write_bytes(b"%PDF-1.4\n")
    none = OptionFileReader(bare, scan(bare).option_files)
    assert none.present == frozenset()
    assert (
        none.overrides(bare / "sub" / "e.pdf") == {} and none.digest(bare / "sub" / "e.pdf") == ""
    )


def test_a_long_lived_resource_sees_changed_option_files(tmp_path: Path) -> None:
    """`parse_options_for` answers from one reader within a run (on the copy Dagster sets up
    for it) and reads the files as they are now outside of one: a resource object that
    outlives runs never keeps a folder's old contents."""
    document = _tree(tmp_path)
    source = SourceResource(root=str(tmp_path))
    assert source.parse_options_for(document)["ocr_languages"] == "de"
    (tmp_path / "de" / ".docingest.yaml").write_text("parse_options:\n  ocr_languages: fr\n")
    assert source.parse_options_for(document)["ocr_languages"] == "fr"
    with dg.build_resources({"source": source}) as resources:
        in_run = resources.source
        assert in_run.parse_options_for(document)["ocr_languages"] == "fr"
        (tmp_path / "de" / ".docingest.yaml").write_text("parse_options:\n  ocr_languages: it\n")
        assert in_run.parse_options_for(document)["ocr_languages"] == "fr"  # read once a run
    assert source.parse_options_for(document)["ocr_languages"] == "it"
    with dg.build_resources({"source": source}) as resources:
        assert resources.source.parse_options_for(document)["ocr_languages"] == "it"
