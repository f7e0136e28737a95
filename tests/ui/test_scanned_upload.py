"""A scanned circular (image-only PDF) uploaded in the browser is read by OCR, then found and cited with
its page and « texte issu d'une numérisation » (Debian's Chromium and Tesseract, real server)."""

from __future__ import annotations

import shutil

import pytest

from assistant.services import Services
from bench.renderings import scan_pdf
from tests.conftest import make_settings
from tests.indexing.formats import write_pdf
from tests.ui.conftest import free_port, running_server
from tests.ui.test_browser import TIMEOUT_MS, browser  # noqa: F401  (the Chromium fixture)
from ui.backend import guard_store
from ui.server import create_app

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
    settings = make_settings(tmp_path, llm={"base_url": f"http://127.0.0.1:{free_port()}/v1", "max_retries": 0})
    settings = settings.model_copy(update={
        "ui": settings.ui.model_copy(update={"feedback_db": tmp_path / "avis.sqlite3", "upload_dir": tmp_path / "uploads"}),
        "ingestion": settings.ingestion.model_copy(update={
            "ocr": settings.ingestion.ocr.model_copy(update={"dpi": 200})})})
    services = Services(settings)
    services.__dict__["embedder"] = embedder
    guard_store(services)
    try:
        with running_server(create_app(services, settings)) as url:
            context = browser.new_context(locale="fr-FR")
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(url + "/")
            page.get_by_role("tab", name="Sources").click()
            page.locator("#upload-files input[type=file]").set_input_files(str(document))
            page.locator("#upload-button").click()
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
            context.close()
    finally:
        services.close()
