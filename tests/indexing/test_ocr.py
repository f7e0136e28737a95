"""OCR of scanned pages (Tesseract ``fra``): a few small pages only, the machine has 2 shared cores."""

from __future__ import annotations

import shutil

import pytest

from assistant.settings import OcrSettings
from bench.renderings import scan_pdf
from indexing.ocr import deskew
from indexing.parsers import PAGE_BREAK, parse_file
from tests.indexing.formats import write_pdf

pytestmark = pytest.mark.slow

PAGES = ["Article 1 - Objet\nLa presente circulaire fixe le montant de l'aide au repas a huit euros par jour.",
         "Article 2 - Recours\nLa decision peut etre contestee devant le tribunal administratif dans un delai de deux mois."]


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    if not shutil.which("tesseract"):
        pytest.skip("tesseract absent (bash deploy/local/install-test-tools.sh)")
    folder = tmp_path_factory.mktemp("ocr")
    path = folder / "circulaire-numerisee.pdf"
    path.write_bytes(scan_pdf(write_pdf(folder / "texte.pdf", PAGES).read_bytes(), seed="ocr"))
    return path


def test_scanned_pages_are_read_with_their_page_numbers(scanned):
    progress = []
    parsed = parse_file(scanned, 50_000_000, OcrSettings(dpi=200), lambda done, total: progress.append((done, total)))
    document = parsed.documents[0]
    pages = document.text.split(PAGE_BREAK)
    assert len(pages) == 2
    assert "huit euros par jour" in pages[0] and "tribunal administratif" in pages[1]
    assert document.metadata["ocr_pages"] == [1, 2]
    assert sorted(progress) == [(1, 2), (2, 2)]
    assert any("numérisation" in w for w in parsed.warnings)


def test_deskew_straightens_a_tilted_page(scanned):
    import numpy as np
    import pypdfium2 as pdfium

    page = pdfium.PdfDocument(str(scanned))[0].render(scale=100 / 72, grayscale=True).to_pil().convert("L")
    tilted = page.rotate(1.5, fillcolor=255)

    def sharpness(image):  # variance of the ink per row: highest when text rows are horizontal
        return float(np.var((np.asarray(image) < 160).sum(axis=1)))

    assert sharpness(deskew(tilted)) > 1.5 * sharpness(tilted)
