"""The chat UI in a real browser (Debian's Chromium driven by Playwright) against the real server.

Installs nothing: ``deploy/local/install-test-tools.sh`` provides Chromium. Without it these tests are
skipped, or fail when ``AUTONOMIE_REQUIRE_BROWSER=1``. Screenshots of each tab go to ``docs/``.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from assistant.services import Services
from assistant.settings import PROJECT_ROOT
from tests.conftest import make_settings
from tests.ui.conftest import PASSWORDS, free_port, running_server
from ui.auth import Authenticator
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


@contextmanager
def uploaded_in_browser(browser, embedder, tmp_path: Path, document: Path, ocr: dict | None = None) -> Iterator[Any]:
    """A real server on an empty index of its own (LLM endpoint closed: extractive answers), ``document``
    chosen and sent from its Sources tab in the browser; yields the page (the upload job may still run).
    ``ocr`` changes ``ingestion.ocr`` settings."""
    settings = make_settings(tmp_path, llm={"base_url": f"http://127.0.0.1:{free_port()}/v1", "max_retries": 0})
    update = {"ui": settings.ui.model_copy(update={"feedback_db": tmp_path / "avis.sqlite3", "upload_dir": tmp_path / "uploads"})}
    if ocr:
        update["ingestion"] = settings.ingestion.model_copy(update={"ocr": settings.ingestion.ocr.model_copy(update=ocr)})
    settings = settings.model_copy(update=update)
    services = Services(settings)
    services.__dict__["embedder"] = embedder
    try:
        with running_server(create_app(services, settings)) as url:
            context = browser.new_context(locale="fr-FR")
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(url + "/")
            page.get_by_role("tab", name="Sources").click()
            page.locator("#upload-files input[type=file]").set_input_files(str(document))
            page.locator("#upload-button").click()
            yield page
            context.close()
    finally:
        services.close()


def _header_mode_server(index, tmp_path):
    """The real server in proxy-header mode on ``index``: the browser plays agents behind the proxy."""
    settings, services = index
    ui = settings.ui.model_copy(update={"auth": "header", "feedback_db": tmp_path / "avis.sqlite3",
                                        "upload_dir": tmp_path / "uploads"})
    app_settings = settings.model_copy(update={"ui": ui})
    return running_server(create_app(services, app_settings, Authenticator(app_settings))), ui.feedback_db


@pytest.fixture
def ui_server(ui_index, tmp_path):
    server, feedback_db = _header_mode_server(ui_index, tmp_path)
    with server as url:
        yield url, feedback_db


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
    assert "Règles : National" in answer.locator(".badge-territoire").inner_text()  # the cited documents' territories
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
    table = documents.locator("table.documents-table")
    body_font = page.evaluate("getComputedStyle(document.querySelector('.gradio-container')).fontFamily")
    assert table.evaluate("t => getComputedStyle(t.querySelector('td')).fontFamily") == body_font
    assert "mono" not in body_font.lower()
    assert table.evaluate("t => t.getBoundingClientRect().right") <= 1400  # wraps inside the window, not cut
    page.get_by_label("Rechercher (titre, identifiant, fichier)").fill("guide nord")
    page.get_by_label("Rechercher (titre, identifiant, fichier)").press("Enter")
    expect(documents).to_contain_text("1 document(s) sur 4", timeout=TIMEOUT_MS)
    page.get_by_label("Rechercher (titre, identifiant, fichier)").fill("")
    page.get_by_label("Rechercher (titre, identifiant, fichier)").press("Enter")
    page.get_by_label("Type", exact=True).click()
    page.get_by_role("option", name="Circulaire").click()
    expect(documents).to_contain_text("1 document(s) sur 4", timeout=TIMEOUT_MS)
    assert "Circulaire APA" in documents.inner_text() and "Fiche PCH" not in documents.inner_text()
    page.get_by_label("Type", exact=True).press("Escape")
    page.get_by_label("Document à ouvrir").click()
    page.get_by_role("option", name="Circulaire APA (National)").click()
    page.locator("#open-doc").click()
    view = page.locator("#document-view .document")
    view.wait_for()
    assert view.locator(".passages li").count() == 2
    assert page.locator("#upload-button").is_visible()  # alice is in an upload group
    upload_text = page.locator("#upload-files").inner_text()
    assert "téléverser" in upload_text and "télécharger" not in upload_text
    page.screenshot(path=str(DOCS / "ui-sources.png"), full_page=True)


def test_one_font_for_headings_and_text(page):
    """The fonts Chromium really drew the title, headings and text with (a font file lacking glyphs falls back)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    drawn: dict[str, set[str]] = {}
    for selector in ("h1", "#feedback h3", ".tabs button", "#who strong", "label span"):
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        assert node, selector
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        drawn[selector] = {f["familyName"] for f in fonts}
    assert len(set().union(*drawn.values())) == 1, drawn


