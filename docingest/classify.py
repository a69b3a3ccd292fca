"""Document and page classification by rules, offline and explainable (no generative model).

A rule is `{type, description}` (LlamaCloud's classify rules), optionally with keywords,
regular expressions and example files. A text's score for a rule is

    score = max cosine(text vector, prototype vectors) + min(keyword_cap, keyword_weight * hits)

where the prototypes are the rule's description (with its type name) and its examples, embedded
with the pipeline's own model, and `hits` counts the rule's keywords found (whole words, any
case), the matches of its patterns and the fragments of its `fragment_types` (the parse's
layout: e.g. `table`). The best type wins unless its score is under the
threshold ("unknown"); the runner-up and every score come with it, and the evidence (which
keywords and patterns hit) says why.

A document is scored on its first pages (`max_pages`, or `target_pages`); each page on its
own text against the page classes (Tensorlake's `page_classes`: class -> pages). A page without
readable text is `blank`, always. Page vectors depend on the parse and the model only, never on
the rules: they are cached by content, so classifying again with new rules embeds nothing but
the rules.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from docingest.errors import ConfigError
from docingest.locations import Location, read_bytes, write_bytes_atomic
from docingest.models import FRAGMENT_TYPES, ParseResult
from docingest.storage import DocumentStore

UNKNOWN = "unknown"
BLANK = "blank"
MODES = ("FAST",)  # LlamaCloud's MULTIMODAL needs a vision model: not offline
RULE_KEYS = {"type", "description", "keywords", "patterns", "fragment_types", "examples"}
TOP_KEYS = {
    "rules",
    "page_classes",
    "threshold",
    "page_threshold",
    "keyword_weight",
    "keyword_cap",
    "exclude_page_classes",
    "mode",
    "parsing_configuration",
}
# Characters of a page's text that reach the model: all-MiniLM-L6-v2 reads 256 word pieces.
PAGE_TEXT_CHARS = 2000
_TAG = re.compile(r"<[^>]+>")
_MARKUP = re.compile(r"[#*|_`>\-]{2,}|!\[[^\]]*\]\([^)]*\)")

Embed = Callable[[Sequence[str]], list[list[float]]]


@dataclass(frozen=True)
class Rule:
    """One class: its name, what it is in words, optional lexical and layout evidence (the
    parse's fragment types, e.g. `table`), and examples."""

    type: str
    description: str
    keywords: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()  # files, resolved against the rules file's folder
    fragment_types: tuple[str, ...] = ()

    def prototype(self) -> str:
        """The text the description is embedded as: the type name in words, then the words."""
        return f"{self.type.replace('_', ' ')}: {self.description}"

    def evidence(self, text: str, fragments: Sequence[str] = ()) -> list[str]:
        """The keywords found in `text`, each pattern's matches and each fragment of the
        rule's fragment types (`fragments`: the types of the text's fragments), one per hit."""
        found = [k for k in self.keywords if re.search(rf"(?<!\w){re.escape(k)}(?!\w)", text, re.I)]
        for pattern in self.patterns:
            found += [f"/{pattern}/"] * len(re.findall(pattern, text, re.M))
        found += [f"<{kind}>" for kind in fragments if kind in self.fragment_types]
        return found


@dataclass(frozen=True)
class Rules:
    """A rule set: document types, page classes and how they are judged."""

    rules: tuple[Rule, ...] = ()
    page_classes: tuple[Rule, ...] = ()
    threshold: float = 0.25
    page_threshold: float = 0.3
    keyword_weight: float = 0.05
    keyword_cap: float = 0.2
    max_pages: int = 3
    target_pages: tuple[int, ...] = ()  # 0-indexed, as in LlamaCloud's parsing_configuration
    exclude_page_classes: tuple[str, ...] = ()
    mode: str = "FAST"

    def digest(self) -> str:
        """Identifies the rule set (the classification's code version)."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, list):
        raise ConfigError(f"{where} must be a list of strings")
    if not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where} must be a list of non-empty strings")
    return tuple(value)


def _rule(data: Any, where: str, base: Path | None) -> Rule:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be a mapping with 'type' and 'description'")
    unknown = sorted(set(data) - RULE_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {sorted(RULE_KEYS)}")
    kind, description = data.get("type"), data.get("description")
    if not isinstance(kind, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", kind):
        raise ConfigError(f"{where}: 'type' must be a name of letters, digits, '_', '.', '-'")
    if kind in (UNKNOWN, BLANK):
        raise ConfigError(f"{where}: type {kind!r} is reserved")
    if not isinstance(description, str) or not description.strip():
        raise ConfigError(f"{where} ({kind}): 'description' must be a non-empty string")
    patterns = _strings(data.get("patterns"), f"{where} ({kind}) patterns")
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as e:
            raise ConfigError(f"{where} ({kind}): invalid pattern {pattern!r}: {e}") from e
    fragment_types = _strings(data.get("fragment_types"), f"{where} ({kind}) fragment_types")
    if set(fragment_types) - set(FRAGMENT_TYPES):
        raise ConfigError(
            f"{where} ({kind}): unknown fragment type(s) "
            f"{sorted(set(fragment_types) - set(FRAGMENT_TYPES))}; known: {list(FRAGMENT_TYPES)}"
        )
    examples = _strings(data.get("examples"), f"{where} ({kind}) examples")
    resolved = tuple(str((base / e) if base and not Path(e).is_absolute() else e) for e in examples)
    for path in resolved:
        if not Path(path).is_file():
            raise ConfigError(f"{where} ({kind}): example file {path} not found")
    return Rule(
        kind,
        description.strip(),
        _strings(data.get("keywords"), f"{where} ({kind}) keywords"),
        patterns,
        resolved,
        fragment_types,
    )


def _number(data: Mapping[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError(f"{key} must be a number in [{low}, {high}], not {value!r}")
    return float(value)


def parse_rules(data: Any, base: Path | None = None) -> Rules:
    """A rule set from its mapping (a rules file's content, or the resource's fields); any
    mistake is a ConfigError that names it."""
    if not isinstance(data, Mapping):
        raise ConfigError("a rules file holds a mapping with 'rules' and/or 'page_classes'")
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown} in the rules; known: {sorted(TOP_KEYS)}")
    rules, pages = data.get("rules") or [], data.get("page_classes") or []
    if not isinstance(rules, list) or not isinstance(pages, list):
        raise ConfigError("'rules' and 'page_classes' must be lists of {type, description}")
    doc_rules = tuple(_rule(r, f"rules[{i}]", base) for i, r in enumerate(rules))
    page_rules = tuple(_rule(r, f"page_classes[{i}]", base) for i, r in enumerate(pages))
    for name, group in (("rules", doc_rules), ("page_classes", page_rules)):
        types = [r.type for r in group]
        if len(set(types)) != len(types):
            raise ConfigError(f"{name}: a type appears twice: {sorted(types)}")
    mode = data.get("mode", "FAST")
    if mode not in MODES:
        raise ConfigError(f"mode {mode!r} is not offline; supported: {list(MODES)}")
    parsing = data.get("parsing_configuration") or {}
    if not isinstance(parsing, Mapping) or set(parsing) - {"max_pages", "target_pages"}:
        raise ConfigError("parsing_configuration takes max_pages and target_pages only")
    max_pages = parsing.get("max_pages", 3)
    if isinstance(max_pages, bool) or not isinstance(max_pages, int) or max_pages < 1:
        raise ConfigError(f"parsing_configuration.max_pages must be >= 1, not {max_pages!r}")
    target = parsing.get("target_pages") or []
    if not isinstance(target, list) or not all(
        isinstance(p, int) and not isinstance(p, bool) and p >= 0 for p in target
    ):
        raise ConfigError("parsing_configuration.target_pages must be 0-indexed page numbers")
    excluded = _strings(data.get("exclude_page_classes"), "exclude_page_classes")
    known = {r.type for r in page_rules} | {BLANK}
    if set(excluded) - known:
        raise ConfigError(
            f"exclude_page_classes names unknown class(es) {sorted(set(excluded) - known)}; "
            f"page classes: {sorted(known)}"
        )
    return Rules(
        rules=doc_rules,
        page_classes=page_rules,
        threshold=_number(data, "threshold", 0.25, -1.0, 2.0),
        page_threshold=_number(data, "page_threshold", 0.3, -1.0, 2.0),
        keyword_weight=_number(data, "keyword_weight", 0.05, 0.0, 1.0),
        keyword_cap=_number(data, "keyword_cap", 0.2, 0.0, 1.0),
        max_pages=max_pages,
        target_pages=tuple(target),
        exclude_page_classes=excluded,
        mode=str(mode),
    )


def load_rules(path: str | Path) -> Rules:
    """A rules file (YAML or JSON); a missing or malformed file is a ConfigError."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot read rules file {path}: {e.strerror or e}") from e
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ConfigError(f"rules file {path} is not valid YAML/JSON: {e}") from e
    try:
        return parse_rules(data, base=path.parent)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from e


