"""French OCR of PDF pages without a text layer: pypdfium2 renders the page, Tesseract (Debian packages
``tesseract-ocr`` and ``tesseract-ocr-fra``, through pytesseract) reads it, line by line with positions.

Pages are read in parallel by ``ocr.workers`` Tesseract processes, each limited to one thread
(``OMP_THREAD_LIMIT=1``: Tesseract's own threads would only compete with each other).

The chunker finds a PDF's headings by their patterns only (« 2.3 Titre », « Article L. 232-1 »,
« Chapitre 2 »), not by font sizes: Tesseract gives no font weight, and its line heights do not tell a
heading that is only bold (an article heading in body size) from body text. So the OCR lines are
cleaned where a scan breaks those patterns: specks read at a line's ends are dropped by their box
height and Tesseract's confidence (``line_words``), and the marks of a heading's number that OCR
misreads are repaired (``repair_numbering``).
"""

from __future__ import annotations

import os
import re
import statistics
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexing.layout import Item, Line, layout_lines
from indexing.pdfium import PDFIUM_LOCK



class OcrUnavailable(RuntimeError):
    """Tesseract or its French model is missing: the message (French) says what to install."""


def check_tesseract(language: str) -> None:
    import pytesseract

    try:
        languages = set(pytesseract.get_languages(config=""))
    except (pytesseract.TesseractNotFoundError, OSError) as exc:
        raise OcrUnavailable(
            "OCR indisponible : Tesseract n'est pas installé (paquets Debian tesseract-ocr et "
            "tesseract-ocr-fra, installés par deploy/local/install-test-tools.sh)") from exc
    missing = [lang for lang in language.split("+") if lang not in languages]
    if missing:
        raise OcrUnavailable(f"OCR indisponible : langue Tesseract « {'+'.join(missing)} » absente "
                             f"(paquet Debian tesseract-ocr-{missing[0]})")


def ocr_pages(path: Path, indexes: list[int], settings: Any,
              on_page: Callable[[int, int], None] | None = None) -> dict[int, list[Line]]:
    """OCR of the pages ``indexes`` (0-based) of ``path``: their lines, in Tesseract's reading order."""
    import pypdfium2 as pdfium

    check_tesseract(settings.language)
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    with PDFIUM_LOCK:
        document = pdfium.PdfDocument(str(path))
    done = 0
    lock = threading.Lock()

    def read(index: int) -> tuple[int, list[Line]]:
        nonlocal done
        with PDFIUM_LOCK:
            image = document[index].render(scale=settings.dpi / 72, grayscale=True).to_pil()
        lines = image_lines(image, settings.language, settings.page_timeout_s, settings.dpi)
        with lock:
            done += 1
            if on_page:
                on_page(done, len(indexes))
        return index, lines

    try:
        with ThreadPoolExecutor(max_workers=max(1, settings.workers), thread_name_prefix="ocr") as pool:
            return dict(pool.map(read, indexes))
    finally:
        with PDFIUM_LOCK:
            document.close()


def image_lines(image: Any, language: str = "fra", timeout_s: float = 0, dpi: int = 300) -> list[Line]:
    """The text lines Tesseract reads on ``image`` (a PIL image, straightened first), laid out like a
    text layer's words: columns in order, table cells of a row on one line; scanning specks at a line's
    ends dropped (``line_words``) and heading numbers repaired (``repair_numbering``)."""
    import pytesseract

    image = deskew(image)
    data = pytesseract.image_to_data(image, lang=language, config="--psm 3", timeout=timeout_s,
                                     output_type=pytesseract.Output.DICT)
    scale = 72 / dpi  # pixels → points, the unit of the layout rules
    lines: dict[tuple[int, int, int], list[int]] = {}
    for i, word in enumerate(data["text"]):
        if word.strip() and float(data["conf"][i]) >= 0:
            lines.setdefault((data["block_num"][i], data["par_num"][i], data["line_num"][i]), []).append(i)
    items = []
    for grouped in lines.values():  # Tesseract's lines (its own word grouping), placed like words
        words = line_words([_Word(data["text"][i].strip(), float(data["conf"][i]), data["left"][i], data["top"][i],
                                  data["width"][i], data["height"][i]) for i in grouped])
        if not words:
            continue
        # The line's box leaves out words much taller than the line's own (a speck read with them): an
        # inflated box would reach the next line and be merged with it as one row.
        typical = statistics.median(w.height for w in words)
        boxed = [w for w in words if w.height <= 1.5 * typical]
        left, right = min(w.left for w in words) * scale, max(w.left + w.width for w in words) * scale
        top, bottom = min(w.top for w in boxed) * scale, max(w.top + w.height for w in boxed) * scale
        text = repair_numbering(" ".join(w.text for w in words))
        items.append(Item(left, right, top, bottom, text, size=max((bottom - top) / 1.2, 1.0), whole_line=True))
    return layout_lines(items, image.width * scale, image.height * scale)


@dataclass
class _Word:
    text: str
    conf: float
    left: int
    top: int
    width: int
    height: int


SPECK_HEIGHT = 0.25  # of the line's median word height: no letter, digit or punctuation mark is that flat
STRAY_CONF = 40  # Tesseract's confidence under which a word far from the line is a stray mark
STRAY_GAP = 3  # line heights (about three ems): far beyond a justified line's widest word space
BULLET_CONF = 80  # a list bullet's dash is read with confidence; a speck read as a dash is not
_DASH_RE = re.compile(r"[-–—]")