def test_the_chat_searches_the_users_departement_by_default(page):
    page.get_by_text("Filtres et mode de réponse").click()
    field = page.locator(".block", has=page.get_by_label("Territoire(s)")).last
    field.get_by_text("59 — Nord").wait_for()  # alice is in dep-59


def test_usage_tab_for_usage_groups_only(browser, ui_index, tmp_path):
    from playwright.sync_api import expect

    from tests.ui.test_usage import _seed

    server, feedback_db = _header_mode_server(ui_index, tmp_path)
    _seed(feedback_db)
    with server as url:
        pages = {}
        for user, groups in (("claire", "admin"), ("alice", "dep-59,televersement")):
            context = browser.new_context(locale="fr-FR", viewport={"width": 1400, "height": 1000},
                                          extra_http_headers={"X-Remote-User": user, "X-Remote-Groups": groups})
            pages[user] = context.new_page()
            pages[user].set_default_timeout(TIMEOUT_MS)
            pages[user].goto(url + "/")
            pages[user].get_by_text(f"Utilisateur : {user}").wait_for()
        assert pages["alice"].get_by_role("tab", name="Usage").count() == 0
        page = pages["claire"]
        page.get_by_role("tab", name="Usage").click()
        report = page.locator("#usage-report .usage")
        expect(report).to_contain_text("Abstention : 25,0 %", timeout=TIMEOUT_MS)
        assert report.locator("svg").count() == 8
        text = report.inner_text()
        assert "Génération (LLM)" in text and "Incomplète" in text
        for personal in ("Durand", "alice", "bruno", "Appelez"):
            assert personal not in text
        page.get_by_label("Depuis le (AAAA-MM-JJ, vide : toute la période conservée)").fill("2025-03-04")
        page.locator("#usage-refresh").click()
        expect(report).to_contain_text("depuis le 2025-03-04", timeout=TIMEOUT_MS)
        page.get_by_label("Depuis le (AAAA-MM-JJ, vide : toute la période conservée)").fill("")
        page.locator("#usage-refresh").click()
        expect(report).to_contain_text("toute la période conservée", timeout=TIMEOUT_MS)
        page.screenshot(path=str(DOCS / "ui-usage.png"), full_page=True)
        for p in pages.values():
            p.context.close()


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

    document = tmp_path / "note-accueil-de-jour.md"
    document.write_text("# Note sur l'accueil de jour\n\nL'accueil de jour reçoit les personnes âgées deux jours par semaine.\n",
                        encoding="utf-8")
    with uploaded_in_browser(browser, embedder, tmp_path, document) as page:
        expect(page.locator("#upload-status")).to_contain_text("Indexation terminée : 1 passage(s) écrit(s)",
                                                               timeout=TIMEOUT_MS)
        expect(page.locator("#documents")).to_contain_text("Note sur l'accueil de jour", timeout=TIMEOUT_MS)
    assert (tmp_path / "uploads" / "local" / document.name).exists()


@pytest.fixture
def viewer_server(viewer_index, tmp_path):
    """The index holding a PDF, a Word file and a web page."""
    server, _ = _header_mode_server(viewer_index, tmp_path)
    with server as url:
        yield url


