"""The vectorized text indexes agree with the slow, obvious versions."""

from __future__ import annotations

import random
import re

import pytest

from docingest.chunking import build_document
from docingest.chunking.document import DocText
from docingest.chunking.textindex import (
    drop_zones,
    line_starts,
    sorted_union,
    token_offsets,
    word_starts,
)
from docingest.chunking.token_size import Cutter
from docingest.models import ParseResult
from docingest.tokenizer import get_encoding

SAMPLES = [
    "",
    "plain words only",
    "  leading and trailing spaces \n\n",
    "漢字 と emoji 🙂🚀 mixed\u00a0nbsp\u3000ideographic\tspace\nline",
    "👩‍👩‍👧" * 5 + " é" * 7,
]


@pytest.mark.parametrize("text", SAMPLES)
@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_token_offsets_match_tiktoken(text: str, name: str) -> None:
    encoding = get_encoding(name)
    ids = encoding.encode(text, disallowed_special=())
    expected = encoding.decode_with_offsets(ids)[1] if ids else []
    assert token_offsets(text, ids, name) == expected


@pytest.mark.parametrize("text", SAMPLES)
def test_word_and_line_starts_match_regex(text: str) -> None:
    assert word_starts(text) == [m.end() for m in re.finditer(r"\s+", text)]
    assert line_starts(text) == [m.end() for m in re.finditer(r"\n", text)]


def test_drop_zones_with_overlapping_zones() -> None:
    positions = list(range(30))
    zones = [(2, 5), (3, 10), (4, 6), (20, 21)]
    expected = [p for p in positions if not any(a <= p < b for a, b in zones)]
    assert drop_zones(positions, zones) == expected
    assert drop_zones(positions, []) == positions


def test_sorted_union() -> None:
    assert sorted_union([1, 5, 9], [0, 5, 10]) == [0, 1, 5, 9, 10]
    assert sorted_union([], []) == []


# Characters that make pre-tokens: words, digits, punctuation, newlines before '/', tabs, NBSP,
# CRLF, apostrophes (contractions), CJK and emoji (multi-byte, multi-token characters).
_SOUP = " \n\t\r./|a'b1é漢🙂-_,:;\u00a0s"


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_slice_counts_are_exact(name: str, corpus_docs: list[ParseResult]) -> None:
    """Cutter.count (whole-text tokens between pre-token boundaries, edges encoded alone) equals
    encoding the slice by itself, on real text and on random character soup."""
    rng = random.Random(7)
    soup = "".join(rng.choice(_SOUP) for _ in range(6000))
    real = "\n\n".join(build_document(doc).text for doc in corpus_docs)
    encoding = get_encoding(name)
    for text in (real, soup, SAMPLES[3] * 20):
        cutter = Cutter(DocText(text, []), 512, name)
        for _ in range(400):
            start = rng.randrange(len(text))
            end = min(len(text), start + rng.randrange(1, 2500))
            expected = len(encoding.encode(text[start:end], disallowed_special=()))
            assert cutter.count(start, end) == expected, text[start:end]
        header = "|a|b|\n|---|---|\n"
        body = len(text) // 2
        assert cutter.count(body, len(text), header) == len(
            encoding.encode(header + text[body:], disallowed_special=())
        )
