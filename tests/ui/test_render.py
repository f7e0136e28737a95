"""HTML of the chat: escaping, citation links, highlighted quotes, comparison table."""

from __future__ import annotations

from assistant.answering.schema import AssistantResponse, Citation, Comparison, TerritoryPractice
from ui import render
from ui.openai_compat import closing_text


def citation(marker: int = 1, **changes) -> Citation:
    values = dict(marker=marker, doc_id="nat-apa", title="Circulaire APA", doc_type="circulaire", territory="59",
                  section_path="Titre 1 › Article 2", article="2", page=3, date="2024-03-15",
                  passage="Le président notifie la décision\ndans un délai de deux mois. <b>Hors</b> urgence, rien.",
                  quote="Le président notifie la décision […] dans un délai de deux mois.")
    return Citation(**(values | changes))


def test_answer_links_known_markers_and_escapes_text():
    response = AssistantResponse(question="q", standalone_question="q", mode="extractif",
                                 answer="D'après :\n- « <script>x</script> deux mois » [1] [7]", citations=[citation()],
                                 warnings=["Serveur LLM indisponible."])
    html = render.answer_html(response, "4")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="#cite-4-1"' in html and "#cite-4-7" not in html and "[7]" in html
    assert "<li>" in html and "Mode Extractif" in html and "Serveur LLM indisponible." in html
    assert "Abstention" not in html
    abstained = response.model_copy(update={"abstained": True, "citations": []})
    assert "Abstention" in render.answer_html(abstained, "0")


def test_answer_shows_its_confidence_band():
    response = AssistantResponse(question="q", standalone_question="q", mode="extractif", answer="Réponse [1]",
                                 citations=[citation()], answerability=0.456, confidence="moyenne")
    html = render.answer_html(response, "1")
    assert "Confiance moyenne (0,46)" in html and "badge-confiance-moyenne" in html
    assert "Confiance" not in render.answer_html(response.model_copy(update={"confidence": None}), "1")
    abstained = response.model_copy(update={"abstained": True, "confidence": "faible"})
    assert "Confiance" not in render.answer_html(abstained, "1")  # the abstention badge says it


def test_highlight_marks_each_quoted_part_across_line_breaks():
    c = citation()
    html = render.highlight(c.text, c.quote)
    assert html.count("<mark>") == 2
    assert "<mark>Le président notifie la décision</mark>" in html
    assert "<mark>dans un délai de deux mois.</mark>" in html
    assert "&lt;b&gt;Hors&lt;/b&gt;" in html
    assert render.highlight("Texte sans rapport.", "citation absente") == "Texte sans rapport."


def test_source_panel_shows_the_citation_fields():
    html = render.source_panel(citation())
    for expected in ("Circulaire APA", "Titre 1 › Article 2", "<dd>2</dd>", "<dd>3</dd>", "Nord (59)", "2024-03-15", "<mark>"):
        assert expected in html


def test_comparison_puts_the_national_rule_above_a_flagged_table():
    rows = [TerritoryPractice(territory=code, name=code, practice=f"Pratique {code}", status=status, note="n")
            for code, status in (("13", "conforme"), ("59", "divergent"), ("33", "contraire"), ("69", "non_trouve"))]
    html = render.comparison_html(Comparison(question="q", national_rule="Deux mois [1].", national_citations=[citation()],
                                             territories=rows, summary="Écarts à vérifier."))
    assert html.index("Règle nationale") < html.index("<table")
    for label in ("✓</span> Conforme", "⚠</span> Divergent", "✗</span> Contraire", "?</span> Non trouvé"):
        assert label in html
    assert 'class="status-divergent"' in html and "Bouches-du-Rhône (13)" in html


