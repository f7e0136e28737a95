"""Web pages: main content without the site's menu, cookie banner, aside and footer."""

from __future__ import annotations

from bench.renderings import ASIDE_LINES, COOKIE_TEXT, FOOTER_LINES, NAV, render_web, source_docs
from indexing.chunking import split_structure
from indexing.parsers import parse_file


def test_site_page_keeps_the_content_and_drops_the_furniture(tmp_path):
    doc = source_docs(["nat-pch"])[0]
    path = tmp_path / "pch.html"
    path.write_text(render_web(doc), encoding="utf-8")
    parsed = parse_file(path, 50_000_000).documents[0]
    text = parsed.text
    assert parsed.metadata["title"] == "Circulaire relative à l'attribution et au versement de la prestation de compensation du handicap"
    assert "## 1. Objet et principes de la prestation" in text and "### 1.1 Finalité" in text
    assert "2. Aides techniques | Équipements de compensation | 3 960 € sur 3 ans" in text
    lines = set(text.splitlines())
    for furniture in NAV + FOOTER_LINES + ASIDE_LINES + [COOKIE_TEXT, "Accepter les cookies", "Refuser"]:
        assert furniture not in lines, furniture
        if len(furniture) >= 12:  # a long one nowhere, even inside a line
            assert furniture not in text.replace("\n", " "), furniture
    paths = {c.section_path for c in split_structure(text, 1200, 150)}
    assert ("Circulaire relative à l'attribution et au versement de la prestation de compensation du handicap",
            "2. Les six éléments de la PCH", "2.6 Récapitulatif") in paths


def test_bare_document_is_read_whole(tmp_path):
    path = tmp_path / "fiche.html"
    path.write_text("<html><head><title>Fiche</title></head><body><article><h1>Fiche</h1><p>Court.</p>"
                    "<p>Contact : 03 00 00 00 00.</p></article></body></html>", encoding="utf-8")
    assert parse_file(path, 50_000_000).documents[0].text == "# Fiche\n\nCourt.\n\nContact : 03 00 00 00 00."
