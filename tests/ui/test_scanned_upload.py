"""A scanned circular (image-only PDF) uploaded in the browser is read by OCR, then found and cited with
its page and « texte issu d'une numérisation » (Debian's Chromium and Tesseract, real server)."""

from __future__ import annotations

import shutil

import pytest

from bench.renderings import scan_pdf
from tests.indexing.formats import write_pdf
from tests.ui.test_browser import TIMEOUT_MS, browser, uploaded_in_browser  # noqa: F401  (the Chromium fixture)

pytestmark = pytest.mark.slow

PAGES = ["Circulaire interne n 2025-12 du service autonomie\nObjet : organisation de l'accueil du public.",
         "Article 4 - Portage de repas\nLe portage de repas a domicile est facture sept euros par repas aux "
         "beneficiaires de l'APA."]


def test_scanned_pdf_uploaded_in_the_browser_is_searchable_with_page_citations(browser, embedder, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    if not shutil.which("tesseract"):
        pytest.skip("tesseract absent (bash deploy/local/install-test-tools.sh)")
    document = tmp_path / "circulaire-numerisee.pdf"
    document.write_bytes(scan_pdf(write_pdf(tmp_path / "texte.pdf", PAGES).read_bytes(), seed="ui"))
    with uploaded_in_browser(browser, embedder, tmp_path, document, ocr={"dpi": 200}) as page:
        status = page.locator("#upload-status")
        expect(status).to_contain_text("Indexation terminée", timeout=4 * TIMEOUT_MS)
        expect(status).to_contain_text("texte issu d'une numérisation (OCR) : pages 1, 2")

        page.get_by_role("tab", name="Poser une question").click()
        question = page.get_by_label("Votre question")
        question.fill("Combien coûte le portage de repas à domicile ?")
        question.press("Enter")
        answer = page.locator(".answer:not(.streaming)").last
        answer.locator(".sources a.cite").first.wait_for()
        assert "sept euros" in answer.inner_text()
        assert "p. 2 (texte issu d'une numérisation)" in answer.locator(".sources").inner_text()
