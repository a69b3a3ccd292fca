"""Classified document errors: every failure carries a code and a fixed retryable flag."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    FILE_TYPE_NOT_SUPPORTED = "FILE_TYPE_NOT_SUPPORTED"
    FILE_SIZE_TOO_LARGE = "FILE_SIZE_TOO_LARGE"
    CORRUPT_FILE = "CORRUPT_FILE"
    PASSWORD_PROTECTED_FILE = "PASSWORD_PROTECTED_FILE"
    UNABLE_TO_DOWNLOAD_FILE = "UNABLE_TO_DOWNLOAD_FILE"
    PARSE_TIMEOUT = "PARSE_TIMEOUT"
    OCR_ERROR = "OCR_ERROR"
    FAILED_TO_CONVERT_TO_PDF = "FAILED_TO_CONVERT_TO_PDF"
    EMBEDDING_ERROR = "EMBEDDING_ERROR"
    VECTOR_STORE_UNAVAILABLE = "VECTOR_STORE_UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    # Not one of the hosted parse APIs' codes: a document id (partition key) or a link that
    # leads outside the source root. None of theirs fits: UNABLE_TO_DOWNLOAD_FILE is retryable,
    # and the file's type is never looked at.
    FILE_OUTSIDE_SOURCE_ROOT = "FILE_OUTSIDE_SOURCE_ROOT"

    @property
    def retryable(self) -> bool:
        return self in _RETRYABLE


# Retryable: the same input may succeed later. Transient conditions (a download, a timeout, the
# model or the store unavailable), and INTERNAL_ERROR: an unexpected exception in our code may be
# transient too (a race, a resource limit), and once fixed the document must run again without
# its content changing. The other codes are properties of the input; retrying only burns time.
_RETRYABLE = frozenset(
    {
        ErrorCode.UNABLE_TO_DOWNLOAD_FILE,
        ErrorCode.PARSE_TIMEOUT,
        ErrorCode.EMBEDDING_ERROR,
        ErrorCode.VECTOR_STORE_UNAVAILABLE,
        ErrorCode.INTERNAL_ERROR,
    }
)


class DocIngestError(Exception):
    """The one exception base of the pure code: a classified failure of one document."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message
        self.trace: str | None = None  # the traceback of an INTERNAL_ERROR (a bug), if any

    @property
    def retryable(self) -> bool:
        return self.code.retryable

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code.value, "message": self.message, "retryable": self.retryable}


class ConfigError(ValueError):
    """Invalid options (unknown strategy, overlap >= size, ...): raised before any work starts."""
