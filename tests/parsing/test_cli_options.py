"""The parse flags of the CLI become ParseOptions (and the resource fields too)."""

from __future__ import annotations

import json
from pathlib import Path

import pymupdf
from click.testing import CliRunner

from pipelines.cli import main
from resources.parser import ParserResource


def _pdf(path: Path) -> Path:
    doc = pymupdf.open()
    for number in range(1, 4):
        doc.new_page().insert_text((72, 100), f"Text of page {number}.", fontsize=12)
    doc.save(path)
    return path


def test_parse_flags(tmp_path: Path) -> None:
    pdf = _pdf(tmp_path / "three.pdf")
    args = [
        "parse", str(pdf), "--out", str(tmp_path / "out"), "--engine", "fast",
        "--target-pages", "1,3", "--page-separator", "\n\n<<{page_number}>>\n\n",
        "--ocr", "off", "--ocr-languages", "eng", "--images", "placeholder",
        "--failed-page", "blank_page", "--page-error-tolerance", "0.5",
        "--table-format", "markdown", "--merge-tables-across-pages", "--include-headers-footers",
        "--timeout-s", "60", "--memory-limit-mb", "2048",
    ]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    text = (tmp_path / "out" / "three.md").read_text()
    assert text == "Text of page 1.\n\n<<3>>\n\nText of page 3."


def test_parse_flag_errors(tmp_path: Path) -> None:
    pdf = _pdf(tmp_path / "three.pdf")
    out = str(tmp_path / "out")
    bad = CliRunner().invoke(main, ["parse", str(pdf), "--out", out, "--target-pages", "x"])
    assert bad.exit_code == 2 and "target_pages" in bad.output
    save = CliRunner().invoke(main, ["parse", str(pdf), "--out", out, "--images", "save"])
    assert save.exit_code == 2 and "image_dir" in save.output


def test_resource_fields_reach_the_options(tmp_path: Path) -> None:
    resource = ParserResource(
        engine="fast",
        target_pages="2",
        ocr_mode="off",
        image_mode="save",
        image_dir=str(tmp_path),
        isolate=False,
        page_separator="---",
    )
    options = resource.options()
    assert options.target_pages == "2" and options.image_dir == str(tmp_path)
    assert options.isolate is False and options.ocr_mode == "off"
    assert ParserResource().options().isolate is True  # the pipeline isolates by default
    result = resource.parse(_pdf(tmp_path / "r.pdf"), "r")
    assert result.markdown == "Text of page 2."


def test_office_flags_and_resource_fields(tmp_path: Path) -> None:
    from tests.parsing.test_office_formats import corpus

    slides = corpus("pptx/poi-2411-Performance_Up.pptx")
    out = tmp_path / "out"
    args = ["parse", str(slides), "--out", str(out), "--no-isolate"]
    assert CliRunner().invoke(main, args).exit_code == 0
    assert "Speaker notes" in (out / f"{slides.stem}.md").read_text()
    quiet = [*args, "--no-presentation-include-notes", "--office-mode", "native"]
    result = CliRunner().invoke(main, quiet)
    assert result.exit_code == 0, result.output
    assert "Speaker notes" not in (out / f"{slides.stem}.md").read_text()
    options = ParserResource(
        office_mode="convert", spreadsheet_include_hidden_sheets=True,
        html_remove_navigation_elements=False, spreadsheet_max_cells=10,
    ).options()  # fmt: skip
    assert options.office_mode == "convert" and options.spreadsheet_include_hidden_sheets
    assert not options.html_remove_navigation_elements and options.spreadsheet_max_cells == 10


def test_one_schema_for_flags_resource_and_options() -> None:
    """Every parse option is a CLI flag and a resource field, with the schema's default."""
    from click.testing import CliRunner as Runner

    from docingest.parsing.options import ParseOptionFields, ParseOptions

    help_text = Runner().invoke(main, ["parse", "--help"], terminal_width=200).output
    params = {p.name: p for p in main.commands["parse"].params}  # type: ignore[attr-defined]
    resource = ParserResource()
    for name, field in ParseOptionFields.model_fields.items():
        assert name in params, name
        default = params[name].default
        assert getattr(default, "value", default) == getattr(field.default, "value", field.default)
        assert getattr(resource, name) == field.default
        assert params[name].help and params[name].help.startswith(str(field.description)[:20])
    assert "--ocr [auto|force|off]" in help_text and "--no-remove-hidden-text" in help_text
    assert ParserResource().options() == ParseOptions()


def test_json_output_echoes_the_options(tmp_path: Path) -> None:
    pdf = _pdf(tmp_path / "three.pdf")
    args = ["parse", str(pdf), "--out", str(tmp_path), "--format", "json", "--engine", "fast"]
    result = CliRunner().invoke(
        main, [*args, "--no-isolate", "--ocr-languages", "en", "--bbox-top", "0.01"],
        env={"DOCINGEST_PDF_PASSWORD": "hunter2-secret"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    text = (tmp_path / "three.json").read_text()
    echo = json.loads(text)["options"]
    assert echo["engine"] == "fast" and echo["ocr_languages"] == "eng" and echo["bbox_top"] == 0.01
    assert echo["isolate"] is False and "hunter2" not in text and "password" not in echo
    bad = CliRunner().invoke(main, [*args, "--ocr-languages", "xx"])
    assert bad.exit_code == 2 and "unknown language 'xx'" in bad.output
