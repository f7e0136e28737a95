"""The extractive answer: the passage of the most probable sentence first, each passage's sentences in their
reading order, one citation per passage with its quotes."""

from assistant.answering.extractive import Evidence, SelectedSentence
from assistant.answering.steps.answer_extractive import quote_evidence
from assistant.retrieval.retriever import Passage


def passage(i: int, text: str) -> Passage:
    return Passage(point_id=f"p{i}", doc_id=f"d{i}", title=f"Fiche {i}", doc_type="fiche", territory="national", score=1.0,
                   text=text)


def test_sentences_are_quoted_by_passage_best_first_in_reading_order():
    passages = [passage(0, "Première. Deuxième."), passage(1, "Décisive.")]
    evidence = Evidence(0.9, [SelectedSentence(0, "Deuxième.", 0.5, 0.5, position=1),
                              SelectedSentence(1, "Décisive.", 0.8, 0.8, position=0),
                              SelectedSentence(0, "Première.", 0.4, 0.4, position=0)])
    text, citations = quote_evidence(evidence, passages)
    assert text.splitlines() == ["D'après les documents du corpus :", "- « Décisive. » [1]",
                                 "- « Première. » [2]", "- « Deuxième. » [2]"]
    assert [(c.marker, c.doc_id, c.quote) for c in citations] == [(1, "d1", "Décisive."), (2, "d0", "Première. […] Deuxième.")]
