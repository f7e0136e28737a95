"""Builders of small real files in every supported format (and broken ones), for tests."""

from __future__ import annotations

from pathlib import Path


def write_pdf(path: Path, pages: list[str], password: str | None = None) -> Path:
    from fpdf import FPDF
    from pypdf import PdfReader, PdfWriter

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    pdf.output(str(path))
    if password:
        writer = PdfWriter(clone_from=PdfReader(str(path)))
        writer.encrypt(password)
        with path.open("wb") as handle:
            writer.write(handle)
    return path


def write_docx(path: Path, title: str, sections: list[tuple[str, str]], table: list[list[str]] | None = None) -> Path:
    import docx

    document = docx.Document()
    document.core_properties.title = title
    document.add_heading(title, level=1)
    for heading, body in sections:
        document.add_heading(heading, level=2)
        document.add_paragraph(body)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    document.save(str(path))
    return path
