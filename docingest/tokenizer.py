"""tiktoken encodings, offline: the BPE files ship inside this package.

tiktoken downloads its BPE files on first use, which fails without a network. It first looks in
`TIKTOKEN_CACHE_DIR` under the sha1 of the download URL, so we point it at the copies carried in
`docingest/_data/tiktoken` (the genuine cl100k_base and o200k_base files, MIT, from OpenAI's
tiktoken; tiktoken verifies their sha256 itself).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import tiktoken

from docingest.errors import ConfigError

BPE_DIR = Path(__file__).resolve().parent / "_data" / "tiktoken"
SUPPORTED_ENCODINGS = ("cl100k_base", "o200k_base")


@functools.cache
def get_encoding(name: str = "cl100k_base") -> tiktoken.Encoding:
    if name not in SUPPORTED_ENCODINGS:
        raise ConfigError(
            f"unknown encoding {name!r}; supported offline: {', '.join(SUPPORTED_ENCODINGS)}"
        )
    # A user-provided cache dir wins only if it already holds the file.
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(BPE_DIR))
    try:
        return tiktoken.get_encoding(name)
    except Exception:
        os.environ["TIKTOKEN_CACHE_DIR"] = str(BPE_DIR)
        return tiktoken.get_encoding(name)


def count_tokens(text: str, encoding_name: str = "cl100k_base") -> int:
    return len(get_encoding(encoding_name).encode(text, disallowed_special=()))
