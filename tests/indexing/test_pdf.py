"""PDF reading: tables as rows, page furniture, hyphenation, two columns, scanned pages without OCR."""

from __future__ import annotations

import pytest
from rapidfuzz import fuzz

from assistant.settings import PROJECT_ROOT, OcrSettings
from bench.documents import normalise
from bench.renderings import render_two_columns, scan_pdf, source_docs, two_column_header
from indexing.parsers import PAGE_BREAK, ParseError, parse_file
from indexing.pdf import Line, repair_hyphenation, strip_furniture
from tests.indexing.formats import write_pdf

MB = 1_000_000


def _page(number: int, body: list[str]) -> list[Line]:
    lines = [Line("Conseil départemental — Règlement d'aide sociale", 0.03, 0.05), Line(f"Édition {2020 + number}", 0.05, 0.07)]
    lines += [Line(text, 0.2 + 0.05 * i, 0.23 + 0.05 * i) for i, text in enumerate(body)]
    return lines + [Line(f"Page {number} sur 4", 0.95, 0.97)]


def test_running_headers_footers_and_page_numbers_are_dropped():
    pages = [_page(n, [f"Article {n} — Objet", "Le texte de l'article.", "12"]) for n in range(1, 5)]
    pages[2].append(Line("Annexe au règlement", 0.93, 0.95))  # bottom band, on one page only: kept
    kept = [[line.text for line in page] for page in strip_furniture(pages)]
    assert kept[0] == ["Article 1 — Objet"]  # the repeated body line and the bare number go too
    assert kept[2] == ["Article 3 — Objet", "Annexe au règlement"]


def test_headings_opening_each_page_are_not_furniture():
    pages = [[Line(f"Article {n}", 0.05, 0.07), Line(f"Texte {n}.", 0.2, 0.22), Line(f"- {n} -", 0.95, 0.97)] for n in range(1, 5)]
    assert [[line.text for line in page] for page in strip_furniture(pages)] == [[f"Article {n}", f"Texte {n}."] for n in range(1, 5)]


def test_running_lines_read_by_ocr_are_matched_despite_small_errors():
    headers = ["Département du Nord — RDAS", "Departement du Nord — RDAS", "Département du Nord - RDAS.", "Département du Nord — RDAS"]
    pages = [[Line(h, 0.02, 0.04), Line(f"Corps de la page {i}", 0.5, 0.52)] for i, h in enumerate(headers)]
    assert [[line.text for line in page] for page in strip_furniture(pages)] == [[f"Corps de la page {i}"] for i in range(4)]


def test_line_end_hyphenation_is_repaired_and_compounds_keep_their_hyphen():
    pages = ["Les profes-\nsionnels de l'équipe médico-\nsociale évaluent la dépen-\ndance, c'est-à-\ndire l'autonomie.",
             "Le secteur médico-social et la sous-\nsection 2 ; pro\u00ad\ngramme (ex-\ntrait)."]
    assert repair_hyphenation(pages) == [
        "Les professionnels de l'équipe médico-sociale évaluent la dépendance, c'est-à-dire l'autonomie.",
        "Le secteur médico-social et la sous-section 2 ; programme (extrait)."]


def test_sentences_wrapped_over_lines_are_one_line_again(tmp_path):
    """A sentence the layout wrapped is one line again, before a capital too (« (annexe 2-4 du » / « CASF)
    permet ») so that it is quoted whole; a title, a lead-in, a list item and a short line keep their own line."""
    lines = parse_file(PROJECT_ROOT / "corpus" / "geva" / "guide-geva.pdf", 50 * MB).documents[0].text.split("\n")
    assert any("(annexe 2-4 du CASF) permet de fixer un taux d'incapacité" in line for line in lines)
    assert "1.1 Un outil national d'évaluation" in lines and "Le GEVA poursuit trois objectifs :" in lines
    assert any(line.startswith("- garantir une évaluation globale") and line.endswith("ses déficiences ;") for line in lines)
    sentence = ("La decision de la commission est notifiee a la personne dans un delai de deux mois a compter du "
                "depot du dossier complet aupres de la Maison departementale des personnes handicapees, avec la "
                "mention des voies et delais de recours ouverts contre elle.")
    pdf = write_pdf(tmp_path / "court.pdf", [f"Article 2 - Decision\n{sentence}\nVoir aussi\n- le recours gracieux",
                                             "Volet 5 - Medical\nRempli par le medecin."])
    first, second = parse_file(pdf, 50 * MB).documents[0].text.split(PAGE_BREAK)
    assert first.split("\n") == ["Article 2 - Decision", sentence, "Voir aussi", "- le recours gracieux"]
    assert second.split("\n") == ["Volet 5 - Medical", "Rempli par le medecin."]


