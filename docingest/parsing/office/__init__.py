"""Office and web documents (DOCX, PPTX, XLSX, HTML, CSV, OpenDocument, legacy, RTF, e-mail).

Each format module turns the source's own structure (styles, outline levels, slide titles,
sheets, merged cells) into pages of typed fragments through `blocks.PageBuilder`.
"""
