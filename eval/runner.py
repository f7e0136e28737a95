"""One question through the real assistant and the retriever, scored."""

from __future__ import annotations

import time
import traceback
from typing import Any

from assistant.answering.schema import AssistantResponse, Citation
from assistant.components.vector_store import SearchFilter
from eval import metrics as m
from eval.dataset import EvalQuestion
from eval.index import Catalogue
from eval.judge import Judge

RETRIEVAL_KS = (1, 5, 10)


def search_filter(question: EvalQuestion, without_sources: bool = False) -> SearchFilter:
    """The caller is an agent of the question's départements: it sees their restricted documents too.
    ``without_sources``: the question's gold documents are excluded from every search (the corpus no
    longer answers it)."""
    return SearchFilter(territories=tuple(question.territories), groups=tuple(f"dep-{t}" for t in question.territories),
                        exclude_doc_ids=tuple(question.gold_doc_ids) if without_sources else ())


def without_sources(question: EvalQuestion) -> EvalQuestion:
    """The question as the corpus minus its gold documents sees it: unanswerable, no gold."""
    return question.model_copy(update={"answerable": False, "gold_sources": [], "reference_answer": None,
                                       "answer_patterns": []})


def evaluate(question: EvalQuestion, services: Any, catalogue: Catalogue, judge: Judge, mode: str, k: int,
             remove_sources: bool = False) -> dict[str, Any]:
    """``remove_sources``: ask with the gold documents excluded; the question is then scored as unanswerable."""
    flt = search_filter(question, remove_sources)
    if remove_sources:
        question = without_sources(question)
    record: dict[str, Any] = {**question.model_dump(mode="json"), "error": None, "metrics": {}, "judge": {}}
    try:
        record.update(_evaluate(question, flt, services, catalogue, judge, mode, k))
    except Exception as exc:  # one broken question must not stop the run; it is reported as an error
        record["error"] = f"{type(exc).__name__}: {exc}"
        record["traceback"] = traceback.format_exc(limit=5)
    return record


def _evaluate(question: EvalQuestion, flt: SearchFilter, services: Any, catalogue: Catalogue, judge: Judge, mode: str,
              k: int) -> dict[str, Any]:
    started = time.perf_counter()
    if question.category == "comparaison":
        response = services.assistant.compare(question.question, question.territories, groups=flt.groups, mode=mode)
    else:
        response = services.assistant.ask(question.question, history=question.history, mode=mode, search_filter=flt)
    latency = time.perf_counter() - started

    query = response.standalone_question or question.question
    started = time.perf_counter()
    passages = services.retriever.run(query, flt, top_k=k).passages
    retrieval_latency = time.perf_counter() - started

    citations = _all_citations(response)
    cited_docs = [c.doc_id for c in citations]
    cited_contexts = list(dict.fromkeys(c.text for c in citations))
    contexts = [p.text for p in passages]
    gold = question.gold_doc_ids if question.answerable else []
    pairs = [(s.doc_id, s.section) for s in question.gold_sources]
    chunks = [m.ChunkRef(p.doc_id, p.section_path, p.article) for p in passages]
    ranks = m.doc_ranks([p.doc_id for p in passages])
    reference = question.reference_answer if question.answerable else None
    reference_contexts = catalogue.reference_contexts(pairs) if gold else []

    scores: dict[str, float | None] = {}
    for cut in RETRIEVAL_KS:
        scores[f"recall@{cut}"] = m.recall_at_k(ranks, gold, cut)
    scores["hit@5"] = m.hit_at_k(ranks, gold, 5)
    scores["mrr@10"] = m.mrr_at_k(ranks, gold, 10)
    scores["ndcg@10"] = m.ndcg_at_k(ranks, gold, 10)
    scores["section_hit@10"] = m.section_hit(chunks, pairs, 10) if gold else None
    scores["citation_precision"] = m.citation_precision(cited_docs, gold)
    scores["citation_recall"] = m.citation_recall(cited_docs, gold)
    scores["gold_cited"] = float(bool(set(gold) & set(cited_docs))) if gold else None
    scores["short_answer_correct"] = (float(not response.abstained and m.states_answer(response.answer, question.answer_patterns))
                                      if question.answer_patterns else None)
    scores["support_rate"] = m.support_rate(response.verification.checked, response.verification.supported)
    scores["comparison_status_accuracy"] = m.status_accuracy(
        question.expected_status, {row.territory: row.status for row in response.comparison.territories}
        if response.comparison else {})
    scores["rougeL"] = m.rouge_l(reference, response.answer) if reference else None
    scores["chrf"] = m.chrf(reference, response.answer) if reference else None
    scores["ragas_context_recall"] = m.nonllm_context_recall(contexts, reference_contexts)
    scores["ragas_context_precision"] = m.nonllm_context_precision(contexts, reference_contexts)

    judged = (judge.score(query, response.answer, contexts, cited_contexts, reference, response.abstained)
              if question.answerable else {})
    return {
        "response": _response_record(response, citations),
        "retrieval": {"query": query, "latency_s": retrieval_latency,
                      "passages": [{"doc_id": p.doc_id, "section_path": p.section_path, "article": p.article,
                                    "score": p.score, "text": p.text} for p in passages]},
        "cited_contexts": cited_contexts,
        "reference_contexts": len(reference_contexts),
        "latency_s": latency,
        "metrics": scores,
        "judge": {name: score.to_dict() for name, score in judged.items()},
    }


def _all_citations(response: AssistantResponse) -> list[Citation]:
    citations = list(response.citations)
    if response.comparison:
        citations += [c for row in response.comparison.territories for c in row.citations]
    return citations


def _response_record(response: AssistantResponse, citations: list[Citation]) -> dict[str, Any]:
    return {
        "mode": response.mode,
        "answer": response.answer,
        "abstained": response.abstained,
        "abstention_reason": response.abstention_reason,
        "answerability": response.answerability,
        "confidence": response.confidence,
        "standalone_question": response.standalone_question,
        "citations": [{"marker": c.marker, "doc_id": c.doc_id, "title": c.title, "section_path": c.section_path,
                       "article": c.article, "page": c.page} for c in citations],
        "verification": {"checked": response.verification.checked, "supported": response.verification.supported},
        "comparison": ({row.territory: row.status for row in response.comparison.territories}
                       if response.comparison else None),
        "timings": response.timings,
        "tokens": response.tokens,
        "warnings": response.warnings,
    }