def test_tables_of_the_demo_pdfs_are_read_as_rows():
    text = parse_file(PROJECT_ROOT / "corpus" / "national" / "pch.pdf", 50 * MB).documents[0].text
    assert "2. Aides techniques | Équipements de compensation | 3 960 € sur 3 ans" in text
    assert "Emploi direct d'un salarié | 19,34 €" in text
    assert "Page 2 / 6" not in text and "\f" in text


@pytest.fixture(scope="module")
def rdas_59():
    return source_docs(["dep59-rdas-pa"])[0]


def test_two_column_pages_are_read_column_after_column(tmp_path, rdas_59):
    path = tmp_path / "rdas-2col.pdf"
    path.write_bytes(render_two_columns(rdas_59))
    document = parse_file(path, 50 * MB).documents[0]
    text = normalise(document.text.replace(PAGE_BREAK, "\n"))
    source = rdas_59.source.read_text(encoding="utf-8")
    paragraphs = [normalise(p) for p in source.split("\n\n") if len(p) > 200 and not p.lstrip().startswith(("|", ">"))]
    assert len(paragraphs) > 10
    recovered = [p for p in paragraphs if fuzz.partial_ratio(p, text) >= 95]
    assert len(recovered) == len(paragraphs)  # column order and hyphenated words repaired everywhere
    assert "Recueil des actes administratifs" not in document.text and "— 2 —" not in document.text
    assert document.text.count(two_column_header(rdas_59)) == 1  # the title, not the running header
    assert "GIR 1 | 2 045,56 € | 87 heures" in document.text  # the table across both columns, row by row
    # wrapped sentences joined within a column, never a title to its text nor a column's end to the next row
    lines = document.text.split("\n")
    titles = [line for line in lines if line.startswith(("Article ", "Chapitre "))]
    assert len(titles) > 10 and all(len(line) < 90 and not line.endswith(".") for line in titles), titles
    assert any(line.endswith(".") and len(line) > 300 for line in lines)


def test_scanned_pdf_without_ocr_says_so(tmp_path):
    pdf = write_pdf(tmp_path / "texte.pdf", ["Article 1\nDecision de la commission.", "Article 2\nRecours."])
    scanned = tmp_path / "numerise.pdf"
    scanned.write_bytes(scan_pdf(pdf.read_bytes(), seed="t", dpi=100))
    with pytest.raises(ParseError, match="sans couche texte.*pages 1, 2.*OCR.*désactivée"):
        parse_file(scanned, 50 * MB, OcrSettings(enabled=False))


def test_stacked_ocr_lines_are_never_one_row():
    """Two lines Tesseract read apart, one above the other, stay two lines even when a speck inflates the
    lower one's box up to the upper one; lines side by side (table cells) still share their row."""
    from indexing.layout import Item, layout_lines

    heading = Item(72, 200, 680, 692, "Article 27 — Procédure d'urgence", whole_line=True)
    body = Item(72, 520, 686, 706, "En cas d'urgence attestée, l'équipe médico-sociale", whole_line=True)
    assert [line.text for line in layout_lines([heading, body], 595, 842)] == [heading.text, body.text]
    cells = [Item(72, 200, 300, 312, "GIR 1", whole_line=True), Item(300, 380, 301, 313, "2 045,56 €", whole_line=True)]
    assert [line.text for line in layout_lines(cells, 595, 842)] == ["GIR 1 | 2 045,56 €"]
