"""Classification rules: a rules file, or rules typed in the resource's config (Launchpad)."""

from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from docingest.classify import Classifier, Embed, Rules, load_rules, page_text, parse_rules
from docingest.errors import ConfigError, DocIngestError
from docingest.parsing import parse_file
from docingest.parsing.options import ParseOptions

RULES_ENV = "DOCINGEST_CLASSIFY_RULES"


class ClassRule(dg.Config):
    """One class: LlamaCloud's {type, description}, with optional lexical evidence."""

    type: str = Field(description="The class name given to a match, e.g. 'invoice'.")
    description: str = Field(description="What such a document (or page) is, in words.")
    keywords: list[str] = Field(
        default_factory=list, description="Words whose presence adds to the score."
    )
    patterns: list[str] = Field(
        default_factory=list, description="Regular expressions; each match adds to the score."
    )
    examples: list[str] = Field(
        default_factory=list, description="Example files of the class (their first pages)."
    )
    fragment_types: list[str] = Field(
        default_factory=list,
        description="Fragment types (e.g. table, formula) whose every fragment adds to the score.",
    )


class ClassifierResource(dg.ConfigurableResource):
    """Document types and page classes by rules, scored with the pipeline's embedding model.

    `rules_path` (a YAML/JSON rules file, e.g. from $DOCINGEST_CLASSIFY_RULES) wins over the
    inline fields. With neither, documents get no type and only blank pages a class."""

    rules_path: str | None = Field(
        default=None, description="Rules file (YAML or JSON); its content wins over the fields."
    )
    rules: list[ClassRule] = Field(default_factory=list, description="Document types.")
    page_classes: list[ClassRule] = Field(
        default_factory=list, description="Page classes (Tensorlake's page_classes)."
    )
    threshold: float = Field(default=0.25, description="Under this score: 'unknown'.")
    page_threshold: float = Field(default=0.3, description="Under this score a page has no class.")
    max_pages: int = Field(default=3, description="First pages a document is judged on.")
    exclude_page_classes: list[str] = Field(
        default_factory=list,
        description="Page classes kept out of the index, e.g. [table_of_contents, blank].",
    )

    def ruleset(self) -> Rules:
        """The rules in force; ConfigError names what is wrong with them."""
        if self.rules_path:
            return load_rules(self.rules_path)
        data: dict[str, Any] = {
            "rules": [r.model_dump(exclude_defaults=True) for r in self.rules],
            "page_classes": [r.model_dump(exclude_defaults=True) for r in self.page_classes],
            "threshold": self.threshold,
            "page_threshold": self.page_threshold,
            "parsing_configuration": {"max_pages": self.max_pages},
            "exclude_page_classes": self.exclude_page_classes,
        }
        return parse_rules(data)

    def classifier(self, embed: Embed) -> Classifier:
        """The classifier for these rules and this embedding function: build it once per run
        (its rule prototypes are embedded on first use, its example files parsed here)."""
        rules = self.ruleset()
        return Classifier(rules, embed, example_texts(rules))


def example_texts(rules: Rules) -> dict[str, str]:
    """The text of each example file's first pages (fast engine: text is all it needs)."""
    files = {e for rule in (*rules.rules, *rules.page_classes) for e in rule.examples}
    options = ParseOptions(engine="fast", target_pages=f"1-{rules.max_pages}")
    texts: dict[str, str] = {}
    for name in sorted(files):
        try:
            parsed = parse_file(Path(name), options=options)
        except DocIngestError as error:
            raise ConfigError(
                f"example file {name}: {error.code.value}: {error.message}"
            ) from error
        texts[name] = "\n".join(page_text(p.markdown) for p in parsed.pages)
    return texts
