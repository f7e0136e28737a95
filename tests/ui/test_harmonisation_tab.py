"""The « Harmonisation » tab in a real browser against the real server, and its HTML export opened in
Chromium (filters, screenshot into docs/). Same browser and server set-up as tests/ui/test_browser.py."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from tests.conftest import make_settings  # noqa: F401
from tests.ui.conftest import running_server
from tests.ui.test_browser import DOCS, TIMEOUT_MS, browser  # noqa: F401 — the shared Chromium fixture
from ui.auth import Authenticator
from ui.server import create_app

pytestmark = pytest.mark.slow

REFERENTIEL = """questions:
  - id: N1
    label: "Délai de notification"
    question: "Quel est le délai de notification de la décision d'APA ?"
    national:
      rule: "Décision notifiée dans les deux mois du dossier complet."
      doc_id: nat-circulaire-apa
      section: "Article 1"
"""


@pytest.fixture
def harmonisation_server(ui_index, tmp_path):
    settings, services = ui_index
    (tmp_path / "ref.yaml").write_text(REFERENTIEL, encoding="utf-8")
    app_settings = settings.model_copy(update={
        "ui": settings.ui.model_copy(update={"auth": "header", "feedback_db": tmp_path / "avis.sqlite3",
                                             "upload_dir": tmp_path / "uploads"}),
        "harmonisation": settings.harmonisation.model_copy(update={"referentiel": tmp_path / "ref.yaml",
                                                                   "runs_db": tmp_path / "runs.sqlite3"})})
    with running_server(create_app(services, app_settings, Authenticator(app_settings))) as url:
        yield url


def _built_matrix(browser, url: str, user: str, groups: str):  # noqa: F811
    """A page of ``user`` (behind the proxy, with ``groups``) whose Harmonisation tab has built the matrix."""
    context = browser.new_context(locale="fr-FR", viewport={"width": 1400, "height": 1000},
                                  extra_http_headers={"X-Remote-User": user, "X-Remote-Groups": groups})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url + "/")
    page.get_by_text(f"Utilisateur : {user}").wait_for()
    page.get_by_role("tab", name="Harmonisation").click()
    page.locator("#hm-build").click()
    report = page.locator("#hm-report .hm")
    report.wait_for()
    return context, page, report


def test_harmonisation_tab_builds_the_matrix_for_the_users_groups_and_exports(browser, harmonisation_server, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    context, page, report = _built_matrix(browser, harmonisation_server, "alice", "dep-59")
    expect(report).to_contain_text("Nord (59)", timeout=TIMEOUT_MS)  # visible to dep-59
    text = report.inner_text()
    assert "Bouches-du-Rhône (13)" in text and "Première exécution" in page.locator("#hm-report").inner_text()
    assert "45 jours contre deux mois" in text and "Divergent" in text
    page.screenshot(path=str(DOCS / "ui-harmonisation.png"), full_page=True)

    # The second run compares with the first.
    page.locator("#hm-build").click()
    expect(page.locator("#hm-report")).to_contain_text("Aucun changement depuis l'exécution n° 1", timeout=TIMEOUT_MS)
    def download(element_id: str) -> bytes:
        link = page.locator(f"#{element_id} a").first
        response = page.request.get(link.evaluate("a => a.href"))
        assert response.ok, response.status
        return response.body()

    book = load_workbook(io.BytesIO(download("hm-xlsx-file")))
    assert book["Matrice"]["D1"].value == "Nord (59)"
    report_path = tmp_path / "rapport.html"
    report_path.write_bytes(download("hm-html-file"))

    # The exported report works on its own: filters hide what is not asked for.
    page.goto(report_path.as_uri())
    page.locator("#f-statut").select_option("divergent")
    assert page.locator("td[data-status='conforme']").first.evaluate("e => getComputedStyle(e).opacity") == "0.18"
    assert page.locator(".detail[data-status='conforme']").first.is_hidden()
    page.locator("#f-reset").click()
    assert page.locator(".detail[data-status='conforme']").first.is_visible()
    page.screenshot(path=str(DOCS / "harmonisation-rapport.png"), full_page=True)
    context.close()


def test_harmonisation_tab_hides_other_groups_territories(browser, harmonisation_server):  # noqa: F811
    context, _, report = _built_matrix(browser, harmonisation_server, "bruno", "")
    assert "Nord (59)" not in report.inner_text() and "Bouches-du-Rhône (13)" in report.inner_text()
    context.close()