def page_text(markdown: str) -> str:
    """A page's words as the model should read them: no HTML tags, no markdown rules."""
    text = _MARKUP.sub(" ", _TAG.sub(" ", markdown))
    return re.sub(r"\s+", " ", text).strip()


@dataclass
class Verdict:
    """The best class for one text, the runner-up, every score and the evidence."""

    label: str
    score: float
    runner_up: str | None
    runner_up_score: float | None
    scores: dict[str, float]
    evidence: dict[str, list[str]]


@dataclass
class Classification:
    """What classifying one document found (stored beside its parse, `classification/`)."""

    document_type: str | None  # None: no document rules configured
    score: float | None
    runner_up: str | None
    runner_up_score: float | None
    scores: dict[str, float]
    evidence: dict[str, list[str]]
    page_classes: dict[str, list[int]]  # Tensorlake's shape: class -> 1-based pages
    excluded_pages: list[int]
    rules_hash: str
    pages_used: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Classification:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def page_class_of(self, page: int) -> list[str]:
        return sorted(c for c, pages in self.page_classes.items() if page in pages)

    def chunk_classes(self, page_start: int, page_end: int) -> list[str]:
        """The classes of the pages a chunk spans (its `page_class` payload)."""
        span = range(page_start, page_end + 1)
        return sorted({c for p in span for c in self.page_class_of(p)})

    def excludes(self, page_start: int, page_end: int) -> bool:
        """Whether every page of the span is of an excluded class (the chunk is not indexed)."""
        excluded = set(self.excluded_pages)
        return all(p in excluded for p in range(page_start, page_end + 1))

    def payload(self) -> dict[str, Any]:
        """The document's keys in every point's payload (None: no document rules)."""
        return {"document_type": self.document_type, "document_type_score": self.score}


