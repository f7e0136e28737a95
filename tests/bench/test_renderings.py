"""The real-world test set: renderings by other tools keep the demo ids, and read back like the source."""

from __future__ import annotations

import shutil

import pytest
import yaml
from rapidfuzz import fuzz

from bench.documents import furniture_lines, normalise
from bench.renderings import build_corpus, load_furniture, source_docs
from indexing.parsers import PAGE_BREAK, parse_file


def test_web_corpus_keeps_ids_metadata_and_lists_its_furniture(tmp_path):
    folder = build_corpus("web", tmp_path / "web", ["dep59-rdas-pa"], with_others=False)
    entries = yaml.safe_load((folder / "manifest.yaml").read_text(encoding="utf-8"))
    assert [(e["id"], e["file"], e["territory"]) for e in entries] == [("dep59-rdas-pa", "territoires/59/rdas-personnes-agees.html", "59")]
    furniture = load_furniture(folder)
    assert "Mentions légales" in furniture
    passages = {"d": [{"text": "Article 3.2.1\nMentions légales\nLe Département verse l'APA."}]}
    assert furniture_lines(passages, furniture) == ["Mentions légales"]


@pytest.mark.slow
def test_office_pdf_from_libreoffice_reads_like_its_source(tmp_path):
    if not (shutil.which("soffice") or shutil.which("libreoffice")):
        pytest.skip("LibreOffice absent (bash deploy/local/install-test-tools.sh)")
    doc = source_docs(["dep59-rdas-pa"])[0]
    folder = build_corpus("office", tmp_path / "office", [doc.id], with_others=False)
    text = parse_file(folder / "territoires/59/rdas-personnes-agees.pdf", 50_000_000).documents[0].text
    assert text.count(PAGE_BREAK) >= 5
    assert "Page 2 sur" not in text and "Département de démonstration" not in text
    flat = normalise(text.replace(PAGE_BREAK, "\n"))
    paragraphs = [normalise(p) for p in doc.source.read_text(encoding="utf-8").split("\n\n")
                  if len(p) > 200 and not p.lstrip().startswith(("|", ">"))]
    assert all(fuzz.partial_ratio(p, flat) >= 95 for p in paragraphs)  # justified, hyphenated lines rejoined


def test_furniture_lines_are_headers_not_the_content_that_quotes_a_title():
    from bench.documents import is_furniture

    header = "département de démonstration — guide d'évaluation des besoins de compensation"
    assert is_furniture("Département de démonstration — Guide d'évaluation des besoins de compensation", header)
    assert is_furniture("Departement de demonstration — Guide d'évaluation des besoins de compensation", header)  # OCR
    assert is_furniture("Département de démonstration — Guide d'évaluation des", header)  # wrapped header
    assert is_furniture("Page 3 sur 12", "page # sur #")
    assert not is_furniture("GEVA | Guide d'évaluation des besoins de compensation", header)
    assert not is_furniture("Page", "page # sur #")


def test_a_menu_item_counts_only_as_a_whole_line():
    from bench.documents import is_furniture

    assert is_furniture("Personnes âgées", "personnes âgées")
    assert not is_furniture("ASPA | Allocation de solidarité aux personnes âgées", "personnes âgées")
