"""tiktoken offline: the BPE files carried in the package, and the encodings built from them."""

from __future__ import annotations

import hashlib

import pytest

from docingest.errors import ConfigError
from docingest.tokenizer import BPE_DIR, SUPPORTED_ENCODINGS, count_tokens, get_encoding

# The hashes tiktoken itself checks when it loads these files.
EXPECTED_SHA256 = {
    "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",  # cl100k_base
    "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",  # o200k_base
}


def test_carried_bpe_files_are_the_genuine_ones() -> None:
    files = [p for p in BPE_DIR.iterdir() if p.is_file()]
    assert {hashlib.sha256(p.read_bytes()).hexdigest() for p in files} == EXPECTED_SHA256


@pytest.mark.parametrize("name", SUPPORTED_ENCODINGS)
def test_supported_encodings_load(name: str) -> None:
    encoding = get_encoding(name)
    assert encoding.name == name
    text = "Revenue grew 12.5 % — très bien. 日本語"
    assert encoding.decode(encoding.encode(text)) == text


@pytest.mark.parametrize("name", SUPPORTED_ENCODINGS)
def test_count_tokens(name: str) -> None:
    assert count_tokens("hello world", name) == 2
    assert count_tokens("", name) == 0
    # Special-token text in a document is counted as ordinary text, not refused.
    assert count_tokens("<|endoftext|>", name) > 1


def test_default_encoding_is_cl100k() -> None:
    assert get_encoding().name == "cl100k_base"
    assert count_tokens("hello world") == 2


@pytest.mark.parametrize("name", ["gpt2", "p50k_base", "r50k_base", "", "CL100K_BASE"])
def test_unknown_encoding_is_a_config_error(name: str) -> None:
    with pytest.raises(ConfigError, match="unknown encoding"):
        get_encoding(name)
    with pytest.raises(ConfigError):
        count_tokens("hello", name)