def _agent_page(browser, url: str, user: str, groups: str):
    context = browser.new_context(locale="fr-FR", viewport={"width": 1400, "height": 1000},
                                  extra_http_headers={"X-Remote-User": user, "X-Remote-Groups": groups})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url + "/")
    page.get_by_text(f"Utilisateur : {user}").wait_for()
    return context, page


def _open_cited_document(page, question: str, title: str):
    """Asks ``question`` in the chat, clicks the citation of ``title`` in the sources list: the viewer's tab."""
    field = page.get_by_label("Votre question")
    field.fill(question)
    field.press("Enter")
    answer = page.locator(".answer:not(.streaming)").last
    answer.locator(".sources a.cite").first.wait_for()
    item = answer.locator(".sources li", has_text=title).first
    with page.context.expect_page() as opened:
        item.locator("a.doc-link").click()
    viewer = opened.value
    viewer.wait_for_load_state("load")
    return viewer


def _in_viewport(page, selector: str) -> bool:
    return page.evaluate("""(selector) => { const r = document.querySelector(selector).getBoundingClientRect();
        return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight; }""", selector)


def test_citation_opens_the_document_viewer(browser, viewer_server):
    url = viewer_server
    context, page = _agent_page(browser, url, "alice", "dep-59")

    # PDF: the citation opens page 2 (of 3), scrolled to, the passage's words boxed over the rendered page.
    viewer = _open_cited_document(page, "Quel est le montant mensuel maximal du plan d'aide en GIR 1 ?",
                                  "Guide des plafonds APA")
    assert viewer.url.endswith("#page=2") and "/documents/nat-guide-plafonds?passage=" in viewer.url
    viewer.locator('[id="page=2"] img').evaluate("img => img.complete || new Promise(r => img.onload = r)")
    assert viewer.evaluate("document.querySelector('[id=\"page=2\"] img').naturalWidth") > 0
    assert viewer.evaluate("window.scrollY") > 500  # page 1 scrolled past
    assert _in_viewport(viewer, "[id='page=2'] mark[id^='passage-']")
    assert viewer.locator("[id='page=2'] mark").count() >= 10 and viewer.locator("[id='page=1'] mark").count() == 0
    viewer.screenshot(path=str(DOCS / "viewer-pdf.png"))
    viewer.close()

    # Word and web page: rendered as HTML, the cited blocks marked and scrolled into view.
    for question, title, words, shot in [
        ("À combien est plafonnée l'aide animalière de la PCH ?", "Aide animalière de la PCH", "3000 euros", "viewer-docx.png"),
        ("Le portage de repas peut-il être pris en charge par le plan d'aide de l'APA ?", "Portage de repas",
         "plan d'aide de l'allocation", None),
    ]:
        viewer = _open_cited_document(page, question, title)
        anchor = viewer.url.rsplit("#", 1)[1]
        assert anchor.startswith("passage-")
        assert words in viewer.locator(f"mark[id='{anchor}']").inner_text() + " ".join(viewer.locator("mark").all_inner_texts())
        assert _in_viewport(viewer, f"mark[id='{anchor}']")
        if shot:
            viewer.screenshot(path=str(DOCS / shot))
        viewer.close()

    # A restricted document: its link works for its group, and is a 404 for another group.
    viewer = _open_cited_document(page, "Qui suit les dossiers urgents d'APA dans le Nord ?", "Guide interne APA du Nord")
    restricted = viewer.url.split("#")[0]
    assert "cellule Tournesol" in viewer.locator("mark").first.inner_text()
    page.screenshot(path=str(DOCS / "ui-chat-lien-document.png"), full_page=False)
    context.close()
    other, other_page = _agent_page(browser, url, "bruno", "dep-13")
    response = other_page.goto(restricted)
    assert response.status == 404
    assert "Document introuvable" in other_page.inner_text("body") and "Tournesol" not in other_page.content()
    other.close()