def _normalized(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.asarray(vectors / np.where(norms == 0, 1.0, norms), dtype=np.float32)


class Classifier:
    """A rule set bound to an embedding function; rule prototypes are embedded once."""

    def __init__(self, rules: Rules, embed: Embed, example_texts: Mapping[str, str] | None = None):
        self.rules = rules
        self._embed = embed
        self._examples = dict(example_texts or {})  # example file -> its first pages' text
        self._prototypes: dict[tuple[Rule, ...], list[np.ndarray]] = {}

    def _prototype_vectors(self, group: tuple[Rule, ...]) -> list[np.ndarray]:
        """Per rule, the vectors of its description and examples (embedded on first use)."""
        key = group
        if key not in self._prototypes:
            texts: list[str] = []
            owners: list[int] = []
            for i, rule in enumerate(group):
                for text in (rule.prototype(), *(self._examples.get(e, "") for e in rule.examples)):
                    if text.strip():
                        texts.append(text[:PAGE_TEXT_CHARS])
                        owners.append(i)
            vectors = _normalized(np.asarray(self._embed(texts), dtype=np.float32))
            owned = np.asarray(owners)
            self._prototypes[key] = [vectors[owned == i] for i in range(len(group))]
        return self._prototypes[key]

    def judge(
        self,
        vector: np.ndarray,
        text: str,
        group: tuple[Rule, ...],
        floor: float,
        fragments: Sequence[str] = (),
    ) -> Verdict:
        """Score `text` (its vector, its fragments' types) against every rule of `group`."""
        prototypes = self._prototype_vectors(group)
        scores: dict[str, float] = {}
        evidence: dict[str, list[str]] = {}
        for rule, proto in zip(group, prototypes, strict=True):
            similarity = float((proto @ vector).max()) if len(proto) else 0.0
            hits = rule.evidence(text, fragments)
            bonus = min(self.rules.keyword_cap, self.rules.keyword_weight * len(hits))
            scores[rule.type] = round(similarity + bonus, 4)
            if hits:
                evidence[rule.type] = sorted(set(hits))
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        best, best_score = ranked[0]
        second = ranked[1] if len(ranked) > 1 else (None, None)
        return Verdict(
            best if best_score >= floor else UNKNOWN, best_score, second[0], second[1],
            scores, evidence,
        )  # fmt: skip

    def document_pages(self, parsed: ParseResult) -> list[int]:
        """The pages the document type is judged on (1-based)."""
        if self.rules.target_pages:
            wanted = {p + 1 for p in self.rules.target_pages}
            return [p.page_number for p in parsed.pages if p.page_number in wanted]
        return [p.page_number for p in parsed.pages[: self.rules.max_pages]]

    def needed_pages(self, parsed: ParseResult) -> list[int]:
        """The pages whose vectors this rule set needs."""
        if self.rules.page_classes:
            return [p.page_number for p in parsed.pages]
        return self.document_pages(parsed) if self.rules.rules else []

    def page_vectors(
        self, parsed: ParseResult, cached: Mapping[int, np.ndarray]
    ) -> dict[int, np.ndarray]:
        """The vectors of the needed pages that have text: the cached ones, the rest embedded."""
        texts = {p.page_number: page_text(p.markdown) for p in parsed.pages}
        needed = [n for n in self.needed_pages(parsed) if texts.get(n)]
        missing = [n for n in needed if n not in cached]
        fresh = self._embed([texts[n][:PAGE_TEXT_CHARS] for n in missing]) if missing else []
        vectors = {n: cached[n] for n in needed if n in cached}
        vectors.update(
            {n: np.asarray(v, dtype=np.float32) for n, v in zip(missing, fresh, strict=True)}
        )
        return vectors

    def classify(self, parsed: ParseResult, vectors: Mapping[int, np.ndarray]) -> Classification:
        """Classify the document and its pages from their text and page vectors."""
        texts = {p.page_number: page_text(p.markdown) for p in parsed.pages}
        verdict: Verdict | None = None
        used = [n for n in self.document_pages(parsed) if n in vectors]
        if self.rules.rules:
            if used:
                mean = _normalized(np.mean([vectors[n] for n in used], axis=0))
                text = "\n".join(texts[n] for n in used)
                kinds = [f.type for p in parsed.pages if p.page_number in used for f in p.fragments]
                verdict = self.judge(mean, text, self.rules.rules, self.rules.threshold, kinds)
            else:  # nothing readable on the pages it is judged on
                verdict = Verdict(UNKNOWN, 0.0, None, None, {}, {})
        classes: dict[str, list[int]] = {}
        for page in parsed.pages:
            n = page.page_number
            if page.status != "ok":  # not parsed (outside target_pages) or failed: no class
                continue
            if not texts[n]:
                label = BLANK
            elif self.rules.page_classes and n in vectors:
                kinds = [f.type for f in page.fragments]
                label = self.judge(
                    vectors[n], texts[n], self.rules.page_classes, self.rules.page_threshold, kinds
                ).label
            else:
                continue
            if label != UNKNOWN:
                classes.setdefault(label, []).append(n)
        excluded = sorted(n for c in self.rules.exclude_page_classes for n in classes.get(c, []))
        return Classification(
            document_type=verdict.label if verdict else None,
            score=verdict.score if verdict else None,
            runner_up=verdict.runner_up if verdict else None,
            runner_up_score=verdict.runner_up_score if verdict else None,
            scores=verdict.scores if verdict else {},
            evidence=verdict.evidence if verdict else {},
            page_classes=classes,
            excluded_pages=excluded,
            rules_hash=self.rules.digest(),
            pages_used=used,
        )


# --- the page-vector cache, by content: a renamed file, the CLI and the pipeline share it ---


def _vectors_path(store: DocumentStore, parsed: ParseResult, model: str) -> Location:
    key = hashlib.sha256(f"{parsed.sha256}\x00{parsed.options_hash}\x00{model}".encode())
    return store.base_dir / "classify_vectors" / f"{key.hexdigest()[:32]}.npz"


def read_page_vectors(
    store: DocumentStore, parsed: ParseResult, model: str
) -> dict[int, np.ndarray]:
    path = _vectors_path(store, parsed, model)
    try:
        raw = read_bytes(path)
    except FileNotFoundError:
        return {}
    with np.load(io.BytesIO(raw)) as data:
        return {int(n): v for n, v in zip(data["pages"], data["vectors"], strict=True)}


def write_page_vectors(
    store: DocumentStore, parsed: ParseResult, model: str, vectors: Mapping[int, np.ndarray]
) -> None:
    pages = sorted(vectors)
    buffer = io.BytesIO()
    np.savez(
        buffer,
        pages=np.asarray(pages, dtype=np.int32),
        vectors=np.asarray([vectors[n] for n in pages], dtype=np.float32).reshape(len(pages), -1),
    )
    write_bytes_atomic(_vectors_path(store, parsed, model), buffer.getvalue())


CLASSIFICATION_KIND = "classification"


def read_classification(store: DocumentStore, document_id: str) -> Classification | None:
    record = store.read_json(CLASSIFICATION_KIND, document_id)
    return Classification.from_dict(record) if record else None


def write_classification(
    store: DocumentStore, document_id: str, classification: Classification
) -> None:
    store.write_json(CLASSIFICATION_KIND, document_id, classification.to_dict())
