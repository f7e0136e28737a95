"""The assistant: condense → analyse → retrieve (tools) → judge evidence → answer → verify citations.

Two answer modes: ``generatif`` (the LLM writes, every sentence is then checked against its cited
passages) and ``extractif`` (no LLM: the most relevant sentences quoted verbatim). ``auto`` uses the
LLM when its endpoint answers, else extracts, and the response says which mode answered.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from assistant.answering import prompts
from assistant.answering.analysis import QuestionAnalysis, analyse
from assistant.answering.comparison import compare_practice, territory_label
from assistant.answering.extractive import Evidence, SentenceSelector
from assistant.answering.pii import KIND_LABELS, mask_personal_data
from assistant.answering.schema import AssistantResponse, Citation, Comparison, TerritoryPractice, Turn
from assistant.answering.territories import normalise_code
from assistant.answering.term_stats import TermStatistics
from assistant.answering.verification import CitationVerifier
from assistant.components.vector_store import SearchFilter
from assistant.retrieval.retriever import Passage, RetrievalResult
from assistant.settings import AnswerSettings, LLMSettings

NATIONAL_TYPES = ("circulaire", "loi_reglement", "fiche", "guide_geva")


class AssistantService:
    def __init__(self, settings: AnswerSettings, llm_settings: LLMSettings, retriever: Any, embedder: Any,
                 llm: Any = None):
        self.settings = settings
        self.llm_settings = llm_settings
        self.retriever = retriever
        self.llm = llm
        self.term_stats = TermStatistics(retriever.store)
        self.selector = SentenceSelector(embedder, max_sentences=settings.max_sentences, idf=self.term_stats.idf)
        self.verifier = CitationVerifier(settings.min_support)

    # --- public API ---------------------------------------------------------------------------
    def ask(self, question: str, *, history: list[Turn] | None = None, mode: str | None = None,
            search_filter: SearchFilter | None = None) -> AssistantResponse:
        response: AssistantResponse | None = None
        for item in self.stream(question, history=history, mode=mode, search_filter=search_filter):
            if isinstance(item, AssistantResponse):
                response = item
        assert response is not None
        return response

    def stream(self, question: str, *, history: list[Turn] | None = None, mode: str | None = None,
               search_filter: SearchFilter | None = None) -> Iterator[str | AssistantResponse]:
        """Text deltas of the answer, then the final response object."""
        timings: dict[str, float] = {}
        started = time.perf_counter()
        history = history or []
        masked = mask_personal_data(self.retriever.validate(question))
        base_filter = search_filter or SearchFilter()
        answer_mode, warnings = self._choose_mode(mode)
        t0 = time.perf_counter()
        analysis = analyse(masked.text, history, list(base_filter.territories) or None)
        if answer_mode == "generatif" and history and analysis.standalone != masked.text:
            analysis.standalone = self._safe(lambda: self.llm.condense(masked.text, history), analysis.standalone, warnings)
        timings["analyse"] = time.perf_counter() - t0
        if analysis.compare and len(analysis.territories) >= 2:
            response = self._comparison_response(masked.text, analysis, base_filter, answer_mode)
        else:
            response = yield from self._answer(masked.text, analysis, base_filter, answer_mode, warnings, timings)
        response.pii_masked = [KIND_LABELS[k] for k in masked.kinds]
        if masked.changed:
            response.warnings.insert(0, "Données personnelles masquées avant traitement : " + ", ".join(response.pii_masked) + ".")
        response.timings["total"] = time.perf_counter() - started
        yield response

    def compare(self, question: str, territories: list[str], *, groups: tuple[str, ...] = ()) -> AssistantResponse:
        started = time.perf_counter()
        masked = mask_personal_data(self.retriever.validate(question))
        codes = [c for c in (normalise_code(t) for t in territories) if c]
        if not codes:
            raise ValueError("Indiquez au moins un département (code, ex. 59).")
        analysis = analyse(masked.text, [], codes)
        response = self._comparison_response(masked.text, analysis, SearchFilter(groups=groups), "extractif")
        response.pii_masked = [KIND_LABELS[k] for k in masked.kinds]
        response.timings["total"] = time.perf_counter() - started
        return response

    def health(self) -> dict[str, Any]:
        llm_available = bool(self.llm) and self.llm.is_available()
        return {"llm": {"configured": bool(self.llm and self.llm.base_url), "available": llm_available,
                        "base_url": self.llm.base_url if self.llm else None,
                        "model": self.llm.model if self.llm else None}}

    # --- steps --------------------------------------------------------------------------------
    def _choose_mode(self, requested: str | None) -> tuple[str, list[str]]:
        mode = requested or self.llm_settings.mode
        if mode == "extractif":
            return "extractif", []
        available = bool(self.llm) and self.llm.is_available()
        if available:
            return "generatif", []
        note = "Serveur LLM indisponible : réponse en mode extractif (citations exactes des documents)."
        return "extractif", [note] if mode == "generatif" or self.llm_settings.base_url else []

    def _retrieve(self, analysis: QuestionAnalysis, base: SearchFilter, mode: str,
                  warnings: list[str], tool_calls: list[str]) -> tuple[list[Passage], RetrievalResult]:
        query = analysis.standalone
        if mode == "generatif" and self.llm_settings.supports_tools:
            run = self._safe(lambda: self.llm.run_tools(query, lambda name, args: self._execute_tool(name, args, base)), None, warnings)
            if run and run.passages:
                tool_calls.extend(run.calls)
                primary = self.retriever.run(query, base)
                return _merge([run.passages, primary.passages], self.settings.max_passages), primary
        # Deterministic plan: the national rule, plus the territories' practice and the GEVA when relevant.
        national_filter = _replace(base, territories=("national",), include_national=False) if not base.territories else base
        primary = self.retriever.run(query, national_filter if not analysis.territories else _replace(base, territories=tuple(analysis.territories)))
        tool_calls.append(f"rechercher_textes_nationaux({query!r})" if not analysis.territories
                          else f"rechercher_pratiques({query!r}, {analysis.territories})")
        lists = [primary.passages]
        if analysis.search_geva:
            geva = self.retriever.run(query, _replace(base, doc_types=("guide_geva",)), top_k=4)
            tool_calls.append(f"rechercher_geva({query!r})")
            lists.append(geva.passages)
        if analysis.territories:
            national = self.retriever.run(query, _replace(base, territories=("national",), include_national=False), top_k=3)
            lists.append(national.passages)
        return _merge(lists, self.settings.max_passages), primary

    def _execute_tool(self, name: str, args: dict, base: SearchFilter) -> list[Passage]:
        query = str(args.get("requete") or args.get("question") or "")
        if not query.strip():
            return []
        territories = tuple(c for c in (normalise_code(str(t)) for t in args.get("territoires") or []) if c)
        match name:
            case "rechercher_textes_nationaux":
                return self.retriever.run(query, _replace(base, territories=("national",), include_national=False)).passages
            case "rechercher_geva":
                return self.retriever.run(query, _replace(base, doc_types=("guide_geva",))).passages
            case "rechercher_pratiques" | "comparer_territoires":
                return self.retriever.run(query, _replace(base, territories=territories or base.territories,
                                                          doc_types=("pratique_territoriale",))).passages
        return []

    def _answer(self, question: str, analysis: QuestionAnalysis, base: SearchFilter, mode: str,
                warnings: list[str], timings: dict[str, float]):
        tool_calls: list[str] = []
        t0 = time.perf_counter()
        passages, primary = self._retrieve(analysis, base, mode, warnings, tool_calls)
        timings["retrieve"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        evidence = self.selector.run(analysis.standalone, " ".join(primary.expansion.added), passages)
        timings["select"] = time.perf_counter() - t0
        response = AssistantResponse(
            question=question, standalone_question=analysis.standalone, mode=mode, answer="",
            glossary_added=list(primary.expansion.added), territories=analysis.territories,
            tool_calls=tool_calls, timings=timings, warnings=warnings,
        )
        # pydantic copied these: keep recording into the response's own
        timings, warnings = response.timings, response.warnings
        if not self._sufficient(evidence):
            self._abstain(response, passages, "Les documents trouvés ne traitent pas suffisamment de cette question.")
            return response
        tokens_in = tokens_out = 0
        if mode == "generatif":
            t0 = time.perf_counter()
            context = passages[: self.settings.max_passages]
            try:
                parts = []
                for delta in self.llm.stream_answer(analysis.standalone, context):
                    parts.append(delta)
                    yield delta
                draft = "".join(parts).strip()
            except Exception as exc:  # LLM died mid-answer: fall back, say so
                warnings.append(f"Le serveur LLM a échoué ({exc}) : réponse en mode extractif.")
                response.mode = mode = "extractif"
            timings["generate"] = time.perf_counter() - t0
        if mode == "generatif":
            citations = [_citation(i, p) for i, p in enumerate(context, start=1)]
            t0 = time.perf_counter()
            if prompts.NO_ANSWER.rstrip(".") in draft:
                self._abstain(response, passages, "Le modèle a jugé que les extraits ne permettent pas de répondre.")
                return response
            answer, verification = self.verifier.run(draft, citations)
            timings["verify"] = time.perf_counter() - t0
            used = sorted({m for s in verification.sentences if s.supported for m in s.markers})
            response.citations = [c for c in citations if c.marker in used]
            response.verification = verification
            response.tokens = {"in": tokens_in, "out": tokens_out}
            if not answer.strip() or not response.citations:
                self._abstain(response, passages, "Aucune phrase de la réponse générée n'était étayée par les sources citées.")
                return response
            response.answer = answer
            if verification.removed:
                response.warnings.append(f"{len(verification.removed)} phrase(s) non étayée(s) retirée(s) de la réponse.")
            return response
        answer, citations = self._extractive(evidence, passages)
        t0 = time.perf_counter()
        response.answer, response.verification = self.verifier.run(answer, citations)
        timings["verify"] = time.perf_counter() - t0
        response.citations = citations
        yield response.answer
        return response

    def _extractive(self, evidence: Evidence, passages: list[Passage]) -> tuple[str, list[Citation]]:
        markers: dict[int, int] = {}
        citations: list[Citation] = []
        lines = []
        ordered = sorted(evidence.sentences, key=lambda s: (s.passage_index, passages[s.passage_index].text.find(s.text.split("\n")[0])))
        for sentence in ordered:
            if sentence.passage_index not in markers:
                markers[sentence.passage_index] = len(markers) + 1
                citations.append(_citation(markers[sentence.passage_index], passages[sentence.passage_index], quote=sentence.text))
            marker = markers[sentence.passage_index]
            lines.append(f"« {sentence.text} » [{marker}]")
        for citation in citations:
            quotes = [s.text for s in ordered if markers[s.passage_index] == citation.marker]
            citation.quote = " […] ".join(quotes)
        return "D'après les documents du corpus :\n" + "\n".join(f"- {line}" for line in lines), citations

    def _sufficient(self, evidence: Evidence) -> bool:
        return bool(evidence.sentences) and (
            evidence.similarity >= self.settings.min_similarity and evidence.coverage >= self.settings.min_coverage
        )

    def _abstain(self, response: AssistantResponse, passages: list[Passage], reason: str) -> None:
        response.abstained = True
        response.abstention_reason = reason
        nearest = "\n".join(f"- {p.location()}" for p in passages[:3])
        response.answer = (
            f"{prompts.NO_ANSWER} {reason}"
            + (f"\nDocuments les plus proches consultés :\n{nearest}" if nearest else "")
            + "\nReformulez la question, précisez le territoire ou le dispositif, ou consultez le service compétent."
        )
        response.citations = []

    def _comparison_response(self, question: str, analysis: QuestionAnalysis, base: SearchFilter, mode: str) -> AssistantResponse:
        t0 = time.perf_counter()
        query = analysis.standalone
        national = self.retriever.run(query, _replace(base, territories=("national",), include_national=False), top_k=4)
        national_evidence = self.selector.run(query, "", national.passages)
        national_text, national_citations = (self._extractive(national_evidence, national.passages)
                                             if national_evidence.sentences else ("", []))
        rows = []
        for code in analysis.territories:
            local = self.retriever.run(query, _replace(base, territories=(code,), include_national=False,
                                                       doc_types=("pratique_territoriale",)), top_k=4)
            evidence = self.selector.run(query, "", local.passages)
            if evidence.sentences and evidence.similarity >= self.settings.min_similarity:
                text, citations = self._extractive(evidence, local.passages)
                practice = " ".join(s.text for s in evidence.sentences)
            else:
                text, citations, practice = "", [], ""
            status, note = compare_practice(" ".join(s.text for s in national_evidence.sentences), practice)
            rows.append(TerritoryPractice(territory=code, name=territory_label(code), practice=text or "Non trouvé dans les documents de ce territoire.",
                                          citations=citations, status=status, note=note))
        divergent = [r.name for r in rows if r.status in ("divergent", "contraire")]
        summary = (f"Écarts à vérifier pour : {', '.join(divergent)}." if divergent
                   else "Aucun écart chiffré détecté entre les territoires comparés et la règle nationale.")
        comparison = Comparison(question=question, national_rule=national_text or "Règle nationale non trouvée dans le corpus.",
                                national_citations=national_citations, territories=rows, summary=summary)
        answer = f"Règle nationale :\n{comparison.national_rule}\n\n" + "\n\n".join(
            f"{r.name} — {r.status.replace('_', ' ')} : {r.practice}" for r in rows) + f"\n\n{summary}"
        return AssistantResponse(question=question, standalone_question=query, mode="extractif" if mode != "generatif" else mode,
                                 answer=answer, citations=national_citations, territories=analysis.territories,
                                 comparison=comparison, tool_calls=[f"comparer_territoires({query!r}, {analysis.territories})"],
                                 timings={"compare": time.perf_counter() - t0})

    @staticmethod
    def _safe(fn, default, warnings: list[str]):
        from assistant.components.llm import LLMError

        try:
            return fn()
        except LLMError as exc:
            warnings.append(str(exc))
            return default


def _replace(base: SearchFilter, **changes) -> SearchFilter:
    from dataclasses import replace

    return replace(base, **changes)


def _merge(lists: list[list[Passage]], limit: int) -> list[Passage]:
    """Interleave ranked lists without duplicates (first list first)."""
    seen: set[str] = set()
    merged: list[Passage] = []
    for rank in range(max((len(x) for x in lists), default=0)):
        for ranked in lists:
            if rank < len(ranked) and ranked[rank].point_id not in seen:
                seen.add(ranked[rank].point_id)
                merged.append(ranked[rank])
    return merged[:limit]


def _citation(marker: int, p: Passage, quote: str | None = None) -> Citation:
    return Citation(marker=marker, doc_id=p.doc_id, title=p.title, doc_type=p.doc_type, territory=p.territory,
                    section_path=p.section_path, article=p.article, page=p.page, passage=p.text, quote=quote,
                    source_file=p.source_file, date=p.date, score=p.score)
