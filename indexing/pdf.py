"""PDF pages → clean page texts: layout-aware reading (pdfplumber), OCR of pages without a text
layer (indexing/ocr.py), page furniture removed, line-end hyphenation repaired.

Each page becomes a list of ``Line``s in reading order, with its vertical position on the page:

- tables (ruled cells found by pdfplumber) become ``cell | cell`` rows;
- two-column bands (a vertical gutter shared by several rows, each column's lines filling it) are read
  column after column; full-width rows (titles, wide tables, centred headers) stay where they are;
- running headers and footers (a line in the top or bottom band of the page, repeated — numbers aside —
  on at least half of the pages) and page numbers (``3``, ``Page 3 / 12``, ``- 3 -``) are dropped;
- a word cut by a line-end hyphen is re-joined (``profes-`` + ``sionnels``), a real compound keeps its
  hyphen (``médico-`` + ``social`` when the document writes ``médico-social`` elsewhere).
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FURNITURE_BAND = 0.1  # top and bottom tenth of the page: where running headers and footers sit
PAGE_NUMBER_RE = re.compile(
    r"^[-–—]?\s*(?:page|p\.)?\s*\d{1,4}(?:\s*(?:/|sur|of)\s*\d{1,4})?\s*[-–—]?$", re.IGNORECASE)
_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"})


@dataclass
class Line:
    text: str
    top: float  # fraction of the page height
    bottom: float


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


# --- layout --------------------------------------------------------------------------------------------
@dataclass
class _Item:
    """A word, or a whole table, placed on the page."""

    x0: float
    x1: float
    top: float
    bottom: float
    text: str = ""
    size: float = 10.0
    rows: list[str] | None = None  # a table's rows
    whole_line: bool = False  # a line already grouped by OCR: a gap to its neighbour separates cells


def page_lines(page: Any) -> list[Line]:
    """The lines of a pdfplumber page in reading order."""
    height = float(page.height) or 1.0
    tables = [t for t in page.find_tables() if t.bbox[2] - t.bbox[0] > 0 and t.bbox[3] - t.bbox[1] > 0]
    items: list[_Item] = []
    for table in tables:
        rows = [" | ".join(_cell(c) for c in row) for row in table.extract()]
        rows = [r for r in rows if r.strip(" |")]
        if rows:
            x0, top, x1, bottom = table.bbox
            items.append(_Item(x0, x1, top, bottom, rows=rows))
    for word in page.extract_words(extra_attrs=["size"]):
        cx, cy = (word["x0"] + word["x1"]) / 2, (word["top"] + word["bottom"]) / 2
        if any(t.bbox[0] <= cx <= t.bbox[2] and t.bbox[1] <= cy <= t.bbox[3] for t in tables):
            continue
        items.append(_Item(word["x0"], word["x1"], word["top"], word["bottom"], word["text"].translate(_LIGATURES),
                           float(word.get("size") or 10.0)))
    return layout_lines(items, float(page.width), height)


def layout_lines(items: list[_Item], width: float, height: float) -> list[Line]:
    """Words (and tables) placed on a page → its lines in reading order (columns, then rows)."""
    rows = _rows(items)
    gutter = _gutter(rows, width)
    lines: list[Line] = []
    for band in _bands(rows, gutter):
        if gutter is not None and _is_column_band(band, gutter):
            for side in (lambda it: it.x1 <= gutter, lambda it: it.x0 >= gutter):
                for row in band:
                    lines += _row_lines([it for it in row if side(it)], height)
        else:
            for row in band:
                lines += _row_lines(row, height)
    return lines


def _cell(value: str | None) -> str:
    """A table cell on one line; a word cut at the end of one of its lines is re-joined."""
    text = (value or "").translate(_LIGATURES)
    text = _CELL_HYPHEN_RE.sub(lambda m: m.group(1) + ("-" if _keeps_hyphen(m.group(1).lower(), m.group(2).lower(), Counter())
                                                      else "") + m.group(2), text)
    return " ".join(text.split())


def _rows(items: list[_Item]) -> list[list[_Item]]:
    """Items grouped into rows (same line of text), top to bottom, each row left to right."""
    rows: list[list[_Item]] = []
    for item in sorted(items, key=lambda it: (it.top, it.x0)):
        row = rows[-1] if rows else None
        if row is not None and item.rows is None and all(it.rows is None for it in row) and not (
                item.whole_line and any(it.whole_line and it.x0 < item.x1 and item.x0 < it.x1 for it in row)):
            # (two OCR lines side by side in x are stacked: Tesseract would have read one row as one line)
            reference = min(row, key=lambda it: it.top)
            if item.top < reference.top + 0.6 * max(1.0, min(reference.bottom - reference.top, item.bottom - item.top)):
                row.append(item)
                continue
        rows.append([item])
    for row in rows:
        row.sort(key=lambda it: it.x0)
    return rows


def _gutter(rows: list[list[_Item]], width: float) -> float | None:
    """The x of a vertical gutter shared by at least three rows with text on both sides, if any."""
    votes: Counter[int] = Counter()
    for row in rows:
        if len(row) < 2 or row[0].rows is not None:
            continue
        size = statistics.median(it.size for it in row)
        for left, right in zip(row, row[1:]):
            if right.x0 - left.x1 >= 0.8 * size:
                for x in range(int(max(left.x1 + 1, 0.3 * width)), int(min(right.x0, 0.7 * width)) + 1):
                    votes[x] += 1
    if not votes:
        return None
    best = max(votes.values())
    if best < 3:
        return None
    xs = [x for x, n in votes.items() if n == best]
    return float(statistics.median(xs))


def _crosses(item: _Item, gutter: float) -> bool:
    return item.x0 < gutter < item.x1


def _bands(rows: list[list[_Item]], gutter: float | None) -> list[list[list[_Item]]]:
    """Runs of consecutive rows that no item crosses the gutter in; each crossing row is a band alone."""
    if gutter is None:
        return [rows]
    bands: list[list[list[_Item]]] = []
    current: list[list[_Item]] = []
    for row in rows:
        if any(_crosses(it, gutter) for it in row):
            if current:
                bands.append(current)
                current = []
            bands.append([row])
        else:
            current.append(row)
    if current:
        bands.append(current)
    return bands


def _is_column_band(band: list[list[_Item]], gutter: float) -> bool:
    """Two columns of running text: rows with text on both sides, and left lines that reach the gutter
    (a table's short cells do not)."""
    both = [row for row in band if any(it.x1 <= gutter for it in row) and any(it.x0 >= gutter for it in row)]
    if len(both) < 4:
        return False
    lefts = [max(it.x1 for it in row if it.x1 <= gutter) for row in band if any(it.x1 <= gutter for it in row)]
    starts = [min(it.x0 for it in row if it.x1 <= gutter) for row in band if any(it.x1 <= gutter for it in row)]
    edge, margin = max(lefts), min(starts)
    if statistics.median(edge - x for x in lefts) > 0.3 * max(edge - margin, 1.0):
        return False
    right_edge = max(it.x1 for row in band for it in row if it.x0 >= gutter)
    if not 0.6 <= (right_edge - gutter) / max(gutter - margin, 1.0) <= 1.6:  # columns of a page are alike;
        return False  # a table's last column is not
    # The right column's lines all start at its left edge (justified spaces that happen to line up
    # in a single column are followed by words at any position).
    right_starts = [min(it.x0 for it in row if it.x0 >= gutter) for row in both]
    middle = statistics.median(right_starts)
    return sum(abs(x - middle) <= 1.5 for x in right_starts) >= 0.8 * len(right_starts)


def _row_lines(row: list[_Item], height: float) -> list[Line]:
    """One line per row (words joined by spaces, far-apart groups by `` | ``); a table gives its rows."""
    lines: list[Line] = []
    words: list[_Item] = []

    def flush() -> None:
        if words:
            parts = [words[0].text]
            for left, right in zip(words, words[1:]):
                gap = right.x0 - left.x1
                cells = gap > 4 * max(left.size, right.size) or (left.whole_line and right.whole_line and gap > 0)
                parts.append((" | " if cells else " ") + right.text)
            lines.append(Line("".join(parts), min(w.top for w in words) / height, max(w.bottom for w in words) / height))
            words.clear()

    for item in row:
        if item.rows is not None:
            flush()
            lines += [Line(text, item.top / height, item.bottom / height) for text in item.rows]
        else:
            words.append(item)
    flush()
    return lines


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
    cleaned = strip_furniture([p.lines for p in pages])
    texts = repair_hyphenation(["\n".join(_normalise(line.text) for line in lines) for lines in cleaned])
    result.pages = texts
    return result


_BULLET_RE = re.compile(r"^(?:[•▪◦●■□➢►–\uf0a7\uf0b7\uf0d8\uf076\uf0fc]\s+|\*_*\s*(?=\w))")  # OCR reads « • » as « * »


def _normalise(text: str) -> str:
    """NFC text; a list item's bullet (``•``, a symbol font's private-use glyph…) becomes ``- ``."""
    return _BULLET_RE.sub("- ", unicodedata.normalize("NFC", text))
