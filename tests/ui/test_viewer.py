"""The document viewer (``GET /documents/{doc_id}``) on a real index holding a PDF, a Word file, a web page
and Markdown: citation links, the page or passage they open, visibility, no server path."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.ui.corpus import RESTRICTED_DOC, RESTRICTED_WORDS, VIEWER_DOCX, VIEWER_HTML, VIEWER_PDF
from ui.auth import Authenticator
from ui.server import create_app
from ui.viewer import highlight_blocks

ALICE = {"X-Remote-User": "alice", "X-Remote-Groups": "dep-59"}
BRUNO = {"X-Remote-User": "bruno", "X-Remote-Groups": "dep-13"}


@pytest.fixture(scope="module")
def viewer(viewer_index, tmp_path_factory):
    settings, services = viewer_index
    folder = tmp_path_factory.mktemp("viewer-app")
    ui = settings.ui.model_copy(update={"auth": "header", "feedback_db": folder / "avis.sqlite3",
                                        "upload_dir": folder / "uploads"})
    app_settings = settings.model_copy(update={"ui": ui})
    with TestClient(create_app(services, app_settings, Authenticator(app_settings)), client=("127.0.0.1", 50000)) as client:
        yield client, settings


def _ask(client: TestClient, question: str, headers=ALICE) -> dict:
    response = client.post("/api/ask", json={"question": question, "mode": "extractif"}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _citation(answer: dict, doc_id: str) -> dict:
    return next(c for c in answer["citations"] if c["doc_id"] == doc_id)


def test_pdf_citation_opens_its_page_with_the_passage_marked(viewer):
    client, _ = viewer
    answer = _ask(client, "Quel est le montant mensuel maximal du plan d'aide en GIR 1 ?")
    citation = _citation(answer, VIEWER_PDF)
    assert citation["page"] == 2
    assert citation["url"] == f"/documents/{VIEWER_PDF}?passage={citation['chunk_index']}#page=2"
    page = client.get(citation["url"].split("#")[0], headers=ALICE)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'none': no script at all
    html = page.text
    frames = re.findall(r'<section class="page" id="page=(\d+)"', html)
    assert frames == ["1", "2", "3"]
    cited_frame = html[html.index('id="page=2"'):html.index('id="page=3"')]
    assert f'<mark id="passage-{citation["chunk_index"]}"' in cited_frame  # the highlight sits on page 2 only
    assert "<mark" not in html[:html.index('id="page=2"')] and "<mark" not in html[html.index('id="page=3"'):]
    marks = re.findall(r'<mark[^>]*style="left:([\d.]+)%;top:([\d.]+)%;width:([\d.]+)%;height:([\d.]+)%"', cited_frame)
    assert len(marks) >= 10 and all(0 <= float(v) <= 100 for box in marks for v in box)

    image = client.get(f"/documents/{VIEWER_PDF}?rendu=2", headers=ALICE)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")
    assert client.get(f"/documents/{VIEWER_PDF}?rendu=9", headers=ALICE).status_code == 404
    original = client.get(f"/documents/{VIEWER_PDF}?original=1", headers=ALICE)
    assert original.status_code == 200 and original.headers["content-type"] == "application/pdf"
    assert original.content.startswith(b"%PDF-") and "inline" in original.headers["content-disposition"]


@pytest.mark.parametrize("question, doc_id, words", [
    ("À combien est plafonnée l'aide animalière de la PCH ?", VIEWER_DOCX, "3000 euros sur cinq ans"),
    ("Le portage de repas peut-il être pris en charge par le plan d'aide de l'APA ?", VIEWER_HTML,
     "intégré au plan d'aide de l'allocation personnalisée d'autonomie"),
])
def test_word_and_web_citations_open_the_passage_highlighted(viewer, question, doc_id, words):
    client, _ = viewer
    citation = _citation(_ask(client, question), doc_id)
    assert citation["url"].endswith(f"?passage={citation['chunk_index']}#passage-{citation['chunk_index']}")
    html = client.get(citation["url"].split("#")[0], headers=ALICE).text
    anchor = f'<mark id="passage-{citation["chunk_index"]}">'
    assert html.count(anchor) == 1
    marked = " ".join(re.findall(r"<mark[^>]*>(.*?)</mark>", html, re.S))
    assert words in re.sub(r"\s+", " ", marked.replace("&#39;", "'").replace("'", "'"))
    assert "<script" not in html and "onclick" not in html and "alert(" not in html


def test_a_restricted_document_is_a_404_for_another_group(viewer):
    client, _ = viewer
    answer = _ask(client, "Qui suit les dossiers urgents d'APA dans le Nord ?")
    url = _citation(answer, RESTRICTED_DOC)["url"].split("#")[0]
    own = client.get(url, headers=ALICE)
    assert own.status_code == 200 and RESTRICTED_WORDS in re.sub(r"<[^>]+>", "", own.text)
    assert '<mark id="passage-' in own.text
    for suffix in ("", "&original=1", "&rendu=1"):
        other = client.get(url + suffix, headers=BRUNO)
        assert other.status_code == 404, suffix
        assert RESTRICTED_WORDS not in other.text and "Guide interne" not in other.text
    missing = client.get("/documents/document-qui-n-existe-pas", headers=BRUNO)
    assert missing.status_code == 404 and missing.text == client.get(url, headers=BRUNO).text  # indistinguishable
    assert client.get(url).status_code == 401  # no identity: the API's authentication applies


def test_citations_carry_the_link_everywhere_and_no_server_path(viewer):
    client, settings = viewer
    root = str(settings.qdrant.path.parent)
    answer = client.post("/api/ask", json={"question": "Quel est le montant mensuel maximal du plan d'aide en GIR 1 ?"},
                         headers=ALICE)
    assert root not in answer.text and all(c["url"].startswith("/documents/") for c in answer.json()["citations"])
    assert all("/" not in c["source_file"] for c in answer.json()["citations"])
    listing = client.get("/api/documents", headers=ALICE)
    assert root not in listing.text
    assert {d["doc_id"]: d["url"] for d in listing.json()["documents"]}[VIEWER_PDF] == f"/documents/{VIEWER_PDF}"
    assert root not in client.get(f"/api/documents/{VIEWER_PDF}", headers=ALICE).text
    assert root not in client.get(f"/documents/{VIEWER_PDF}?passage=0", headers=ALICE).text

    compared = client.post("/api/compare", json={"question": "Quel est le délai de notification de la décision d'APA ?",
                                                 "territoires": ["13", "59"]}, headers=ALICE)
    assert root not in compared.text
    rows = compared.json()["comparison"]["territories"]
    assert any(c["url"].startswith("/documents/") for row in rows for c in row["citations"])

    completion = client.post("/v1/chat/completions", headers=ALICE, json={
        "messages": [{"role": "user", "content": "Quel est le montant mensuel maximal du plan d'aide en GIR 1 ?"}],
        "mode": "extractif"}).json()
    message = completion["choices"][0]["message"]
    urls = [a["url_citation"]["url"] for a in message["annotations"]]
    assert urls == [c["url"] for c in completion["citations"]] and urls
    first = message["annotations"][0]["url_citation"]
    assert message["content"][first["start_index"]:first["end_index"]] == "[1]"
    assert urls[0] in message["content"]  # the « Sources » block names the link too
    assert root not in str(completion)


def test_highlight_blocks_marks_the_run_holding_the_passage():
    fragment = ("<h2>Délai</h2><p>Le délai est de deux mois.</p><p>La décision est notifiée au demandeur "
                "par courrier.</p><ul><li>Autre point sans rapport.</li></ul><p>Le délai est de deux mois.</p>")
    passage = "Le délai est de deux mois.\nLa décision est notifiée au demandeur par courrier."
    html, found = highlight_blocks(fragment, passage, 4)
    assert found
    assert html.count("<mark") == 2 and html.index('<mark id="passage-4">') < html.index("courrier")
    assert "Autre point" not in " ".join(re.findall(r"<mark[^>]*>(.*?)</mark>", html))
    # A long paragraph cut in two passages: the paragraph holding the passage's start is marked.
    long_paragraph = "<p>" + " ".join(f"mot{i}" for i in range(60)) + "</p><p>suite sans rapport</p>"
    html, found = highlight_blocks(long_paragraph, " ".join(f"mot{i}" for i in range(50, 60)) + " et la suite", 0)
    assert found and html.startswith('<p><mark id="passage-0">mot0')
    assert highlight_blocks("<p>Rien de commun ici.</p>", "Le délai est de deux mois.", 1) == (
        "<p>Rien de commun ici.</p>", False)


def test_every_answer_records_an_anonymous_usage_event(viewer):
    client, _ = viewer
    usage = client.app.state.backend.usage
    before = len(usage.events())
    _ask(client, "Quel est le montant mensuel maximal du plan d'aide en GIR 1 ?")
    event = usage.events()[-1]
    assert len(usage.events()) == before + 1
    assert event["departement"] == "59" and event["channel"] == "api" and event["kind"] == "question"
    assert event["question"] is None and event["latency_ms"] > 0 and "fiche" in event["doc_types"]


def test_word_rendered_from_the_parsers_blocks(tmp_path):
    from tests.indexing.test_word import word_document
    from ui.viewer import docx_html

    path = word_document(tmp_path)
    assert docx_html(path) == (
        "<h1>Aide animalière</h1><h2>Montant</h2><p>La PCH finance jusqu&#x27;à 3000 euros.</p>"
        "<table><tr><td>Aide</td><td>Plafond</td></tr><tr><td>Chien guide</td><td>3000 €</td></tr></table>"
        "<ul><li>premier justificatif</li><li>second justificatif</li></ul><p>Fin du document.</p>")


CONCURRENT_RENDERING = """
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ui import viewer

path = Path(sys.argv[1])
pages = viewer.pdf_page_count(path)


def render(worker: int) -> None:
    for _ in range(6):
        viewer._render_png.cache_clear()
        viewer._pdf_sizes.cache_clear()
        viewer.pdf_page_png(path, worker % pages + 1)
        viewer.pdf_page_count(path)


with ThreadPoolExecutor(8) as pool:
    list(pool.map(render, range(32)))
print("rendu")
"""


def test_pdf_pages_render_from_many_threads_at_once():
    """The browser loads a PDF's page images in parallel, on the server's thread pool: PDFium is not
    thread-safe, so without the process-wide lock this aborts the interpreter or fails to open the file.
    Run in a child process so that an abort fails this test instead of killing the test session."""
    import subprocess
    import sys

    from assistant.settings import PROJECT_ROOT

    pdf = PROJECT_ROOT / "corpus" / "geva" / "guide-geva.pdf"
    done = subprocess.run([sys.executable, "-c", CONCURRENT_RENDERING, str(pdf)], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and done.stdout.strip() == "rendu", done.stderr[-2000:]
