"""The upload folder: which files become documents, with which ids, in which order."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from docingest.ids import path_for_document_id, sha256_bytes
from docingest.source import iter_source_files
from resources import SourceResource

OLD = time.time() - 3600  # an mtime well past any settle window


def _make(root: Path, relative: str, data: bytes = b"data", mtime: float = OLD) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return path


def _ids(root: Path, settle_seconds: float = 0.0) -> list[str]:
    return [s.document_id for s in iter_source_files(root, settle_seconds=settle_seconds)]


@pytest.mark.parametrize(
    ("relative", "kept"),
    [
        ("report.pdf", True),
        ("notes.txt", True),
        ("sub/deeper/doc.docx", True),
        ("with space.pdf", True),
        ("report.pdf.metadata.json", False),
        ("sub/doc.docx.metadata.json", False),
        ("data.json", True),
        (".metadata.json", False),  # hidden
        (".hidden.pdf", False),
        (".git/config", False),
        ("sub/.cache/doc.pdf", False),
        ("upload.pdf.part", False),
        ("upload.pdf.tmp", False),
        ("upload.pdf.crdownload", False),
        ("report.pdf~", False),
    ],
)
def test_what_is_a_document(tmp_path: Path, relative: str, kept: bool) -> None:
    _make(tmp_path, relative)
    assert _ids(tmp_path) == ([relative] if kept else [])


def test_nested_folders_get_slash_ids_and_paths_map_back(tmp_path: Path) -> None:
    for relative in ("a/b/c.pdf", "a/b.pdf", "top.pdf", "x y/z w.pdf"):
        _make(tmp_path, relative)
    sources = list(iter_source_files(tmp_path))
    assert sorted(s.document_id for s in sources) == [
        "a/b.pdf",
        "a/b/c.pdf",
        "top.pdf",
        "x y/z w.pdf",
    ]
    for source in sources:
        assert source.path.is_absolute()
        assert path_for_document_id(source.document_id, tmp_path) == source.path
        assert source.size == 4


def test_order_is_stable(tmp_path: Path) -> None:
    names = ["b.pdf", "a b.pdf", "a/z.pdf", "a-c.pdf", "A.pdf", "a.pdf", "é.pdf", "10.pdf", "9.pdf"]
    for name in reversed(names):
        _make(tmp_path, name)
    first = _ids(tmp_path)
    assert sorted(first) == sorted(
        [
            "b.pdf",
            "a b.pdf",
            "a/z.pdf",
            "a-c.pdf",
            "A.pdf",
            "a.pdf",
            "%C3%A9.pdf",
            "10.pdf",
            "9.pdf",
        ]
    )
    assert _ids(tmp_path) == first
    listed = [s.path for s in iter_source_files(tmp_path)]
    assert listed == sorted(listed)


def test_symlinks(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    _make(root, "real/inside.pdf")
    _make(outside, "secret.pdf")
    (root / "to-outside.pdf").symlink_to(outside / "secret.pdf")
    (root / "to-outside-dir").symlink_to(outside, target_is_directory=True)
    (root / "to-inside.pdf").symlink_to(root / "real" / "inside.pdf")
    (root / "dangling.pdf").symlink_to(root / "missing.pdf")
    # A link to a file inside the root is a document under its own name; links that leave the
    # root, and folders reached through links, are not followed.
    assert _ids(root) == ["real/inside.pdf", "to-inside.pdf"]


def test_symlinked_root(tmp_path: Path) -> None:
    _make(tmp_path, "real/a.pdf")
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    sources = list(iter_source_files(tmp_path / "link"))
    assert [s.document_id for s in sources] == ["a.pdf"]
    assert sources[0].path == tmp_path / "link" / "a.pdf"


def test_relative_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _make(tmp_path, "docs/a/b.pdf")
    monkeypatch.chdir(tmp_path)
    sources = list(iter_source_files(Path("docs")))
    assert [s.document_id for s in sources] == ["a/b.pdf"]
    assert sources[0].path == tmp_path / "docs" / "a" / "b.pdf"


def test_settle_seconds_skips_fresh_files(tmp_path: Path) -> None:
    _make(tmp_path, "old.pdf")
    _make(tmp_path, "fresh.pdf", mtime=time.time())
    _make(tmp_path, "future.pdf", mtime=time.time() + 3600)
    assert _ids(tmp_path, settle_seconds=60) == ["old.pdf"]
    assert _ids(tmp_path) == ["fresh.pdf", "future.pdf", "old.pdf"]


def test_missing_root_yields_nothing(tmp_path: Path) -> None:
    assert _ids(tmp_path / "missing") == []
    _make(tmp_path, "file.pdf")
    assert _ids(tmp_path / "file.pdf") == []


def test_source_file_facts_and_content_hash(tmp_path: Path) -> None:
    path = _make(tmp_path, "a.pdf", data=b"%PDF-1.7 hello", mtime=1_700_000_000)
    (source,) = iter_source_files(tmp_path)
    assert source.size == len(b"%PDF-1.7 hello")
    assert source.mtime_ns == 1_700_000_000 * 10**9
    assert source.path == path
    resource = SourceResource(root=str(tmp_path), settle_seconds=0)
    assert resource.list_files() == [source]
    assert resource.content_hash(source) == sha256_bytes(b"%PDF-1.7 hello")


def test_stamps_of_a_file(tmp_path: Path) -> None:
    """The sensor's stamp is size and mtime; the reconcile schedule's adds the ctime, which a
    rewrite moves even when its size and mtime are set back."""
    path = _make(tmp_path, "a.pdf", data=b"%PDF-1.7 one", mtime=1_700_000_000)
    (before,) = iter_source_files(tmp_path)
    assert before.stamp == [12, 1_700_000_000 * 10**9]
    assert before.check_stamp == [12, 1_700_000_000 * 10**9, path.stat().st_ctime_ns]
    time.sleep(0.05)  # past the file system's timestamp granularity
    _make(tmp_path, "a.pdf", data=b"%PDF-1.7 two", mtime=1_700_000_000)
    (after,) = iter_source_files(tmp_path)
    assert after.stamp == before.stamp
    assert after.check_stamp != before.check_stamp
