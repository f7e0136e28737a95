from indexing.chunking import FrenchStructureNodeParser, article_label, heading_of, split_structure
from llama_index.core.schema import Document

CASF_STYLE = """Titre III — Personnes âgées

Chapitre II — Allocation personnalisée d'autonomie

Section 1 — Allocation à domicile

Article L. 232-1
Toute personne âgée résidant en France qui se trouve dans l'incapacité d'assumer les conséquences du manque d'autonomie a droit à une allocation personnalisée d'autonomie.

Art. R. 232-7
L'équipe médico-sociale comprend au moins un médecin et un travailleur social.

Annexe 2-1
Variable | Modalité
Cohérence | A
"""


def test_article_aware_chunking_of_casf_style_text():
    chunks = split_structure(CASF_STYLE, max_chars=1200, overlap_chars=100)
    assert [c.article for c in chunks] == ["L. 232-1", "R. 232-7", "Annexe 2-1"]
    first = chunks[0]
    assert first.section_path == (
        "Titre III — Personnes âgées",
        "Chapitre II — Allocation personnalisée d'autonomie",
        "Section 1 — Allocation à domicile",
        "Article L. 232-1",
    )
    assert first.text.startswith("Toute personne âgée")
    assert "travailleur social" in chunks[1].text and "Toute personne" not in chunks[1].text
    # A table stays readable, row by row.
    assert chunks[2].text == "Variable | Modalité\nCohérence | A"


def test_markdown_headings_nest_and_articles_are_leaves():
    text = "# Circulaire\n\n## 1. Instruction\n\n### Article 3 — Délais\n\nDeux mois.\n\n## 2. Recours\n\nRAPO sous deux mois."
    chunks = split_structure(text, 1200, 100)
    assert [c.section_path for c in chunks] == [
        ("Circulaire", "1. Instruction", "Article 3 — Délais"),
        ("Circulaire", "2. Recours"),
    ]
    assert chunks[0].article == "3"


def test_numbered_plain_headings_only_outside_markdown():
    assert heading_of("2.3 Visite à domicile") == (2, "2.3 Visite à domicile")
    assert heading_of("2.3 Visite à domicile", markdown=True) is None
    assert heading_of("1. La personne dépose son dossier complet auprès du département.") is None
    assert heading_of("Question 4 : quel plafond horaire ?")[0] == 9


def test_numbered_table_rows_are_not_headings():
    text = ("2. Les éléments\n2.1 Récapitulatif\nÉlément | Montant\n1. Aides humaines 19,34 € de l'heure\n"
            "5. Aide animalière 3 000 € sur 5 ans\n3 Difficulté grave\n3. Conditions d'éligibilité\n3.1 Âge\nSoixante ans.")
    chunks = split_structure(text, 1200, 100)
    assert [c.section_path for c in chunks] == [
        ("2. Les éléments", "2.1 Récapitulatif"),
        ("3. Conditions d'éligibilité", "3.1 Âge"),
    ]
    assert "1. Aides humaines" in chunks[0].text and "3 Difficulté grave" in chunks[0].text


def test_pages_are_kept_from_form_feeds():
    text = "Article 1\nPremière page.\fSuite de l'article sur la page deux.\n\nArticle 2\nTexte."
    chunks = split_structure(text, 1200, 100)
    assert [(c.article, c.page) for c in chunks] == [("1", 1), ("2", 2)]


def test_long_sections_fall_back_to_size_limits_with_overlap():
    sentences = " ".join(f"La phrase numéro {i} décrit une règle précise du plan d'aide." for i in range(60))
    chunks = split_structure(f"Article 5\n{sentences}", max_chars=400, overlap_chars=120)
    assert len(chunks) > 3
    assert all(len(c.text) <= 400 for c in chunks)
    assert all(c.article == "5" for c in chunks)
    # Consecutive pieces share their boundary sentence (overlap), and nothing is lost.
    assert chunks[0].text.split(". ")[-1].rstrip(".") in chunks[1].text
    joined = " ".join(c.text for c in chunks)
    assert all(f"numéro {i} " in joined for i in range(60))


def test_overlap_starts_at_a_sentence_not_inside_an_article_reference():
    """The overlap carried into the next chunk is the end of the previous one, verbatim and from a sentence start:
    « article L. 232-8 » or « art. 3 » is no sentence end (a chunk opened « 232-8, soit… »)."""
    paragraphs = [f"Le montant numéro {i} est versé chaque mois. Il est calculé selon l'article L. 232-8, soit d'absence "
                  f"de résidents classés dans les groupes 5 et 6 :\nla dotation est fixée par art. 3 du décret. La "
                  f"dotation est versée au gestionnaire numéro {i}." for i in range(8)]
    text = "Article 5\n" + "\n\n".join(paragraphs)
    chunks = split_structure(text, max_chars=600, overlap_chars=170)
    assert len(chunks) > 3
    for chunk in chunks[1:]:
        assert chunk.text.startswith(("Le montant numéro", "La dotation est versée")), chunk.text[:60]
    assert any(chunk.text.startswith("La dotation est versée") for chunk in chunks), "an overlap is carried"
    source = text.split("\n", 1)[1]
    assert all(line in source for chunk in chunks for line in chunk.text.split("\n")), "the overlap is verbatim"


def test_article_label_normalisation():
    assert article_label("Article L. 232-14 — Délai") == "L. 232-14"
    assert article_label("Art. D. 245-4") == "D. 245-4"
    assert article_label("Annexe 2-5") == "Annexe 2-5"
    assert article_label("Chapitre 2") is None


def test_node_parser_carries_metadata_and_drops_repeated_title():
    parser = FrenchStructureNodeParser(max_chars=1200, overlap_chars=100)
    nodes = parser.get_nodes(Document(text="# Guide APA\n\n## Visite\n\nLa visite est obligatoire.", metadata={"title": "Guide APA", "doc_type": "circulaire"}))
    assert len(nodes) == 1
    assert nodes[0].metadata["section_path"] == "Visite"
    assert nodes[0].metadata["doc_type"] == "circulaire"
    assert nodes[0].metadata["chunk_index"] == 0


def test_a_paragraph_running_over_a_page_break_gives_each_page_its_own_chunk_page():
    # PDF pages end mid-paragraph (no blank line before the form feed): page two's text must not be cited as page one.
    page_one = "Introduction.\n" + " ".join(f"Phrase {i} de la première page." for i in range(25))
    page_two = "Montants.\n" + " ".join(f"Phrase {i} de la deuxième page." for i in range(25))
    chunks = split_structure(page_one + "\f" + page_two, max_chars=1200, overlap_chars=150)
    assert [c.page for c in chunks] == [1, 2]
    assert "deuxième" not in chunks[0].text and "Montants." in chunks[1].text


def test_a_lost_numbered_heading_does_not_hide_its_siblings():
    """« 4.1 » misread (by OCR) or lost: « 4.2 » and « 4.3 » are still headings, one number skipped."""
    text = ("4. Le processus\nIntroduction du processus.\n4.1Dépôt mal lu du dossier\nTexte du dépôt.\n"
            "4.2 Orientation du dossier\nTexte de l'orientation.\n4.3 Évaluation\nTexte de l'évaluation.")
    assert [c.section_path for c in split_structure(text, 1200, 100)] == [
        ("4. Le processus",), ("4. Le processus", "4.2 Orientation du dossier"), ("4. Le processus", "4.3 Évaluation")]
