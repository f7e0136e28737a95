"""Chapter descriptions for the articles of a legal code (indexing/code_context.py): parsed from article
numbers, described by the phrases that set a chapter apart, embedded and indexed but never quoted."""

from __future__ import annotations

import json

import pytest

from indexing.code_context import MIN_ARTICLES, chapter_contexts, chapter_of
from indexing.parsers import parse_file

CHAPTERS = {
    "232": ["L'allocation personnalisée d'autonomie est versée au bénéficiaire selon son plan d'aide.",
            "Le montant de l'allocation personnalisée d'autonomie tient compte du plan d'aide.",
            "Le département organise le contrôle d'effectivité de l'aide."],
    "245": ["La prestation de compensation du handicap couvre les aides humaines.",
            "La prestation de compensation du handicap est attribuée par la commission.",
            "Les aides techniques sont prises en charge dans la limite d'un tarif."],
    "313": ["L'autorisation de l'établissement est délivrée après appel à projets.",
            "La commission de sélection des appels à projets rend un avis.",
            "L'autorisation est accordée pour quinze ans."],
}


def code_articles(per_chapter: int = 12) -> list[dict]:
    return [{"id": f"CODE:R{chapter}-{n}", "title": f"Article R{chapter}-{n}", "text": texts[(n - 1) % len(texts)]}
            for chapter, texts in CHAPTERS.items() for n in range(1, per_chapter + 1)]


@pytest.mark.parametrize("title, chapter", [
    ("Article R232-1", "232"), ("Article L. 14-10-5", "14"), ("Article D*245-3", "245"), ("L313-1", "313"),
    ("Article premier", None), ("Annexe 2-5", None), ("Guide de l'APA", None),
])
def test_chapter_of_reads_the_number_before_the_first_dash(title, chapter):
    assert chapter_of(title) == chapter


def test_a_chapter_is_described_by_the_phrases_that_set_it_apart():
    articles = code_articles()
    contexts = chapter_contexts([a["title"] for a in articles], [a["text"] for a in articles])
    by_id = dict(zip((a["id"] for a in articles), contexts))
    # R232-3 never names the allowance; its chapter does.
    assert articles[2]["id"] == "CODE:R232-3" and "allocation" not in articles[2]["text"]
    assert by_id["CODE:R232-3"].startswith("Chapitre 232 : ") and "allocation personnalisée" in by_id["CODE:R232-3"]
    assert "prestation compensation handicap" in by_id["CODE:R245-1"] and "allocation" not in by_id["CODE:R245-1"]
    assert "appel" in by_id["CODE:R313-7"] or "commission de sélection" in by_id["CODE:R313-7"]


def test_no_context_for_what_is_not_a_code():
    few = code_articles(per_chapter=2)
    assert len(few) < MIN_ARTICLES
    assert chapter_contexts([a["title"] for a in few], [a["text"] for a in few]) == [""] * len(few)
    fiches = [{"title": f"Fiche {n}", "text": "L'allocation personnalisée d'autonomie."} for n in range(40)]
    assert set(chapter_contexts([f["title"] for f in fiches], [f["text"] for f in fiches])) == {""}


def test_jsonl_records_of_a_code_carry_their_chapter_context(tmp_path):
    path = tmp_path / "code.jsonl"
    path.write_text("\n".join(json.dumps(a, ensure_ascii=False) for a in code_articles()), encoding="utf-8")
    documents = {d.id_: d for d in parse_file(path, 10_000_000).documents}
    assert "allocation personnalisée" in documents["CODE:R232-3"].metadata["context"]
    assert "allocation" not in documents["CODE:R232-3"].text  # the quoted text is the article's own


def test_the_casf_chapter_of_the_apa_is_named(shared_data):
    rows = [json.loads(line) for line in (shared_data / "casf" / "articles.jsonl").read_text(encoding="utf-8").splitlines()]
    contexts = dict(zip((r["id"] for r in rows), chapter_contexts([r["title"] for r in rows], [r["text"] for r in rows])))
    assert "allocation personnalisée autonomie" in contexts["CASF:R232-17"]
    assert "revenu solidarité active" in contexts["CASF:L262-1"]


def test_the_chapter_context_is_searched_but_never_quoted(tmp_path, embedder):
    """Ingested into a real embedded Qdrant: the chapter description is in the indexed text (BM25 finds
    R232-3, whose own words never name the allowance, for the allowance's name) and in the payload's
    ``context``, never in the quoted ``text``."""
    from assistant.components.vector_store import SearchFilter
    from assistant.services import Services
    from tests.conftest import make_settings

    corpus = tmp_path / "code"
    corpus.mkdir()
    (corpus / "code.jsonl").write_text("\n".join(json.dumps(a, ensure_ascii=False) for a in code_articles()), encoding="utf-8")
    services = Services(make_settings(tmp_path))
    services.__dict__["embedder"] = embedder
    try:
        assert not services.ingestion_pipeline().run([corpus]).failed
        # Sparse search only returns passages holding a query term: R232-3's own words have none of these two.
        found = services.retriever.run("allocation personnalisée", SearchFilter(), top_k=40, mode="sparse").passages
        article = next(p for p in found if p.doc_id == "CODE:R232-3")
        assert "allocation personnalisée" in article.context and "allocation" not in article.text
        assert not any(p.doc_id.startswith(("CODE:R245", "CODE:R313")) for p in found)
    finally:
        services.close()
