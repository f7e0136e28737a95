"""PDF pages → clean page texts: layout-aware reading (pdfplumber), OCR of pages without a text
layer (indexing/ocr.py), page furniture removed, line-end hyphenation repaired.

Each page becomes a list of ``Line``s in reading order, with its vertical position on the page:

- tables (ruled cells found by pdfplumber) become ``cell | cell`` rows;
- two-column bands (a vertical gutter shared by several rows, each column's lines filling it) are read
  column after column; full-width rows (titles, wide tables, centred headers) stay where they are;
- running headers and footers (a line in the top or bottom band of the page, repeated — numbers aside —
  on at least half of the pages) and page numbers (``3``, ``Page 3 / 12``, ``- 3 -``) are dropped;
- a sentence wrapped over lines is one line again (``… (annexe 2-4 du`` + ``CASF) permet …``): the next line
  follows closely and its first word would not have fitted on the line before;
- a word cut by a line-end hyphen is re-joined (``profes-`` + ``sionnels``), a real compound keeps its
  hyphen (``médico-`` + ``social`` when the document writes ``médico-social`` elsewhere).
"""

from __future__ import annotations

import bisect
import itertools
import re
import statistics
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from indexing.layout import Item, Line, layout_lines

FURNITURE_BAND = 0.1  # top and bottom tenth of the page: where running headers and footers sit
PAGE_NUMBER_RE = re.compile(
    r"^[-–—]?\s*(?:page|p\.)?\s*\d{1,4}(?:\s*(?:/|sur|of)\s*\d{1,4})?\s*[-–—]?$", re.IGNORECASE)
_BULLETS = "•▪◦●■□➢►–\uf0a7\uf0b7\uf0d8\uf076\uf0fc"  # what a list item starts with (symbol fonts' glyphs too)
_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"})


@dataclass
class PdfPage:
    lines: list[Line]
    has_images: bool = False
    ocr: bool = False

    @property
    def chars(self) -> int:
        return sum(len(line.text.strip()) for line in self.lines)


@dataclass
class PdfText:
    pages: list[str]
    ocr_pages: list[int] = field(default_factory=list)  # 1-based numbers of the pages read by OCR
    scanned_pages: list[int] = field(default_factory=list)  # pages without a usable text layer
    warnings: list[str] = field(default_factory=list)


# --- layout (indexing/layout.py places the words) -------------------------------------------------------
def page_lines(page: Any) -> list[Line]:
    """The lines of a pdfplumber page in reading order."""
    height = float(page.height) or 1.0
    tables = [t for t in page.find_tables() if t.bbox[2] - t.bbox[0] > 0 and t.bbox[3] - t.bbox[1] > 0]
    items: list[Item] = []
    for table in tables:
        rows = [" | ".join(_cell(c) for c in row) for row in table.extract()]
        rows = [r for r in rows if r.strip(" |")]
        if rows:
            x0, top, x1, bottom = table.bbox
            items.append(Item(x0, x1, top, bottom, rows=rows))
    for word in page.extract_words(extra_attrs=["size"], return_chars=True):
        cx, cy = (word["x0"] + word["x1"]) / 2, (word["top"] + word["bottom"]) / 2
        if any(t.bbox[0] <= cx <= t.bbox[2] and t.bbox[1] <= cy <= t.bbox[3] for t in tables):
            continue
        items.append(Item(word["x0"], word["x1"], word["top"], word["bottom"], word["text"].translate(_LIGATURES),
                           float(word.get("size") or 10.0), bold=_bold(word.get("chars") or [])))
    return layout_lines(items, float(page.width), height)


def _bold(chars: list[dict[str, Any]]) -> bool:
    """Most of a word's characters are set in a bold font (« ABCDEF+DejaVuSans-Bold », « Arial,Bold »)."""
    return 2 * sum("bold" in str(c.get("fontname", "")).lower() for c in chars) > len(chars)


def _cell(value: str | None) -> str:
    """A table cell on one line; a word cut at the end of one of its lines is re-joined."""
    text = (value or "").translate(_LIGATURES)
    text = _CELL_HYPHEN_RE.sub(lambda m: m.group(1) + ("-" if _keeps_hyphen(m.group(1).lower(), m.group(2).lower(), Counter())
                                                      else "") + m.group(2), text)
    return " ".join(text.split())


# --- furniture --------------------------------------------------------------------------------------
def _furniture_key(text: str) -> str:
    return re.sub(r"\d+", "#", " ".join(text.lower().split()))


