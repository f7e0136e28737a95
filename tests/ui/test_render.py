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
    html = render.highlight(c.passage, c.quote)
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