def line_words(words: list[_Word]) -> list[_Word]:
    """The words of one Tesseract line without the scanning specks read at its ends.

    A scan's dust and noise are read as flat marks (``_``, ``.``, ``:``, ``-``, even ``k`` or ``à``)
    before or after the line's text, and they break the patterns the chunker relies on (« _3.3 Titre »,
    « Article 24 — Titre : » is no heading). An end word is dropped when its box is flatter than a
    quarter of the line's median word height (a list bullet's dash read with confidence is kept), or
    when Tesseract reads it without confidence (under 40) more than three line heights away from the
    rest of the line. Words inside the line are never dropped.
    """
    words = [w for w in words if w.text]
    while len(words) > 1:
        typical = statistics.median(w.height for w in words)
        if _stray(words[0], words[1].left - (words[0].left + words[0].width), typical):
            words = words[1:]
        elif _stray(words[-1], words[-1].left - (words[-2].left + words[-2].width), typical):
            words = words[:-1]
        else:
            break
    return words


def _stray(word: _Word, gap: int, typical: float) -> bool:
    if word.height < SPECK_HEIGHT * typical:
        return not (_DASH_RE.fullmatch(word.text) and word.conf >= BULLET_CONF)
    return word.conf < STRAY_CONF and gap > STRAY_GAP * typical


# Marks that never open a line of French text; OCR reads them from specks glued to its first word.
_LEADING_MARKS_RE = re.compile(r"^[_.:;,|~`'‘’“”\"]+\s*(?=\w)")
# « 5, Titre », « 7: Titre » → « 5. Titre »; « 1. 1 Titre », « 5,2 Titre » → « 1.1 Titre » (a heading's number).
_NUMBER_PUNCTUATION_RE = re.compile(r"^(\d{1,2})[,:]\s+(?=[A-ZÀ-ÖØ-Ý])")
_SPLIT_NUMBER_RE = re.compile(r"^(\d{1,2})(?:\.\s|,\s?)(\d{1,2})(?=\s+[A-ZÀ-ÖØ-Ý])")
# « Article L: 232-14 », « Article. R. 232-7 » → « Article L. 232-14 », « Article R. 232-7 ».
_ARTICLE_CODE_RE = re.compile(r"^(Article|Art\.)[.,:;]?\s+([LRDA])[.,:;]?\s*(?=\d)")
# « Article 3.1. 3 » → « Article 3.1.3 »: a space read inside an article's dotted number.
_ARTICLE_NUMBER_RE = re.compile(r"^((?:Article|Art\.)\s+(?:[LRDA]\.\s)?\d{1,4}(?:[.-]\d{1,4})*[.-])\s+(?=\d)")
# « d' autonomie » → « d'autonomie »: no space follows an elided article or pronoun in French.
_ELISION_RE = re.compile(r"(?<!\w)((?:[dlmnstjc]|qu|jusqu|lorsqu|puisqu)['’])\s+(?=\w)", re.IGNORECASE)

# « ler janvier » → « 1er janvier »: the « 1 » of a date's ordinal read as « l » (« ler » is no French word).
_FIRST_RE = re.compile(r"(?<!\w)[lI|]er(?= (?:janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre"
                       r"|novembre|décembre)\b)")


def repair_numbering(text: str) -> str:
    """An OCR line's opening repaired where Tesseract misreads the marks of a heading's number, the
    patterns the chunker finds headings by: stray marks before the first word dropped, a comma or colon
    after a section number read as its period (« 5, Décision » → « 5. Décision »), a sub-section number
    split by a space or a comma re-joined (« 1. 1 Enjeux », « 5,2 Formation » → « 1.1 », « 5.2 »), the
    punctuation of a code article's letter restored (« Article L: 232-14 » → « Article L. 232-14 »), an
    article number split by a space re-joined (« Article 3.1. 3 »). Only a number followed by a
    capitalised word is touched: a heading's shape, not an amount (« 2,5 millions »). Anywhere in the
    line, a date's « 1er » read as « ler » and an elision split by a space (« d' autonomie ») are restored."""
    text = _LEADING_MARKS_RE.sub("", text)
    text = _SPLIT_NUMBER_RE.sub(r"\1.\2", text)
    text = _NUMBER_PUNCTUATION_RE.sub(r"\1. ", text)
    text = _ARTICLE_CODE_RE.sub(lambda m: f"{m.group(1)} {m.group(2)}. ", text)
    text = _ARTICLE_NUMBER_RE.sub(r"\1", text)
    return _ELISION_RE.sub(r"\1", _FIRST_RE.sub("1er", text))


def deskew(image: Any, max_degrees: float = 3.0, step: float = 0.1) -> Any:
    """``image`` turned by the angle (within ±``max_degrees``) that makes its text rows most distinct
    (variance of the dark pixels per row, on a reduced copy): scanned pages are rarely straight."""
    import numpy as np
    from PIL import Image

    small = image.convert("L").reduce(4)
    ink = Image.fromarray(((np.asarray(small) < 160) * 255).astype(np.uint8))
    best, best_score = 0.0, -1.0
    for angle in np.arange(-max_degrees, max_degrees + step / 2, step):
        rows = np.asarray(ink.rotate(float(angle), resample=Image.Resampling.NEAREST)).sum(axis=1, dtype=np.float64)
        score = float(np.var(rows))
        if score > best_score:
            best, best_score = float(angle), score
    if abs(best) < step / 2:
        return image
    return image.rotate(best, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=255)
