"""Document ids (= partition keys), file stems, point ids and hashes."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest

from docingest.ids import (
    chunk_id_for,
    document_id_for,
    file_stem_for,
    options_hash,
    path_for_document_id,
    point_id_for,
    sha256_bytes,
    sha256_file,
)

# What Dagster refuses in a partition key (dagster/_core/definitions/partitions/utils/base.py).
DAGSTER_INVALID = ("...", "\a", "\b", "\f", "\n", "\r", "\t", "\v", "\0")
STEM_CHARS = re.compile(r"[A-Za-z0-9%\-_.~()+@=]+")

# relative path of the file under the root -> its document id
ID_TABLE: list[tuple[str, str]] = [
    ("report.pdf", "report.pdf"),
    ("my report 2024.pdf", "my report 2024.pdf"),
    ("résumé.pdf", "r%C3%A9sum%C3%A9.pdf"),
    ("日本語.pdf", "%E6%97%A5%E6%9C%AC%E8%AA%9E.pdf"),
    ("50%.pdf", "50%25.pdf"),
    ("%2E%2E.pdf", "%252E%252E.pdf"),
    ("a,b.pdf", "a%2Cb.pdf"),
    ("wait...pdf", "wait.%2E.pdf"),
    ("a..b", "a.%2Eb"),
    ("....", ".%2E.%2E"),
    ("dir.../file.txt", "dir.%2E./file.txt"),
    ("nested/deeper/file.txt", "nested/deeper/file.txt"),
    ("(draft) v2+final@x=1~.txt", "(draft) v2+final@x=1~.txt"),
    ("#hash?q&x;y.pdf", "%23hash%3Fq%26x%3By.pdf"),
    ("back\\slash.pdf", "back%5Cslash.pdf"),
    ("tab\there.pdf", "tab%09here.pdf"),
    ("new\nline.pdf", "new%0Aline.pdf"),
    ("bell\a.pdf", "bell%07.pdf"),
    ("x" * 250, "x" * 250),
]
LONG_NESTED = "/".join(f"folder {i}" for i in range(30)) + "/" + "y" * 200 + ".pdf"


def _make(root: Path, relative: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"%PDF")
    return path


def _assert_valid_partition_key(document_id: str) -> None:
    assert document_id
    for bad in DAGSTER_INVALID:
        assert bad not in document_id
    assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in document_id)


@pytest.mark.parametrize(("relative", "expected"), ID_TABLE)
def test_document_id_table(tmp_path: Path, relative: str, expected: str) -> None:
    path = _make(tmp_path, relative)
    assert document_id_for(path, tmp_path) == expected


@pytest.mark.parametrize("relative", [r for r, _ in ID_TABLE] + [LONG_NESTED])
def test_document_id_round_trip_and_is_a_valid_partition_key(tmp_path: Path, relative: str) -> None:
    path = _make(tmp_path, relative)
    document_id = document_id_for(path, tmp_path)
    _assert_valid_partition_key(document_id)
    assert path_for_document_id(document_id, tmp_path) == path
    assert path_for_document_id(document_id, tmp_path).read_bytes() == b"%PDF"


@pytest.mark.parametrize("dots", range(1, 9))
@pytest.mark.parametrize("template", ["a{}", "{}b", "a{}b", "d{}/f", "d/{}x", "{}...."])
def test_runs_of_dots_never_leave_three_dots(tmp_path: Path, dots: int, template: str) -> None:
    relative = template.format("." * dots)
    document_id = document_id_for(tmp_path / relative, tmp_path)
    _assert_valid_partition_key(document_id)
    assert path_for_document_id(document_id, tmp_path) == tmp_path / relative


def test_document_id_does_not_need_the_file_to_exist(tmp_path: Path) -> None:
    assert document_id_for(tmp_path / "later" / "x.pdf", tmp_path) == "later/x.pdf"


def test_relative_path_and_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _make(tmp_path, "docs/sub/a.pdf")
    monkeypatch.chdir(tmp_path)
    assert document_id_for(Path("docs/sub/a.pdf"), Path("docs")) == "sub/a.pdf"
    assert document_id_for(Path("docs/sub/../sub/a.pdf"), Path("docs")) == "sub/a.pdf"


@pytest.mark.parametrize(
    "relative", ["../outside.pdf", "sub/../../outside.pdf", "../../x", "..", "sub/../..", ".", ""]
)
def test_paths_outside_the_root_are_refused(tmp_path: Path, relative: str) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    with pytest.raises(ValueError):
        document_id_for(root / relative, root)


def test_symlinked_file_keeps_its_own_name(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    target = _make(outside, "real-name.pdf")
    (root / "link.pdf").symlink_to(target)
    # The folder is inside the root, so the id is the link's own name, never the target's.
    assert document_id_for(root / "link.pdf", root) == "link.pdf"
    assert path_for_document_id("link.pdf", root) == root / "link.pdf"


def test_symlinked_folder_outside_the_root_is_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    _make(outside, "f.pdf")
    (root / "linked").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ValueError):
        document_id_for(root / "linked" / "f.pdf", root)


def test_symlinked_folder_inside_the_root_resolves_to_the_real_folder(tmp_path: Path) -> None:
    _make(tmp_path, "real/f.pdf")
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    assert document_id_for(tmp_path / "alias" / "f.pdf", tmp_path) == "real/f.pdf"


def test_symlinked_root(tmp_path: Path) -> None:
    _make(tmp_path, "real-root/a.pdf")
    (tmp_path / "root-link").symlink_to(tmp_path / "real-root", target_is_directory=True)
    assert document_id_for(tmp_path / "root-link" / "a.pdf", tmp_path / "root-link") == "a.pdf"


@pytest.mark.parametrize(
    "document_id",
    [
        "",
        ".",
        "../x",
        "a/../../x",
        "a/../b",
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
        "%2E%2E/x",
        ".%2E/x",
        "a/%2E%2E/b",
    ],
)
def test_path_for_document_id_refuses_escapes(tmp_path: Path, document_id: str) -> None:
    with pytest.raises(ValueError):
        path_for_document_id(document_id, tmp_path)


LONG_PREFIX = "shared prefix/" * 30
STEM_IDS: list[str] = [
    "report.pdf",
    "a/b",
    "a%2Fb",
    "a b",
    "a%20b",
    "a%2520b",
    "r%C3%A9sum%C3%A9.pdf",
    "nested/deeper/file.txt",
    "wait.%2E.pdf",
    LONG_PREFIX + "one.pdf",
    LONG_PREFIX + "two.pdf",
    LONG_PREFIX + "one.pdfx",
    "x" * 163,
    "x" * 179,
    "x" * 180,
    "x" * 181,
    "x" * 400,
    "é" * 200,
    "/" * 100,
]


@pytest.mark.parametrize("document_id", STEM_IDS)
def test_file_stem_is_flat_short_and_safe(document_id: str) -> None:
    stem = file_stem_for(document_id)
    assert "/" not in stem
    assert len(stem) <= 180
    assert STEM_CHARS.fullmatch(stem)
    assert stem not in (".", "..")
    assert file_stem_for(document_id) == stem


def test_file_stems_are_distinct() -> None:
    stems = [file_stem_for(document_id) for document_id in STEM_IDS]
    assert len(set(stems)) == len(STEM_IDS)


def test_short_stems_are_readable() -> None:
    assert file_stem_for("report.pdf") == "report.pdf"
    assert file_stem_for("nested/file.txt") == "nested%2Ffile.txt"


def test_chunk_id_names_document_params_and_index() -> None:
    assert chunk_id_for("a/b.pdf", 3, "p1") == "a%2Fb.pdf:p1:3"
    assert chunk_id_for("a/b.pdf", 3, "p1") != chunk_id_for("a/b.pdf", 4, "p1")
    assert chunk_id_for("a/b.pdf", 3, "p1") != chunk_id_for("a/b.pdf", 3, "p2")
    assert chunk_id_for("a/b.pdf", 3, "p1") != chunk_id_for("a/b.pdf.x", 3, "p1")


def test_point_id_is_deterministic_uuid() -> None:
    point_id = point_id_for("a/b.pdf", 0, "h1")
    assert point_id == point_id_for("a/b.pdf", 0, "h1")
    assert uuid.UUID(point_id).version == 5


def test_point_ids_are_distinct() -> None:
    ids = {
        point_id_for(document_id, index, chunking)
        for document_id in ("a.pdf", "b.pdf", "a.pdf0", "a")
        for index in range(20)
        for chunking in ("h1", "h2", "0h1", "")
    }
    assert len(ids) == 4 * 20 * 4


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}),
        ({"x": {"p": 1, "q": [1, 2]}, "y": None}, {"y": None, "x": {"q": [1, 2], "p": 1}}),
        ({}, {}),
    ],
)
def test_options_hash_ignores_key_order(
    first: dict[str, object], second: dict[str, object]
) -> None:
    assert options_hash(first) == options_hash(second)
    assert re.fullmatch(r"[0-9a-f]{16}", options_hash(first))


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"a": 1}, {"a": 2}),
        ({"a": 1}, {"b": 1}),
        ({"a": [1, 2]}, {"a": [2, 1]}),
        ({"a": 1}, {"a": "1"}),
        ({}, {"a": None}),
    ],
)
def test_options_hash_tells_values_apart(
    first: dict[str, object], second: dict[str, object]
) -> None:
    assert options_hash(first) != options_hash(second)


def test_sha256_file_matches_bytes(tmp_path: Path) -> None:
    data = os.urandom(10_000)
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert sha256_file(path, block=1000) == sha256_bytes(data)
    assert sha256_file(path) == sha256_bytes(data)
    assert sha256_bytes(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
