"""The chat UI in a real browser (Debian's Chromium driven by Playwright) against the real server.

Installs nothing: ``deploy/local/install-test-tools.sh`` provides Chromium. Without it these tests are
skipped, or fail when ``AUTONOMIE_REQUIRE_BROWSER=1``. Screenshots of each tab go to ``docs/``.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from assistant.services import Services
from assistant.settings import PROJECT_ROOT
from tests.conftest import make_settings
from tests.ui.conftest import PASSWORDS, free_port, running_server
from ui.auth import Authenticator
from ui.backend import guard_store
from ui.server import create_app

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DOCS = PROJECT_ROOT / "docs"
TIMEOUT_MS = 60_000


def _unavailable(reason: str):
    if os.environ.get("AUTONOMIE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"navigateur requis (AUTONOMIE_REQUIRE_BROWSER=1) mais indisponible : {reason}")
    pytest.skip(f"navigateur indisponible : {reason} (bash deploy/local/install-test-tools.sh)")


@pytest.fixture(scope="module")
def browser():
    executable = CHROMIUM if CHROMIUM.exists() else (Path(p) if (p := shutil.which("chromium")) else None)
    if executable is None:
        _unavailable("chromium introuvable")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("paquet Python playwright absent")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable), args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def ui_server(ui_index, tmp_path):
    """The real server in proxy-header mode: the browser plays a dep-59 agent behind the proxy."""
    settings, services = ui_index
    ui = settings.ui.model_copy(update={"auth": "header", "feedback_db": tmp_path / "avis.sqlite3",
                                        "upload_dir": tmp_path / "uploads"})
    app_settings = settings.model_copy(update={"ui": ui})
    with running_server(create_app(services, app_settings, Authenticator(app_settings))) as url:
        yield url, ui.feedback_db


@pytest.fixture
def page(browser, ui_server):
    url, _ = ui_server
    context = browser.new_context(locale="fr-FR", viewport={"width": 1400, "height": 1000},
                                  extra_http_headers={"X-Remote-User": "alice", "X-Remote-Groups": "dep-59,televersement"})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url + "/")
    page.get_by_text("Utilisateur : alice").wait_for()
    yield page
    context.close()


def test_chat_citation_panel_and_feedback(page, ui_server):
    _, feedback_db = ui_server
    assert page.evaluate("document.documentElement.lang") == "fr"
    question = page.get_by_label("Votre question")
    question.fill("Quel est le délai de notification de la décision d'APA ?")
    question.press("Enter")
    answer = page.locator(".answer:not(.streaming)").last
    answer.locator(".sources a.cite").first.wait_for()
    assert "Mode Extractif" in answer.locator(".badges").inner_text()
    assert "deux mois" in answer.inner_text()

    answer.locator(".answer-text a.cite").first.click()
    panel = page.locator("#source-panel")
    panel.locator("mark").first.wait_for()
    assert "Circulaire APA" in panel.inner_text() and "Délai de notification" in panel.inner_text()

    # Keyboard: a marker takes the focus and Enter opens its source like a click.
    page.evaluate("window.autonomieCite = ''")
    answer.locator(".sources a.cite").first.focus()
    assert page.evaluate("document.activeElement.matches('a.cite')")
    page.keyboard.press("Enter")
    assert page.evaluate("window.autonomieCite") == "0-1"

    page.get_by_label("👎 Pas utile").check()
    page.get_by_label("Raison (avis négatif)").click()
    page.get_by_role("option", name="Source erronée").click()
    page.get_by_label("Commentaire (facultatif)").fill("Le passage cité ne parle pas du délai.")
    page.locator("#send-feedback").click()
    page.get_by_text("avis n° 1 enregistré").wait_for()
    with sqlite3.connect(feedback_db) as db:
        row = db.execute("SELECT rating, reason, comment, user, question FROM feedback").fetchone()
    assert row == ("negatif", "source_erronee", "Le passage cité ne parle pas du délai.", "alice",
                   "Quel est le délai de notification de la décision d'APA ?")
    page.screenshot(path=str(DOCS / "ui-chat.png"), full_page=True)

    page.locator("#reset").click()
    page.get_by_text("Cliquez sur un renvoi [1]").wait_for()
    assert page.locator(".answer").count() == 0


def test_comparison_and_sources_tabs(page):
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Comparer les territoires").click()
    page.get_by_label("Question", exact=True).fill("Quel est le délai de notification de la décision d'APA ?")
    page.locator("#compare").click()
    table = page.locator(".comparison-table")
    table.wait_for()
    text = table.inner_text()
    assert "Bouches-du-Rhône (13)" in text and "Nord (59)" in text
    assert "Conforme" in text and "Divergent" in text  # 45 jours in the Nord against deux mois nationally
    assert page.locator(".national-rule").inner_text().count("deux mois") >= 1
    page.screenshot(path=str(DOCS / "ui-comparer.png"), full_page=True)

    page.get_by_role("tab", name="Sources").click()
    documents = page.locator("#documents")
    expect(documents).to_contain_text("Guide interne APA du Nord", timeout=TIMEOUT_MS)  # visible to dep-59
    page.get_by_label("Document à ouvrir").click()
    page.get_by_role("option", name="Circulaire APA (National)").click()
    page.locator("#open-doc").click()
    view = page.locator("#document-view .document")
    view.wait_for()
    assert view.locator(".passages li").count() == 2
    assert page.locator("#upload-button").is_visible()  # alice is in an upload group
    page.screenshot(path=str(DOCS / "ui-sources.png"), full_page=True)


def test_login_page_then_the_users_own_documents(browser, ui_index, users_file, tmp_path):
    from playwright.sync_api import expect

    settings, services = ui_index
    ui = settings.ui.model_copy(update={"auth": "gradio", "users_file": users_file,
                                        "feedback_db": tmp_path / "avis.sqlite3", "upload_dir": tmp_path / "uploads"})
    app_settings = settings.model_copy(update={"ui": ui})
    with running_server(create_app(services, app_settings, Authenticator(app_settings))) as url:
        context = browser.new_context(locale="fr-FR")
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url + "/")
        page.locator("input[type=password]").wait_for()
        page.locator("input[type=text]").first.fill("bruno")
        page.locator("input[type=password]").fill(PASSWORDS["bruno"])
        page.locator("input[type=password]").press("Enter")
        page.get_by_text("Utilisateur : bruno").wait_for()
        page.get_by_role("tab", name="Sources").click()
        expect(page.locator("#documents")).to_contain_text("RDAS des Bouches-du-Rhône", timeout=TIMEOUT_MS)
        assert "Guide interne APA du Nord" not in page.locator("#documents").inner_text()  # dep-59 only
        assert not page.locator("#upload-button").is_visible()  # bruno may not upload
        context.close()


def test_upload_from_the_sources_tab(browser, embedder, tmp_path):
    """A fresh index: the file chosen in the browser is ingested by the server and listed."""
    from playwright.sync_api import expect

    settings = make_settings(tmp_path, llm={"base_url": f"http://127.0.0.1:{free_port()}/v1", "max_retries": 0})
    settings = settings.model_copy(update={"ui": settings.ui.model_copy(update={
        "feedback_db": tmp_path / "avis.sqlite3", "upload_dir": tmp_path / "uploads"})})
    services = Services(settings)
    services.__dict__["embedder"] = embedder
    guard_store(services)
    document = tmp_path / "note-accueil-de-jour.md"
    document.write_text("# Note sur l'accueil de jour\n\nL'accueil de jour reçoit les personnes âgées deux jours par semaine.\n",
                        encoding="utf-8")
    try:
        with running_server(create_app(services, settings)) as url:
            context = browser.new_context(locale="fr-FR")
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(url + "/")
            page.get_by_role("tab", name="Sources").click()
            page.locator("#upload-files input[type=file]").set_input_files(str(document))
            page.locator("#upload-button").click()
            expect(page.locator("#upload-status")).to_contain_text("Indexation terminée : 1 passage(s) écrit(s)",
                                                                   timeout=TIMEOUT_MS)
            expect(page.locator("#documents")).to_contain_text("Note sur l'accueil de jour", timeout=TIMEOUT_MS)
            context.close()
    finally:
        services.close()
    assert (tmp_path / "uploads" / "local" / document.name).exists()
