"""The answer flow as a llama-index Workflow: one step per stage, typed events between them.

::

    AnswerStart(question, history, mode, search_filter)
      │ analyse    mask personal data, choose the mode, analyse the question (the LLM condenses a follow-up)
      ├──► ComparisonRequested ── compare ───────────────────────────────────────────► ResponseReady
      ▼
    QuestionAnalysed
      │ retrieve   deterministic search plan, or the LLM's tool calls
      ▼
    PassagesRetrieved
      │ select     the evidence sentences; too weak ────────────────────────────────► ResponseReady (abstention)
      ▼
    EvidenceGathered
      │ draft      generatif: the LLM's answer, streamed; extractif (or the LLM failed): the quoted sentences
      ▼
    DraftReady
      │ verify     each sentence against its cited passages; the model said it cannot answer ► abstention;
      │            no generated sentence supported ► the extractive answer instead (mode extractif)
      ▼
    ResponseReady ── finish (personal data note, total time) ──► StopEvent(result=AssistantResponse)

Two answer modes: ``generatif`` (the LLM writes, every sentence is then checked against its cited passages)
and ``extractif`` (no LLM: the most relevant sentences quoted verbatim). ``auto`` uses the LLM when its
endpoint answers, else extracts, and the response says which mode answered.

The answer text is streamed with ``ctx.write_event_to_stream(AnswerDelta(...))``: the LLM's deltas as they
arrive, the extractive answer once verified. Steps are async and run their blocking work (LLM HTTP calls,
embedding, Qdrant) in threads, so the loop stays free to stream. :class:`AnswerStages` holds what each stage
does (shared by every run and by ``AssistantService.compare``); :func:`stream_sync` runs a workflow from
synchronous code. The classes come from ``llama-index-workflows``, which ``llama_index.core.workflow``
re-exports (imported directly: ``llama_index.core`` costs seconds of start-up).
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from workflows import Context, Workflow, step
from workflows.events import Event, StartEvent, StopEvent

from assistant.answering import prompts
from assistant.answering.analysis import QuestionAnalysis, analyse
from assistant.answering.comparison import PracticeComparator
from assistant.answering.extractive import Evidence, EvidenceJudge, SentenceSelector
from assistant.answering.generative import GenerativeSteps
from assistant.answering.pii import KIND_LABELS, MaskedText, mask_personal_data
from assistant.answering.relevance import JUDGE_FILE, RelevanceJudge
from assistant.answering.schema import AssistantResponse, Citation, Comparison, TerritoryPractice, Turn
from assistant.answering.term_stats import TermStatistics
from assistant.answering.territories import normalise_code, territory_label
from assistant.answering.verification import CitationVerifier
from assistant.components.vector_store import SearchFilter
from assistant.text.injection import WARNING as INJECTION_WARNING, is_instruction
from assistant.retrieval.retriever import Passage, RetrievalResult
from assistant.settings import AnswerSettings, LLMSettings

UNVERIFIED_DRAFT = "La réponse générée n'a pu être vérifiée contre les sources : réponse extractive (citations exactes)."
PARTIAL_EVIDENCE = ("Les extraits trouvés ne répondent peut-être qu'en partie à la question : "
                    "vérifiez les passages cités avant de vous appuyer sur cette réponse.")


# --- events ------------------------------------------------------------------------------------
class AnswerStart(StartEvent):
    question: str
    history: list[Turn] = []
    mode: str | None = None
    search_filter: SearchFilter | None = None


class AnswerDelta(Event):
    """A piece of the answer text, streamed to the caller."""

    delta: str


class ComparisonRequested(Event):
    question: str
    analysis: QuestionAnalysis
    search_filter: SearchFilter
    mode: str


class QuestionAnalysed(Event):
    response: AssistantResponse  # built along the flow: steps record into it
    analysis: QuestionAnalysis
    search_filter: SearchFilter


class PassagesRetrieved(Event):
    response: AssistantResponse
    passages: list[Passage]


class EvidenceGathered(Event):
    """Evidence judged sufficient: only then is an answer drafted."""

    response: AssistantResponse
    passages: list[Passage]
    evidence: Evidence


class DraftReady(Event):
    response: AssistantResponse
    passages: list[Passage]
    evidence: Evidence
    text: str
    citations: list[Citation]
    generated: bool  # written by the LLM (else quoted sentences)
    streamed: bool  # some text already went to the caller


class ResponseReady(Event):
    response: AssistantResponse


# --- what each stage does ----------------------------------------------------------------------
class AnswerStages:
    """The stages' logic, shared by every run of :class:`AnswerWorkflow`; the workflow decides the order."""

    def __init__(self, settings: AnswerSettings, llm_settings: LLMSettings, retriever: Any, embedder: Any,
                 generative: GenerativeSteps | None = None):
        self.settings = settings
        self.llm_settings = llm_settings
        self.retriever = retriever
        self.generative = generative
        self.term_stats = TermStatistics(retriever.store)
        relevance = RelevanceJudge.load(settings.judge_model or JUDGE_FILE)
        self.selector = SentenceSelector(embedder, relevance, glossary=getattr(retriever, "glossary", None),
                                         max_sentences=settings.max_sentences, idf_weights=self.term_stats.idf_weights)
        answer_threshold = relevance.answer_threshold if settings.min_answerability is None else settings.min_answerability
        caution = relevance.caution_threshold if settings.caution_below is None else settings.caution_below
        self.judge = EvidenceJudge(answer_threshold, max(caution, answer_threshold))
        self.verifier = CitationVerifier(settings.min_support)
        self.comparator = PracticeComparator(generative.llm if generative else None)

    def mask(self, question: str) -> MaskedText:
        return mask_personal_data(self.retriever.validate(question))

    def choose_mode(self, requested: str | None) -> tuple[str, list[str]]:
        mode = requested or self.llm_settings.mode
        if mode == "extractif":
            return "extractif", []
        available = bool(self.generative) and self.generative.is_available()
        if available:
            return "generatif", []
        note = "Serveur LLM indisponible : réponse en mode extractif (citations exactes des documents)."
        return "extractif", [note] if mode == "generatif" or self.llm_settings.base_url else []

    def analyse_question(self, question: str, history: list[Turn], base: SearchFilter, mode: str,
                         warnings: list[str]) -> QuestionAnalysis:
        analysis = analyse(question, history, list(base.territories) or None)
        if mode == "generatif" and history and analysis.standalone != question:
            analysis.standalone = _safe(lambda: self.generative.condense(question, history), analysis.standalone, warnings)
        if uncovered := [code for code in analysis.territories if code not in self.term_stats.territories()]:
            names = ", ".join(f"{territory_label(code)}" for code in uncovered)
            warnings.append(f"Le corpus ne contient aucun document propre à : {names}. "
                            "La réponse ne peut s'appuyer que sur les textes nationaux et les autres territoires.")
        return analysis

    def retrieve(self, analysis: QuestionAnalysis, base: SearchFilter, mode: str,
                 warnings: list[str], tool_calls: list[str]) -> tuple[list[Passage], RetrievalResult]:
        query = analysis.standalone
        if mode == "generatif" and self.llm_settings.supports_tools:
            run = _safe(lambda: self.generative.run_tools(query, lambda name, args: self.execute_tool(name, args, base)), None, warnings)
            if run and run.passages:
                tool_calls.extend(run.calls)
                primary = self.retriever.run(query, base)
                return _merge([run.passages, primary.passages], self.settings.max_passages), primary
        return planned_search(self.retriever, analysis, base, self.settings.max_passages, tool_calls)

    def execute_tool(self, name: str, args: dict, base: SearchFilter) -> list[Passage]:
        query = str(args.get("requete") or args.get("question") or "")
        if not query.strip():
            return []
        territories = tuple(c for c in (normalise_code(str(t)) for t in args.get("territoires") or []) if c)
        match name:
            case "rechercher_textes_nationaux":
                return self.retriever.run(query, replace(base, territories=("national",), include_national=False)).passages
            case "rechercher_geva":
                return self.retriever.run(query, replace(base, doc_types=("guide_geva",))).passages
            case "rechercher_pratiques" | "comparer_territoires":
                return self.retriever.run(query, replace(base, territories=territories or base.territories,
                                                         doc_types=("pratique_territoriale",))).passages
        return []

    def extractive(self, evidence: Evidence, passages: list[Passage]) -> tuple[str, list[Citation]]:
        markers: dict[int, int] = {}
        citations: list[Citation] = []
        lines = []
        # The passage that carries the most probable sentence first, then the others; each passage's
        # sentences in their reading order.
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

    @staticmethod
    def abstain(response: AssistantResponse, passages: list[Passage], reason: str) -> AssistantResponse:
        response.abstained = True
        response.abstention_reason = reason
        nearest = "\n".join(f"- {p.location()}" for p in passages[:3])
        response.answer = (
            f"{prompts.NO_ANSWER} {reason}"
            + (f"\nDocuments les plus proches consultés :\n{nearest}" if nearest else "")
            + "\nReformulez la question, précisez le territoire ou le dispositif, ou consultez le service compétent."
        )
        response.citations = []
        return response

    def comparison(self, question: str, analysis: QuestionAnalysis, base: SearchFilter, mode: str) -> AssistantResponse:
        t0 = time.perf_counter()
        query = analysis.standalone
        national = self.retriever.run(query, replace(base, territories=("national",), include_national=False), top_k=4)
        national_evidence = self.selector.run(query, national.passages)
        national_text, national_citations = (self.extractive(national_evidence, national.passages)
                                             if national_evidence.sentences else ("", []))
        rows = []
        for code in analysis.territories:
            local = self.retriever.run(query, replace(base, territories=(code,), include_national=False,
                                                      doc_types=("pratique_territoriale",)), top_k=4)
            evidence = self.selector.run(query, local.passages)
            if self.judge.run(evidence).sufficient:
                text, citations = self.extractive(evidence, local.passages)
                practice = " ".join(s.text for s in evidence.sentences)
            else:
                text, citations, practice = "", [], ""
            status, note = self.comparator.run(" ".join(s.text for s in national_evidence.sentences), practice,
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


# --- the workflow ------------------------------------------------------------------------------
class AnswerWorkflow(Workflow):
    """One question, from its masking to the verified answer. Cheap to build: one instance per run.

    ``await AnswerWorkflow(stages).run(question=..., history=[...], mode=..., search_filter=...)`` returns the
    :class:`AssistantResponse`; ``handler.stream_events()`` also gives the :class:`AnswerDelta` events.
    """

    def __init__(self, stages: AnswerStages, **kwargs: Any):
        kwargs.setdefault("timeout", None)  # the LLM client has its own timeouts
        super().__init__(**kwargs)
        self.stages = stages

    @step
    async def analyse(self, ctx: Context, ev: AnswerStart) -> QuestionAnalysed | ComparisonRequested:
        await ctx.store.set("started", time.perf_counter())
        stages = self.stages
        masked = stages.mask(ev.question)
        await ctx.store.set("masked", masked)
        base = ev.search_filter or SearchFilter()
        mode, warnings = await asyncio.to_thread(stages.choose_mode, ev.mode)
        t0 = time.perf_counter()
        analysis = await asyncio.to_thread(stages.analyse_question, masked.text, ev.history, base, mode, warnings)
        analysed_s = time.perf_counter() - t0
        if analysis.compare and len(analysis.territories) >= 2:
            return ComparisonRequested(question=masked.text, analysis=analysis, search_filter=base, mode=mode)
        response = AssistantResponse(question=masked.text, standalone_question=analysis.standalone, mode=mode, answer="",
                                     territories=analysis.territories, warnings=warnings, timings={"analyse": analysed_s})
        return QuestionAnalysed(response=response, analysis=analysis, search_filter=base)

    @step
    async def compare(self, ev: ComparisonRequested) -> ResponseReady:
        response = await asyncio.to_thread(self.stages.comparison, ev.question, ev.analysis, ev.search_filter, ev.mode)
        return ResponseReady(response=response)

    @step
    async def retrieve(self, ev: QuestionAnalysed) -> PassagesRetrieved:
        response = ev.response
        t0 = time.perf_counter()
        passages, primary = await asyncio.to_thread(self.stages.retrieve, ev.analysis, ev.search_filter, response.mode,
                                                    response.warnings, response.tool_calls)
        response.timings["retrieve"] = time.perf_counter() - t0
        response.glossary_added = list(primary.expansion.added)
        return PassagesRetrieved(response=response, passages=passages)

    @step
    async def select(self, ev: PassagesRetrieved) -> EvidenceGathered | ResponseReady:
        response = ev.response
        t0 = time.perf_counter()
        evidence = await asyncio.to_thread(self.stages.selector.run, response.standalone_question, ev.passages)
        response.timings["select"] = time.perf_counter() - t0
        if any(p.suspected_instructions or is_instruction(f"{p.section_path}\n{p.text}") for p in ev.passages):
            response.warnings.append(INJECTION_WARNING)  # those sentences were skipped: never quoted
        verdict = self.stages.judge.run(evidence)
        response.answerability = verdict.strength
        response.confidence = "faible" if not verdict.sufficient else "moyenne" if verdict.doubtful else "élevée"
        if not verdict.sufficient:
            reason = "Les documents trouvés ne traitent pas suffisamment de cette question."
            return ResponseReady(response=self.stages.abstain(response, ev.passages, reason))
        if verdict.doubtful:
            response.warnings.append(PARTIAL_EVIDENCE)
        return EvidenceGathered(response=response, passages=ev.passages, evidence=evidence)

    @step
    async def draft(self, ctx: Context, ev: EvidenceGathered) -> DraftReady:
        response, passages = ev.response, ev.passages
        streamed = False
        if response.mode == "generatif":
            t0 = time.perf_counter()
            ranked = [passages[i] for i in ev.evidence.order] or passages  # most relevant first
            context = ranked[: self.stages.settings.max_passages]
            parts: list[str] = []
            try:
                deltas = self.stages.generative.stream_answer(response.standalone_question, context, usage=response.tokens)
                while (delta := await asyncio.to_thread(next, deltas, None)) is not None:
                    parts.append(delta)
                    streamed = True
                    ctx.write_event_to_stream(AnswerDelta(delta=delta))
            except Exception as exc:  # LLM died mid-answer: fall back, say so
                response.warnings.append(f"Le serveur LLM a échoué ({exc}) : réponse en mode extractif.")
                response.mode = "extractif"
            response.timings["generate"] = time.perf_counter() - t0
            if response.mode == "generatif":
                citations = [Citation.of(i, p) for i, p in enumerate(context, start=1)]
                return DraftReady(response=response, passages=passages, evidence=ev.evidence, text="".join(parts).strip(),
                                  citations=citations, generated=True, streamed=streamed)
        text, citations = self.stages.extractive(ev.evidence, passages)
        return DraftReady(response=response, passages=passages, evidence=ev.evidence, text=text, citations=citations,
                          generated=False, streamed=streamed)

    @step
    async def verify(self, ctx: Context, ev: DraftReady) -> ResponseReady:
        stages, response = self.stages, ev.response
        text, citations = ev.text, ev.citations
        if ev.generated:
            t0 = time.perf_counter()
            if prompts.NO_ANSWER.rstrip(".") in text:
                reason = "Le modèle a jugé que les extraits ne permettent pas de répondre."
                return ResponseReady(response=stages.abstain(response, ev.passages, reason))
            answer, verification = stages.verifier.run(text, citations)
            response.timings["verify"] = time.perf_counter() - t0
            used = {m for s in verification.sentences if s.supported for m in s.markers}
            cited = [c for c in citations if c.marker in used]
            if answer.strip() and cited:
                response.answer, response.verification, response.citations = answer, verification, cited
                if verification.removed:
                    response.warnings.append(f"{len(verification.removed)} phrase(s) non étayée(s) retirée(s) de la réponse.")
                return ResponseReady(response=response)
            # Nothing the model wrote is supported, but the evidence was judged sufficient (else no draft):
            # answer with the quoted sentences rather than abstain.
            response.mode = "extractif"
            response.warnings.append(UNVERIFIED_DRAFT)
            text, citations = stages.extractive(ev.evidence, ev.passages)
        t0 = time.perf_counter()
        response.answer, response.verification = stages.verifier.run(text, citations)
        response.timings["verify"] = response.timings.get("verify", 0.0) + time.perf_counter() - t0
        response.citations = citations
        ctx.write_event_to_stream(AnswerDelta(delta=("\n\n" if ev.streamed else "") + response.answer))
        return ResponseReady(response=response)

    @step
    async def finish(self, ctx: Context, ev: ResponseReady) -> StopEvent:
        response = ev.response
        masked: MaskedText = await ctx.store.get("masked")
        response.pii_masked = [KIND_LABELS[k] for k in masked.kinds]
        if masked.changed:
            response.warnings.insert(0, "Données personnelles masquées avant traitement : " + ", ".join(response.pii_masked) + ".")
        response.timings["total"] = time.perf_counter() - await ctx.store.get("started")
        return StopEvent(result=response)


def stream_sync(workflow: Workflow, start: StartEvent) -> Iterator[Any]:
    """Run ``workflow`` from synchronous code: its streamed events (``StopEvent`` excluded), then its result.

    The run gets its own event loop in a worker thread, so this works from any thread, whether or not it
    has a running loop (CLI, evaluation, FastAPI's thread pool, Gradio's workers), and the iterator may be
    advanced from different threads. A step's exception is raised here; closing the iterator early cancels
    the run at its next event.
    """
    items: queue.Queue[tuple[str, Any]] = queue.Queue()
    abandoned = threading.Event()

    async def pump() -> None:
        try:
            handler = workflow.run(start_event=start)
            async for event in handler.stream_events():
                if abandoned.is_set():
                    await handler.cancel_run()
                    return
                if not isinstance(event, StopEvent):
                    items.put(("event", event))
            items.put(("result", await handler))
        except BaseException as exc:  # handed to the caller's thread
            items.put(("error", exc))

    threading.Thread(target=asyncio.run, args=(pump(),), name=f"{type(workflow).__name__}-run", daemon=True).start()
    try:
        while True:
            kind, value = items.get()
            if kind == "error":
                raise value
            yield value
            if kind == "result":
                return
    finally:
        abandoned.set()


def planned_search(retriever: Any, analysis: QuestionAnalysis, base: SearchFilter, limit: int,
                   tool_calls: list[str] | None = None) -> tuple[list[Passage], RetrievalResult]:
    """The deterministic search plan (no LLM driving the tools): the national rule, plus the territories'
    practice and the GEVA when relevant; the merged passages and the primary search's result."""
    query = analysis.standalone
    calls = tool_calls if tool_calls is not None else []
    national_filter = replace(base, territories=("national",), include_national=False) if not base.territories else base
    primary = retriever.run(query, national_filter if not analysis.territories else replace(base, territories=tuple(analysis.territories)))
    calls.append(f"rechercher_textes_nationaux({query!r})" if not analysis.territories
                 else f"rechercher_pratiques({query!r}, {analysis.territories})")
    lists = [primary.passages]
    if analysis.search_geva:
        geva = retriever.run(query, replace(base, doc_types=("guide_geva",)), top_k=4)
        calls.append(f"rechercher_geva({query!r})")
        lists.append(geva.passages)
    if analysis.territories:
        national = retriever.run(query, replace(base, territories=("national",), include_national=False), top_k=3)
        lists.append(national.passages)
    return _merge(lists, limit), primary


def _safe(fn, default, warnings: list[str]):
    from assistant.components.llm import LLMError

    try:
        return fn()
    except LLMError as exc:
        warnings.append(str(exc))
        return default


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

