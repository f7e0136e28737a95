"""The one lock every PDFium call in the process goes through.

PDFium (pypdfium2) is not thread-safe, even across different documents: two threads opening, measuring,
rendering or closing PDFs at the same time abort the whole process ("Fatal Python error: Aborted") or
fail with "Data format error". The server renders viewer pages on FastAPI's thread pool while OCR of an
upload renders on its own pool, so both hold ``PDFIUM_LOCK`` around every PDFium call (the slow parts —
PNG encoding, Tesseract — run outside it).
"""
from __future__ import annotations

import threading

PDFIUM_LOCK = threading.RLock()