def strip_furniture(pages: list[list[Line]]) -> list[list[Line]]:
    """Drop page numbers and running headers/footers.

    A line is furniture when it is a page number, when it is repeated verbatim on at least 60 % of the
    pages (three pages or more), or when it sits in the top or bottom band of its page and a line alike
    (same words, numbers aside; near-identical for OCR text) sits in that band on at least half of the
    pages (two pages or more) — unless it is a heading (« Article 12 » opening each page is content).
    """
    from rapidfuzz import fuzz

    from indexing.chunking import heading_of

    total = len(pages)
    exact: Counter[str] = Counter()
    for lines in pages:
        exact.update({line.text.strip() for line in lines if line.text.strip()})
    verbatim = {text for text, n in exact.items() if total >= 3 and n >= 0.6 * total}
    banded = [[_furniture_key(line.text) for line in lines if _in_band(line)] for lines in pages]
    needed = max(2, (total + 1) // 2)
    running: set[str] = set()
    if total >= 2:
        for index, keys in enumerate(banded):
            for key in keys:
                if key in running or len(key) < 3:
                    continue
                seen = 1 + sum(1 for other, others in enumerate(banded) if other != index
                               and any(k == key or fuzz.ratio(k, key) >= 85 for k in others))
                if seen >= needed:
                    running.add(key)
    out = []
    for lines in pages:
        kept = []
        for line in lines:
            text = line.text.strip()
            if not text or PAGE_NUMBER_RE.match(text) or text in verbatim:
                continue
            if _in_band(line) and (key := _furniture_key(text)) and heading_of(text) is None and (
                    key in running or any(fuzz.ratio(key, r) >= 85 for r in running)):
                continue
            kept.append(line)
        out.append(kept)
    return out


def _in_band(line: Line) -> bool:
    return line.top < FURNITURE_BAND or line.bottom > 1 - FURNITURE_BAND


# --- hyphenation ------------------------------------------------------------------------------------
_HYPHEN_END_RE = re.compile(r"(\w+)[-\u00ad]$")
_CELL_HYPHEN_RE = re.compile(r"(\w+)[-\u00ad]\n([a-zà-ÿœæ]+)")
_LOWER_START_RE = re.compile(r"^([a-zà-ÿœæ]+)")
_WORD_RE = re.compile(r"[\w-]+")
# Second parts that make a compound, never a cut word: « c'est-à-dire », « celle-ci », « peut-être »…
_COMPOUND_TAILS = {"ci", "là", "même", "mêmes", "être", "à", "dire", "t", "il", "ils", "elle", "elles", "on",
                   "nous", "vous", "y", "en", "le", "la", "les", "moi", "toi", "lui", "eux", "clé", "clés"}
# First parts that make a compound: « sous-section », « non-recours », « médico-social »…
_COMPOUND_HEADS = {"sous", "non", "demi", "semi", "mi", "anti", "après", "avant", "arrière", "contre", "entre",
                   "grand", "grands", "grande", "quasi", "vice", "bien", "porte", "garde", "médico", "socio",
                   "psycho", "sud", "nord", "est", "ouest", "centre", "franco", "extra", "post", "pré", "néo", "inter"}


def repair_hyphenation(pages: list[str]) -> list[str]:
    """Join words cut at line ends (``dépen-`` / ``dance`` → ``dépendance``); keep the hyphen of a real
    compound (``médico-`` / ``social`` → ``médico-social``), judged by the document's own words first."""
    vocabulary = Counter(w.lower() for page in pages for w in _WORD_RE.findall(page))
    out = []
    for page in pages:
        lines = page.split("\n")
        merged: list[str] = []
        for line in lines:
            stripped = line.strip()
            previous = merged[-1].rstrip() if merged else ""
            head = _HYPHEN_END_RE.search(previous)
            tail = _LOWER_START_RE.match(stripped)
            if head and tail and head.group(1)[-1:].isalpha():
                soft = previous.endswith("\u00ad")
                keep = not soft and _keeps_hyphen(head.group(1).lower(), tail.group(1).lower(), vocabulary)
                merged[-1] = previous[:-1] + ("-" if keep else "") + stripped
            else:
                merged.append(line)
        out.append("\n".join(merged).replace("\u00ad", ""))
    return out


def _keeps_hyphen(head: str, tail: str, vocabulary: Counter[str]) -> bool:
    joined, compound = head + tail, f"{head}-{tail}"
    if vocabulary[compound]:
        return True
    if vocabulary[joined]:
        return False
    return tail in _COMPOUND_TAILS or head.rsplit("-", 1)[-1] in _COMPOUND_HEADS


# --- wrapped lines -----------------------------------------------------------------------------------
_LINE_ENDS_SENTENCE = (".", "!", "?", ":", ";", "…")  # after these, the next line starts a sentence or an item
_INDENT = 0.06  # the widest shift, in page widths, between a wrapped line's start and the next's (indents)
_ITEM_START_RE = re.compile(rf"^(?:[-*{_BULLETS}]|\d{{1,2}}°|\d{{1,2}}[.)]\s|[a-zA-Z]\)\s)")


def join_wrapped_lines(pages: list[list[Line]]) -> list[list[Line]]:
    """The pages' lines with each sentence that the layout wrapped made one line again, so that a sentence is
    quoted whole (« … (annexe 2-4 du » / « CASF) permet d'apprécier … »). A line continues the one before when
    that one ends unfinished (no sentence end, no lead-in « : », no line-end hyphen: ``repair_hyphenation``
    joins those), the next follows below in the same column at the document's usual line spacing, in the same
    font size and weight, starts no list item, and its first word would not have fitted in the room left at the
    end of the line before — which tells a wrap from a title, a short item or a table row. The room is measured
    to the document's right edge for that column (the right-most end of its lines that start left of the line's
    end). pdfplumber gives lines, not paragraphs, and no library here rebuilds them: hence this rule."""
    body = sorted((line.x0, line.x1) for lines in pages for line in lines if not line.table)
    starts = [x0 for x0, _ in body]
    edges = list(itertools.accumulate((x1 for _, x1 in body), max))
    spacing = _line_spacing(pages)
    out_pages = []
    for lines in pages:
        out: list[Line] = []
        last: Line | None = None  # the physical line that ``out[-1]`` ends with
        for line in lines:
            if (last is not None and not last.table
                    and _continues(last, line, edges[bisect.bisect_left(starts, last.x1) - 1], spacing)):
                joined = out[-1]
                out[-1] = replace(joined, text=f"{joined.text.rstrip()} {line.text.strip()}", bottom=line.bottom,
                                  x0=min(joined.x0, line.x0), x1=max(joined.x1, line.x1))
            else:
                out.append(line)
            last = line
        out_pages.append(out)
    return out_pages


def _line_spacing(pages: list[list[Line]]) -> float:
    """The document's usual gap between a line and the next, in line heights (the median over the lines that
    follow one another closely): a wider gap opens a paragraph or closes a title."""
    gaps = [(b.top - a.bottom) / (a.bottom - a.top) for lines in pages for a, b in zip(lines, lines[1:])
            if not (a.table or b.table) and a.bottom > a.top and 0 <= b.top - a.bottom <= 1.5 * (a.bottom - a.top)]
    return statistics.median(gaps) if gaps else 1.0


def _continues(previous: Line, line: Line, right_edge: float, spacing: float) -> bool:
    before, text = previous.text.rstrip(), line.text.strip()
    if (not before or not text or line.table or " | " in before or " | " in text
            or before.endswith(_LINE_ENDS_SENTENCE) or before.endswith(("-", "\u00ad")) or _ITEM_START_RE.match(text)):
        return False
    if abs(line.x0 - previous.x0) > _INDENT:
        return False  # another column, or a full-width row below the columns
    height = previous.bottom - previous.top
    if not -0.25 * height <= line.top - previous.bottom <= (1.25 * spacing + 0.05) * height:
        return False  # a paragraph gap, or the next column
    if abs(line.size - previous.size) > 0.1 * max(line.size, previous.size) or line.bold != previous.bold:
        return False  # a title above its text
    char_width = (previous.x1 - previous.x0) / max(len(before), 1)
    first_word = len(text.split(maxsplit=1)[0])
    return right_edge - previous.x1 < (first_word + 1) * char_width


# --- document ---------------------------------------------------------------------------------------
def read_pdf(path: Path, ocr: Any = None, on_page: Callable[[int, int], None] | None = None) -> PdfText:
    """Clean page texts of the PDF at ``path``.

    ``ocr`` (``OcrSettings``) enables the OCR of pages without a usable text layer; ``on_page(done,
    total)`` reports its progress. Raises the parser's errors (``pdfplumber``/``pdfminer``) unchanged.
    """
    import pdfplumber

    pages: list[PdfPage] = []
    with pdfplumber.open(str(path), password="") as pdf:
        for page in pdf.pages:
            pages.append(PdfPage(page_lines(page), has_images=bool(page.images)))
            page.flush_cache()
    min_chars = getattr(ocr, "min_chars", 20)
    scanned = [i for i, p in enumerate(pages) if p.chars < min_chars and p.has_images]
    result = PdfText(pages=[], scanned_pages=[i + 1 for i in scanned])
    if scanned and ocr is not None and ocr.enabled:
        from indexing.ocr import OcrUnavailable, ocr_pages

        try:
            for index, lines in ocr_pages(path, scanned, ocr, on_page).items():
                pages[index] = PdfPage(lines, has_images=True, ocr=True)
        except OcrUnavailable as exc:
            result.warnings.append(str(exc))
    result.ocr_pages = [i + 1 for i, p in enumerate(pages) if p.ocr]
    cleaned = join_wrapped_lines(strip_furniture([p.lines for p in pages]))
    texts = repair_hyphenation(["\n".join(_normalise(line.text) for line in lines) for lines in cleaned])
    result.pages = texts
    return result


_BULLET_RE = re.compile(rf"^(?:[{_BULLETS}]\s+|\*_*\s*(?=\w))")  # OCR reads « • » as « * »


def _normalise(text: str) -> str:
    """NFC text; a list item's bullet (``•``, a symbol font's private-use glyph…) becomes ``- ``."""
    return _BULLET_RE.sub("- ", unicodedata.normalize("NFC", text))
