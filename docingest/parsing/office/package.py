"""An Office Open XML or OpenDocument package: its parts by name, read within the limits."""

from __future__ import annotations

import io
import posixpath
import zipfile

from lxml import etree

from docingest.parsing.office.safety import open_zip, parse_xml, read_member

_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"


class Package:
    """Parts of a zip package, found by name case-insensitively and with either slash."""

    def __init__(self, data: bytes, what: str) -> None:
        self.what = what
        self.archive = open_zip(data, what)
        self._names = {
            name.lower().replace("\\", "/").lstrip("/"): name for name in self.archive.namelist()
        }

    def has(self, name: str) -> bool:
        return name.lower().lstrip("/") in self._names

    def read(self, name: str) -> bytes | None:
        actual = self._names.get(name.lower().lstrip("/"))
        return None if actual is None else read_member(self.archive, actual)

    def xml(self, name: str) -> etree._Element | None:
        data = self.read(name)
        return None if data is None else parse_xml(data, f"{self.what} part {name}")

    def relationships(self, part: str) -> dict[str, tuple[str, str, bool]]:
        """The part's relationships: id -> (type suffix, target path or URL, external)."""
        folder, name = posixpath.split(part)
        root = self.xml(posixpath.join(folder, "_rels", f"{name}.rels"))
        out: dict[str, tuple[str, str, bool]] = {}
        if root is None:
            return out
        for rel in root.iter(f"{{{_REL_NS}}}Relationship"):
            target = rel.get("Target", "")
            external = rel.get("TargetMode") == "External"
            if not external:
                base = "" if target.startswith("/") else folder
                target = posixpath.normpath(posixpath.join(base, target.lstrip("/")))
            kind = rel.get("Type", "").rsplit("/", 1)[-1]
            out[rel.get("Id", "")] = (kind, target, external)
        return out

    def main_part(self, default: str) -> str:
        """The package's main part from its root relationships (`default` if none say)."""
        for kind, target, _ in self.relationships("").values():
            if kind == "officeDocument" and self.has(target):
                return target
        return default

    _CANONICAL = {"[content_types].xml": "[Content_Types].xml"}

    def normalized(self) -> bytes:
        """The package rewritten with forward slashes and part names in the case that its
        relationships and content types use (what readers look up)."""
        canonical = dict(self._CANONICAL)
        for lowered in self._names:
            if lowered.endswith(".rels"):
                folder = posixpath.dirname(posixpath.dirname(lowered))
                part = posixpath.join(folder, posixpath.basename(lowered)[: -len(".rels")])
                for _, target, external in self.relationships(part).values():
                    if not external:
                        canonical.setdefault(target.lower(), target)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
            for lowered, actual in self._names.items():
                name = canonical.get(lowered, actual.replace("\\", "/").lstrip("/"))
                out.writestr(name, read_member(self.archive, actual) or b"")
        return buffer.getvalue()

    def close(self) -> None:
        self.archive.close()