def test_openai_closing_text():
    c = citation()
    done = AssistantResponse(question="q", standalone_question="q", mode="extractif", answer="Deux mois [1].", citations=[c])
    assert closing_text("Deux mois [1].", done) == "\n\nSources :\n[1] Circulaire APA › Titre 1 › Article 2, p. 3 — Nord (59), 2024-03-15 — /documents/nat-apa#page=3"
    assert closing_text("", done).startswith("Deux mois [1].\n\nSources :")
    trimmed = done.model_copy(deep=True)
    trimmed.verification.removed = ["Phrase inventée."]
    assert "retirées" in closing_text("Deux mois [1]. Phrase inventée.", trimmed)


def test_citation_of_a_scanned_page_says_it_was_read_by_ocr():
    from assistant.answering.schema import Citation
    from ui.render import location, source_panel

    citation = Citation(marker=1, doc_id="d", title="Circulaire", doc_type="circulaire", territory="59",
                        page=2, ocr=True, passage="Texte lu.")
    assert location(citation) == "Circulaire, p. 2 (texte issu d'une numérisation)"
    assert "2 (texte issu d&#x27;une numérisation)" in source_panel(citation)
    assert location(citation.model_copy(update={"ocr": False})) == "Circulaire, p. 2"


def test_badge_names_whose_rules_the_answer_draws_from():
    response = AssistantResponse(question="q", standalone_question="q", mode="extractif", answer="r [1] [2] [3]",
                                 citations=[citation(1), citation(2, territory="national"), citation(3)], territories=["13"])
    assert render.rule_territories(response) == ["national", "59"]  # the cited documents', not the question's
    assert "Règles : National, Nord (59)</span>" in render.answer_html(response, "0")
    searched = response.model_copy(update={"citations": [], "abstained": True})
    assert render.rule_territories(searched) == ["13"]  # nothing cited: where the question was searched
    assert "Règles" not in render.answer_html(searched.model_copy(update={"territories": []}), "0")


DOCS = [
    {"doc_id": "nat-circulaire-apa", "title": "Circulaire APA", "doc_type": "circulaire", "territory": "national",
     "date": "2024-03-15", "validity": "en_vigueur", "source_file": "circulaire-apa.md", "passages": 2,
     "url": "/documents/nat-circulaire-apa"},
    {"doc_id": "dep59-guide", "title": "Guide interne de l'APA du Nord <b>", "doc_type": "pratique_territoriale",
     "territory": "59", "date": "2025-02-01", "validity": "en_vigueur", "source_file": "guide.docx", "passages": 1,
     "url": "/documents/dep59-guide"},
    {"doc_id": "nat-ancien-bareme", "title": "Barème abrogé", "doc_type": "circulaire", "territory": None,
     "date": None, "validity": "abroge", "source_file": "bareme.pdf", "passages": 3, "url": "/documents/nat-ancien-bareme"},
]


def _titles(html: str) -> list[str]:
    import re

    return re.findall(r'<th scope="row"><a [^>]*>([^<]*)</a>', html)


def test_documents_table_search_and_filters():
    html = render.documents_table(DOCS)
    assert "3 document(s) sur 3" in html and "&lt;b&gt;" in html and 'href="/documents/dep59-guide"' in html
    assert "Nord (59)" in html and "Abrogé" in html and "Pratique territoriale" in html
    assert _titles(render.documents_table(DOCS, "bareme")) == ["Barème abrogé"]  # accents and case ignored
    assert _titles(render.documents_table(DOCS, "APA nord")) == ["Guide interne de l&#x27;APA du Nord &lt;b&gt;"]
    assert _titles(render.documents_table(DOCS, "guide.docx")) == ["Guide interne de l&#x27;APA du Nord &lt;b&gt;"]
    assert _titles(render.documents_table(DOCS, types=["circulaire"])) == ["Circulaire APA", "Barème abrogé"]
    assert _titles(render.documents_table(DOCS, territories=["national"])) == ["Circulaire APA", "Barème abrogé"]
    assert _titles(render.documents_table(DOCS, validity="abroge")) == ["Barème abrogé"]
    assert "0 document(s) sur 3" in render.documents_table(DOCS, "introuvable", territories=["59"])
    assert "Aucun document" in render.documents_table([])
