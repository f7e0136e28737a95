"""The blocks of a Word document in reading order: one walk of the body shared by the parser (plain structured
text for indexing, ``indexing/parsers.py``) and the document viewer (HTML, ``ui/viewer.py``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal


@dataclass(frozen=True)
class WordBlock:
    """A heading (``level`` ≥ 1), a list item, a paragraph, or a table (``rows`` of cell texts)."""

    kind: Literal["heading", "item", "paragraph", "table"]
    text: str = ""
    level: int = 0
    rows: list[list[str]] = field(default_factory=list)


def open_word(path: Path) -> Any:
    """The ``python-docx`` document (its errors propagate: the caller says why in its own words)."""
    import docx

    return docx.Document(str(path))


def word_blocks(document: Any) -> Iterator[WordBlock]:
    """Headings (``Title``, ``Heading N``, ``Titre N``), list items (``List…`` styles), paragraphs and tables
    of a ``python-docx`` document, in the body's order; empty paragraphs skipped."""
    import docx

    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            paragraph = docx.text.paragraph.Paragraph(child, document)
            text = paragraph.text.strip()
            if not text:
                continue
            style = (paragraph.style.name or "") if paragraph.style is not None else ""
            level = heading_level(style)
            if level:
                yield WordBlock("heading", text, level)
            elif "List" in style:
                yield WordBlock("item", text)
            else:
                yield WordBlock("paragraph", text)
        elif tag == "tbl":
            table = docx.table.Table(child, document)
            yield WordBlock("table", rows=[[cell.text.strip() for cell in row.cells] for row in table.rows])


def heading_level(style: str) -> int:
    if style == "Title":
        return 1
    match = re.match(r"(?:Heading|Titre)\s*(\d)", style)
    return int(match.group(1)) if match else 0
