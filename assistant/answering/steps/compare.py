"""The comparison step (a comparison question, or ``AssistantService.compare``): the national rule, then each
territory's practice with its status against the rule (:mod:`assistant.answering.comparison`: the rules,
or the LLM in generative mode), and a summary of the gaps."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING

from assistant.answering.schema import AssistantResponse, Comparison, TerritoryPractice
from assistant.answering.steps.analyse import QuestionAnalysis
from assistant.answering.steps.answer_extractive import quote_evidence
from assistant.answering.territories import territory_label, without_territories
from assistant.components.vector_store import SearchFilter

if TYPE_CHECKING:
    from assistant.answering.components import AnswerComponents

# The national rule's passages: more bring other rules' figures into the comparison (demo comparison questions:
# status accuracy 0.847 with 4, 0.819 with 8). Each territory's practice gets the answer's usual passages.
NATIONAL_PASSAGES = 4


def compare_territories(components: AnswerComponents, question: str, analysis: QuestionAnalysis, base: SearchFilter,
                        mode: str) -> AssistantResponse:
    t0 = time.perf_counter()
    retriever, selector = components.retriever, components.selector
    query = analysis.standalone
    # The national rule is searched for the subject alone: the départements' names would pull passages that
    # name many places (a circular's reporting duties) ahead of the rule.
    subject = without_territories(query) or query
    national = retriever.run(subject, replace(base, territories=("national",), include_national=False),
                             top_k=NATIONAL_PASSAGES)
    national_evidence = selector.run(subject, national.passages)
    national_text, national_citations = (quote_evidence(national_evidence, national.passages)
                                         if national_evidence.sentences else ("", []))
    rows = []
    for code in analysis.territories:
        local = retriever.run(query, replace(base, territories=(code,), include_national=False,
                                             doc_types=("pratique_territoriale",)))
        evidence = selector.run(query, local.passages)
        if components.judge.run(evidence).sufficient:
            text, citations = quote_evidence(evidence, local.passages)
            practice = " ".join(s.text for s in evidence.sentences)
        else:
            text, citations, practice = "", [], ""
        status, note = components.comparator.run(" ".join(s.text for s in national_evidence.sentences), practice,
                                                 national_context=" ".join(p.text for p in national.passages),
                                                 use_llm=mode == "generatif")
        rows.append(TerritoryPractice(territory=code, name=territory_label(code), practice=text or "Non trouvé dans les documents de ce territoire.",
                                      citations=citations, status=status, note=note))
    contrary = [r.name for r in rows if r.status == "contraire"]
    divergent = [r.name for r in rows if r.status == "divergent"]
    summary = " ".join(
        [f"Pratique contraire à la règle nationale : {', '.join(contrary)}."] * bool(contrary)
        + [f"Pratique différente, compatible avec la règle nationale, à vérifier : {', '.join(divergent)}."] * bool(divergent)
    ) or "Aucun écart détecté entre les territoires comparés et la règle nationale."
    comparison = Comparison(question=question, national_rule=national_text or "Règle nationale non trouvée dans le corpus.",
                            national_citations=national_citations, territories=rows, summary=summary)
    answer = f"Règle nationale :\n{comparison.national_rule}\n\n" + "\n\n".join(
        f"{r.name} — {r.status.replace('_', ' ')} : {r.practice}" for r in rows) + f"\n\n{summary}"
    return AssistantResponse(question=question, standalone_question=query, mode="extractif" if mode != "generatif" else mode,
                             answer=answer, citations=national_citations, territories=analysis.territories,
                             comparison=comparison, tool_calls=[f"comparer_territoires({query!r}, {analysis.territories})"],
                             timings={"compare": time.perf_counter() - t0})
