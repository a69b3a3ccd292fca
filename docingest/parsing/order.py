"""Reading order of a page's blocks by recursive XY-cut: columns left to right, bands top down.

A set of blocks with a vertical gap running through all of them is cut into columns when both
sides are tall (a real column, not a label beside a value); otherwise it is cut into bands at
every horizontal gap, and each band is ordered the same way. Blocks that no cut separates keep
top-to-bottom, left-to-right order.
"""

from __future__ import annotations

from collections.abc import Sequence

Box = tuple[float, float, float, float]

_MIN_GAP = 6.0  # points of white space that separate two columns
_TALL = 0.3  # each side of a column cut covers at least this share of the set's height
_MAX_DEPTH = 12


def _height(boxes: Sequence[Box], members: list[int]) -> float:
    return max(boxes[i][3] for i in members) - min(boxes[i][1] for i in members)


def _vertical_cut(boxes: Sequence[Box], members: list[int]) -> tuple[list[int], list[int]] | None:
    spans = sorted((boxes[i][0], boxes[i][2]) for i in members)
    reach = spans[0][1]
    for x0, x1 in spans[1:]:
        if x0 - reach >= _MIN_GAP:
            cut = (reach + x0) / 2
            left = [i for i in members if boxes[i][2] <= cut]
            right = [i for i in members if boxes[i][0] >= cut]
            total = _height(boxes, members) or 1.0
            if min(_height(boxes, left), _height(boxes, right)) >= total * _TALL:
                return left, right
        reach = max(reach, x1)
    return None


def _bands(boxes: Sequence[Box], members: list[int]) -> list[list[int]]:
    ordered = sorted(members, key=lambda i: (boxes[i][1], boxes[i][0]))
    bands: list[list[int]] = []
    bottom = float("-inf")
    for i in ordered:
        if not bands or boxes[i][1] >= bottom:
            bands.append([i])
        else:
            bands[-1].append(i)
        bottom = max(bottom, boxes[i][3]) if len(bands[-1]) > 1 else boxes[i][3]
    return bands


def _order(boxes: Sequence[Box], members: list[int], depth: int) -> list[int]:
    if len(members) < 2 or depth > _MAX_DEPTH:
        return sorted(members, key=lambda i: (boxes[i][1], boxes[i][0]))
    cut = _vertical_cut(boxes, members)
    if cut is not None:
        return _order(boxes, cut[0], depth + 1) + _order(boxes, cut[1], depth + 1)
    bands = _bands(boxes, members)
    if len(bands) == 1:
        return sorted(members, key=lambda i: (boxes[i][1], boxes[i][0]))
    return [i for band in bands for i in _order(boxes, band, depth + 1)]


def reading_order(boxes: Sequence[Box]) -> list[int]:
    """Indexes of `boxes` (x0, y0, x1, y1; y down) in reading order."""
    return _order(boxes, list(range(len(boxes))), 0)


def has_column_cut(boxes: Sequence[Box]) -> bool:
    """Whether a vertical gap splits `boxes` into two tall columns (the first cut XY-cut tries)."""
    return len(boxes) > 1 and _vertical_cut(boxes, list(range(len(boxes)))) is not None
