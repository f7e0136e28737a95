"""Words placed on a page → its text lines in reading order, for a PDF's text layer (``pdf.py``) and for the
words Tesseract reads on a scanned page (``ocr.py``) alike: rows of words, two-column bands read column
after column, a table's rows kept whole."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass


@dataclass
class Line:
    text: str
    top: float  # fraction of the page height
    bottom: float
    x0: float = 0.0  # fraction of the page width
    x1: float = 1.0
    table: bool = False  # a table's row
    size: float = 10.0  # the font size of most of its words
    bold: bool = False  # most of its words are bold


@dataclass
class Item:
    """A word, or a whole table, placed on the page."""

    x0: float
    x1: float
    top: float
    bottom: float
    text: str = ""
    size: float = 10.0
    bold: bool = False
    rows: list[str] | None = None  # a table's rows
    whole_line: bool = False  # a line already grouped by OCR: a gap to its neighbour separates cells


def layout_lines(items: list[Item], width: float, height: float) -> list[Line]:
    """Words (and tables) placed on a page → its lines in reading order (columns, then rows)."""
    rows = _rows(items)
    gutter = _gutter(rows, width)
    lines: list[Line] = []
    for band in _bands(rows, gutter):
        if gutter is not None and _is_column_band(band, gutter):
            for side in (lambda it: it.x1 <= gutter, lambda it: it.x0 >= gutter):
                for row in band:
                    lines += _row_lines([it for it in row if side(it)], width, height)
        else:
            for row in band:
                lines += _row_lines(row, width, height)
    return lines


def _rows(items: list[Item]) -> list[list[Item]]:
    """Items grouped into rows (same line of text), top to bottom, each row left to right."""
    rows: list[list[Item]] = []
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


def _gutter(rows: list[list[Item]], width: float) -> float | None:
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


def _crosses(item: Item, gutter: float) -> bool:
    return item.x0 < gutter < item.x1


def _bands(rows: list[list[Item]], gutter: float | None) -> list[list[list[Item]]]:
    """Runs of consecutive rows that no item crosses the gutter in; each crossing row is a band alone."""
    if gutter is None:
        return [rows]
    bands: list[list[list[Item]]] = []
    current: list[list[Item]] = []
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


def _is_column_band(band: list[list[Item]], gutter: float) -> bool:
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


def _row_lines(row: list[Item], width: float, height: float) -> list[Line]:
    """One line per row (words joined by spaces, far-apart groups by `` | ``); a table gives its rows."""
    lines: list[Line] = []
    words: list[Item] = []

    def flush() -> None:
        if words:
            parts = [words[0].text]
            for left, right in zip(words, words[1:]):
                gap = right.x0 - left.x1
                cells = gap > 4 * max(left.size, right.size) or (left.whole_line and right.whole_line and gap > 0)
                parts.append((" | " if cells else " ") + right.text)
            lines.append(Line("".join(parts), min(w.top for w in words) / height, max(w.bottom for w in words) / height,
                              min(w.x0 for w in words) / width, max(w.x1 for w in words) / width,
                              size=statistics.median(w.size for w in words), bold=2 * sum(w.bold for w in words) > len(words)))
            words.clear()

    for item in row:
        if item.rows is not None:
            flush()
            lines += [Line(text, item.top / height, item.bottom / height, item.x0 / width, item.x1 / width, table=True)
                      for text in item.rows]
        else:
            words.append(item)
    flush()
    return lines
