"""Step 4, extractive answer: the evidence sentences quoted verbatim, each with the marker of its passage."""

from __future__ import annotations

from assistant.answering.extractive import Evidence
from assistant.answering.schema import Citation
from assistant.retrieval.retriever import Passage


def quote_evidence(evidence: Evidence, passages: list[Passage]) -> tuple[str, list[Citation]]:
    """The answer quoting the sentences, and one citation per passage quoted (its quotes joined by « […] »).
    The passage that carries the most probable sentence first, then the others; each passage's sentences in
    their reading order."""
    markers: dict[int, int] = {}
    citations: list[Citation] = []
    lines = []
    best = {}
    for sentence in evidence.sentences:
        best[sentence.passage_index] = max(best.get(sentence.passage_index, 0.0), sentence.score)
    ordered = sorted(evidence.sentences, key=lambda s: (-best[s.passage_index], s.passage_index, s.position))
    for sentence in ordered:
        if sentence.passage_index not in markers:
            markers[sentence.passage_index] = len(markers) + 1
            citations.append(Citation.of(markers[sentence.passage_index], passages[sentence.passage_index], quote=sentence.text))
        marker = markers[sentence.passage_index]
        lines.append(f"« {sentence.text} » [{marker}]")
    for citation in citations:
        quotes = [s.text for s in ordered if markers[s.passage_index] == citation.marker]
        citation.quote = " […] ".join(quotes)
    return "D'après les documents du corpus :\n" + "\n".join(f"- {line}" for line in lines), citations
