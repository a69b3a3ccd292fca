"""Vectorized indexes over a document text: token character offsets and boundary positions.

Python loops over every token or word dominate token_size chunking on large documents; these
helpers do the same work with numpy (a pandas dependency already installed).
"""

from __future__ import annotations

import functools

import numpy as np

from docingest.tokenizer import get_encoding

# Every code point str.isspace() accepts (the same set the re module's \s matches).
_WHITESPACE = np.array([c for c in range(0x3001) if chr(c).isspace()], dtype=np.uint32)


@functools.cache
def _byte_lengths(encoding_name: str) -> np.ndarray:
    """UTF-8 byte length of every token id of the encoding (0 for unused ids)."""
    encoding = get_encoding(encoding_name)
    lengths = np.zeros(encoding.n_vocab, dtype=np.int64)
    ranks = getattr(encoding, "_mergeable_ranks", None)  # bytes -> id; fast where present
    if isinstance(ranks, dict) and ranks:
        lengths[np.fromiter(ranks.values(), dtype=np.int64, count=len(ranks))] = np.fromiter(
            (len(token) for token in ranks), dtype=np.int64, count=len(ranks)
        )
    for token in [] if isinstance(ranks, dict) and ranks else range(encoding.n_vocab):
        try:
            lengths[token] = len(encoding.decode_single_token_bytes(token))
        except KeyError:
            continue
    for name, token in getattr(encoding, "_special_tokens", {}).items():
        if token < len(lengths):
            lengths[token] = len(name.encode("utf-8"))
    return lengths


def token_offsets(text: str, ids: list[int], encoding_name: str) -> list[int]:
    """Character offset where each token starts: what tiktoken's decode_with_offsets gives (a
    token that starts inside a multi-byte character maps to that character), without its
    per-token Python loop."""
    if not ids:
        return []
    raw = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    char_of_byte = np.cumsum((raw & 0xC0) != 0x80) - 1
    byte_starts = np.cumsum(_byte_lengths(encoding_name)[np.asarray(ids, dtype=np.int64)])
    byte_starts = np.concatenate(([0], byte_starts[:-1]))
    return np.maximum(char_of_byte[byte_starts], 0).tolist()


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def word_starts(text: str) -> list[int]:
    """End of every whitespace run (the positions `re.finditer(r"\\s+")` match ends give)."""
    space = np.isin(_code_points(text), _WHITESPACE)
    ends = np.flatnonzero(space[:-1] & ~space[1:]) + 1
    if len(space) and space[-1]:
        ends = np.append(ends, len(space))
    return ends.tolist()


def pretoken_boundaries(text: str) -> list[int]:
    """Positions no pre-token of cl100k_base or o200k_base can straddle, whatever the text
    before: after a non-space before a space or tab (no pattern runs from a non-space into
    whitespace other than newlines), and after a newline before a non-space other than '/'
    (newlines only end pre-tokens; o200k lets '/' follow them). Plus both ends of the text.

    BPE works inside pre-tokens, so a slice of the text that starts and ends on such
    positions encodes to exactly the tokens the whole text has there.
    """
    points = _code_points(text)
    if len(points) < 2:
        return sorted({0, len(points)})
    space = np.isin(points, _WHITESPACE)
    newline = (points == 10) | (points == 13)
    word_end = ~space[:-1] & space[1:] & ~newline[1:]
    line_start = (points[:-1] == 10) & ~space[1:] & (points[1:] != 47)
    inner = np.flatnonzero(word_end | line_start) + 1
    return [0, *inner.tolist(), len(points)]


def line_starts(text: str) -> list[int]:
    """Position after every newline."""
    return (np.flatnonzero(_code_points(text) == 10) + 1).tolist()


def drop_zones(positions: list[int], zones: list[tuple[int, int]]) -> list[int]:
    """Positions (sorted) not inside any half-open zone [a, b) (zones may overlap)."""
    if not zones or not positions:
        return list(positions)
    ordered = sorted(zones)
    starts = np.array([zone[0] for zone in ordered], dtype=np.int64)
    reach = np.maximum.accumulate(np.array([zone[1] for zone in ordered], dtype=np.int64))
    points = np.asarray(positions, dtype=np.int64)
    index = np.searchsorted(starts, points, side="right") - 1
    inside = (index >= 0) & (points < reach[np.maximum(index, 0)])
    return points[~inside].tolist()


def sorted_union(first: list[int], second: list[int]) -> list[int]:
    """The sorted, distinct positions of both lists (numpy's union1d hashes: slower here)."""
    merged = np.sort(np.concatenate((np.asarray(first, dtype=np.int64), second)))
    if len(merged) == 0:
        return []
    keep = np.empty(len(merged), dtype=bool)
    keep[0] = True
    np.not_equal(merged[1:], merged[:-1], out=keep[1:])
    return merged[keep].tolist()
