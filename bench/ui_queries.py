"""The GraphQL documents the Dagster UI sends, read from the installed webserver's bundle.

The UI's queries are template strings in its compiled JavaScript (`gql` tags, their fragments
interpolated); reading them from the installed `dagster_webserver` keeps a bench's queries the
ones this Dagster version's UI sends, instead of a hand-written copy that drifts.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

_TEMPLATE = re.compile(r'\._\)\(\[((?:"(?:[^"\\]|\\.)*",?)+)\]\)')
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_DEFINITION = re.compile(r"\b(?:query|mutation|fragment)\s+(\w+)")
_SPREAD = re.compile(r"\.\.\.\s*(?!on\b)([A-Za-z_]\w*)")


def _balanced(text: str, start: int) -> str:
    """The definition starting at `start`, up to the brace that closes its selection set."""
    depth = 0
    for at in range(text.index("{", start), len(text)):
        depth += {"{": 1, "}": -1}.get(text[at], 0)
        if depth == 0:
            return text[start : at + 1]
    raise ValueError(f"unbalanced GraphQL definition at {start}")


@cache
def _definitions() -> dict[str, str]:
    """Every query, mutation and fragment of the bundle, by name."""
    import dagster_webserver

    chunks = Path(dagster_webserver.__file__).parent / "webapp" / "build" / "_next" / "static"
    found: dict[str, str] = {}
    for path in sorted(chunks.rglob("*.js")):
        for template in _TEMPLATE.finditer(path.read_text(errors="ignore")):
            text = "".join(json.loads(f'"{piece}"') for piece in _STRING.findall(template[1]))
            for definition in _DEFINITION.finditer(text):
                found.setdefault(definition[1], _balanced(text, definition.start()))
    return found


def ui_query(name: str) -> str:
    """The operation `name` with every fragment it spreads, as the UI posts it."""
    definitions = _definitions()
    if name not in definitions:
        raise KeyError(f"the installed dagster-webserver's UI sends no operation {name!r}")
    parts, pending, seen = [definitions[name]], [definitions[name]], {name}
    while pending:
        for spread in _SPREAD.findall(pending.pop()):
            if spread not in seen:
                seen.add(spread)
                parts.append(definitions[spread])
                pending.append(definitions[spread])
    return "\n".join(parts)
