"""The CLI's options for office and web documents (ParseOptions' office_/spreadsheet_/
presentation_/html_ fields), kept apart from the PDF options in cli.py."""

from typing import Any

import click

_FLAGS = (
    ("office_include_comments", False, "Word comments as footnote fragments."),
    ("office_include_footnotes", True, "Footnotes as footnote fragments (DOCX, ODT)."),
    ("spreadsheet_extract_sub_tables", True, "Split a sheet's tables at empty rows/columns."),
    ("spreadsheet_include_hidden_sheets", False, "Parse hidden sheets too."),
    ("presentation_include_notes", True, "Speaker notes after each slide."),
    ("presentation_out_of_bounds_content", False, "Keep shapes placed off the slide."),
    ("presentation_skip_embedded_data", True, "Leave out charts' data tables."),
    ("html_remove_navigation_elements", True, "Drop nav, headers, footers, sidebars, banners."),
    ("html_remove_fixed_elements", True, "Drop position:fixed/sticky elements."),
)


def office_options(func: Any) -> Any:
    """Decorate a command with the office parse options."""
    options = [
        click.option(
            "--office-mode",
            type=click.Choice(["native", "convert"]),
            default="native",
            show_default=True,
            help="Word-processing files: read natively, or convert to PDF with LibreOffice "
            "(real pages and boxes, ~2.5 s a file).",
        ),
        click.option(
            "--spreadsheet-max-cells",
            type=int,
            default=2_000_000,
            show_default=True,
            help="Refuse workbooks with more non-empty cells (FILE_SIZE_TOO_LARGE).",
        ),
    ]
    for name, default, text in _FLAGS:
        flag = name.replace("_", "-")
        options.append(
            click.option(
                f"--{flag}/--no-{flag}", name, default=default, show_default=True, help=text
            )
        )
    for option in reversed(options):
        func = option(func)
    return func


def office_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The ParseOptions fields the office options set."""
    names = ["office_mode", "spreadsheet_max_cells", *(name for name, _, _ in _FLAGS)]
    return {name: kwargs[name] for name in names}
