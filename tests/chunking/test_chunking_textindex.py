"""The vectorized text indexes agree with the slow, obvious versions."""

from __future__ import annotations

import re

import pytest

from docingest.chunking.textindex import drop_zones, line_starts, token_offsets, word_starts
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
