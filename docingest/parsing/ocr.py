"""OCR with Tesseract through PyMuPDF: availability checks, and the per-page OCR callback."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import pymupdf

from docingest.errors import DocIngestError, ErrorCode

_INSTALL = "apt-get install -y tesseract-ocr tesseract-ocr-eng"
_REPLACEMENT = "\ufffd"
_GARBAGE_RATIO = 0.3  # of a page's characters unmapped (U+FFFD): its text layer is garbage
_MIN_IMAGE_COVER = 0.1  # of the page covered by images: worth OCR when there is no text
# What Tesseract's failures raise through PyMuPDF: MuPDF's own errors ("FzErrorLibrary: Tesseract
# language initialisation failed" for a broken traineddata file) do not derive from RuntimeError.
_TESSERACT_ERRORS = (RuntimeError, pymupdf.mupdf.FzErrorBase)


@cache
def _tessdata(prefix: str | None) -> str | None:
    # `prefix` (TESSDATA_PREFIX) is the cache key, so a changed environment is seen.
    try:
        return str(pymupdf.get_tessdata(prefix))
    except RuntimeError:
        return None


def tessdata_for(languages: str) -> str:
    """The tessdata folder holding every language of `languages` ("eng+deu")."""
    folder = _tessdata(os.environ.get("TESSDATA_PREFIX"))
    if folder is None or not Path(folder).is_dir():
        raise DocIngestError(
            ErrorCode.OCR_ERROR,
            f"this page needs OCR but Tesseract is not installed; install it with `{_INSTALL}`",
        )
    for language in languages.split("+"):
        if not (Path(folder) / f"{language}.traineddata").is_file():
            package = f"tesseract-ocr-{language.lower().replace('_', '-')}"
            raise DocIngestError(
                ErrorCode.OCR_ERROR,
                f"Tesseract has no data for language {language!r} in {folder}; "
                f"install it with `apt-get install -y {package}`",
            )
    return folder


def missing_language_data(languages: str) -> str | None:
    """What to install for the languages of `languages` ("eng+deu") that Tesseract has no data
    for; None when it has them all, or has no language data at all (then OCR is unavailable
    and each page that needs it says so, see `OcrRecorder`)."""
    folder = _tessdata(os.environ.get("TESSDATA_PREFIX"))
    if folder is None or not any(Path(folder).glob("*.traineddata")):
        return None
    missing = [
        language
        for language in languages.split("+")
        if not (Path(folder) / f"{language}.traineddata").is_file()
    ]
    if not missing:
        return None
    packages = " ".join(f"tesseract-ocr-{m.lower().replace('_', '-')}" for m in missing)
    return (
        f"ocr_languages: Tesseract has no data for {', '.join(missing)} in {folder}; "
        f"install it with `apt-get install -y {packages}`"
    )


def _garbage(chars: list[str]) -> bool:
    return sum(c == _REPLACEMENT for c in chars) / len(chars) >= _GARBAGE_RATIO


def text_layer_is_usable(page: pymupdf.Page) -> bool:
    """The page has text of its own that is not mostly unmapped glyphs: when OCR cannot run,
    auto mode keeps it (see `OcrRecorder`)."""
    chars = [c for c in page.get_text("text") if not c.isspace()]
    return bool(chars) and not _garbage(chars)


def text_layer_is_unusable(page: pymupdf.Page) -> bool:
    """No text but images worth reading, or text that is mostly unmapped glyphs."""
    text = page.get_text("text")
    chars = [c for c in text if not c.isspace()]
    if chars:
        return _garbage(chars)
    area = abs(page.rect) or 1.0
    covered = sum(abs(pymupdf.Rect(info["bbox"]) & page.rect) for info in page.get_image_info())
    return covered / area >= _MIN_IMAGE_COVER or bool(page.get_drawings())


def ocr_textpage(page: pymupdf.Page, languages: str, dpi: int) -> pymupdf.TextPage:
    """A text page of `page` read by Tesseract (the whole page, at `dpi`)."""
    tessdata = tessdata_for(languages)
    try:
        return page.get_textpage_ocr(language=languages, dpi=dpi, full=True, tessdata=tessdata)
    except _TESSERACT_ERRORS as exc:
        raise DocIngestError(ErrorCode.OCR_ERROR, f"Tesseract failed: {exc}") from exc


class OcrRecorder:
    """The `ocr_function` handed to pymupdf4llm: OCRs a page and remembers what happened.

    OCR is an enhancement, not a gate: in auto mode a page whose own text layer is usable
    keeps it when OCR cannot run (Tesseract missing, or failing), and is noted in `kept`;
    only a page without usable text (or any page in force mode) fails, in `failed`.
    """

    def __init__(self, languages: str, mode: str = "auto") -> None:
        self.languages = languages
        self.mode = mode
        self.done: set[int] = set()  # 0-based numbers of the pages OCR'd
        self.failed: dict[int, DocIngestError] = {}
        self.kept: dict[int, DocIngestError] = {}  # OCR failed; the text layer stands in

    def _failure(self, page: pymupdf.Page, error: DocIngestError) -> None:
        if self.mode != "force" and text_layer_is_usable(page):
            self.kept[page.number] = error
        else:
            self.failed[page.number] = error

    def __call__(
        self,
        page: pymupdf.Page,
        dpi: int,
        language: str = "eng",
        keep_ocr_text: bool = False,
        **_: object,
    ) -> None:
        """OCR `page` in place (pymupdf4llm's callback signature)."""
        try:
            tessdata = tessdata_for(self.languages)
            # Imported lazily: pymupdf4llm is the layout engine's dependency, not the fast one's.
            from pymupdf4llm.ocr import tesseract_api

            # It looks for Tesseract once, at import; tell it what we found since.
            tesseract_api.TESSDATA = tesseract_api.TESSDATA or tessdata
            tesseract_api.exec_ocr(
                page, dpi=dpi, language=self.languages, keep_ocr_text=keep_ocr_text
            )
            self.done.add(page.number)
        except DocIngestError as exc:
            self._failure(page, exc)
        except _TESSERACT_ERRORS as exc:
            self._failure(page, DocIngestError(ErrorCode.OCR_ERROR, f"Tesseract failed: {exc}"))
