"""The CLI's parse flags, generated from the parse options' schema: one flag per field, with
its name, help, default and choices (docingest.parsing.options)."""

import types
from enum import Enum
from typing import Any, Union, get_args, get_origin

import click
from pydantic.fields import FieldInfo

from docingest.parsing.options import ParseOptionFields


def _flag(name: str, field: FieldInfo) -> Any:
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    flag = str(extra.get("flag") or name.replace("_", "-"))
    annotation = field.annotation
    if get_origin(annotation) in (Union, types.UnionType):  # `X | None`: no value by default
        annotation = next(arg for arg in get_args(annotation) if arg is not type(None))
    default = field.default
    settings: dict[str, Any] = {"help": field.description}
    if annotation is bool:
        return click.option(
            f"--{flag}/--no-{flag}", name, default=default, show_default=True, **settings
        )
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        settings["type"] = click.Choice([member.value for member in annotation])
        default = default.value
    else:
        settings["type"] = annotation
    if "envvar" in extra:
        settings["envvar"] = str(extra["envvar"])
        settings["help"] = f"{field.description} (or ${extra['envvar']})"
    elif default is not None:
        settings["show_default"] = True
    return click.option(f"--{flag}", name, default=default, **settings)


def parse_options(func: Any) -> Any:
    """Decorate a command with a flag for every parse option."""
    for name, field in reversed(ParseOptionFields.model_fields.items()):
        func = _flag(name, field)(func)
    return func


def build_parse_options(kwargs: dict[str, Any]) -> Any:
    """The ParseOptions of a command's parse flags (ConfigError when they do not validate)."""
    from docingest.parsing import ParseOptions

    return ParseOptions(**{name: kwargs[name] for name in ParseOptionFields.model_fields})
