"""French OCR of PDF pages without a text layer: pypdfium2 renders the page, Tesseract (Debian packages
``tesseract-ocr`` and ``tesseract-ocr-fra``, through pytesseract) reads it, line by line with positions.

Pages are read in parallel by ``ocr.workers`` Tesseract processes, each limited to one thread
(``OMP_THREAD_LIMIT=1``: Tesseract's own threads would only compete with each other).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from indexing.pdf import Line

_RENDER_LOCK = threading.Lock()  # PDFium is not thread-safe: pages are rendered one at a time


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
    document = pdfium.PdfDocument(str(path))
    done = 0
    lock = threading.Lock()

    def read(index: int) -> tuple[int, list[Line]]:
        nonlocal done
        with _RENDER_LOCK:
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
        document.close()


def image_lines(image: Any, language: str = "fra", timeout_s: float = 0, dpi: int = 300) -> list[Line]:
    """The text lines Tesseract reads on ``image`` (a PIL image, straightened first), laid out like a
    text layer's words: columns in order, table cells of a row on one line."""
    import pytesseract

    from indexing.pdf import _Item, layout_lines

    image = deskew(image)
    data = pytesseract.image_to_data(image, lang=language, config="--psm 3", timeout=timeout_s,
                                     output_type=pytesseract.Output.DICT)
    scale = 72 / dpi  # pixels → points, the unit of the layout rules
    lines: dict[tuple[int, int, int], list[int]] = {}
    for i, word in enumerate(data["text"]):
        if word.strip() and float(data["conf"][i]) >= 0:
            lines.setdefault((data["block_num"][i], data["par_num"][i], data["line_num"][i]), []).append(i)
    items = []
    for indexes in lines.values():  # Tesseract's lines (its own word grouping), placed like words
        left = min(data["left"][i] for i in indexes) * scale
        right = max(data["left"][i] + data["width"][i] for i in indexes) * scale
        top = min(data["top"][i] for i in indexes) * scale
        bottom = max(data["top"][i] + data["height"][i] for i in indexes) * scale
        text = " ".join(data["text"][i].strip() for i in indexes)
        items.append(_Item(left, right, top, bottom, text, size=max((bottom - top) / 1.2, 1.0), whole_line=True))
    return layout_lines(items, image.width * scale, image.height * scale)


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
