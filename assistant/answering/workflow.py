"""The answer flow as a llama-index Workflow: one step per stage, typed events between them.

::

    AnswerStart(question, history, mode, search_filter[, compare_territories])
      │ analyse    mask personal data, choose the mode, analyse the question (the LLM condenses a follow-up);
      │            an explicit comparison (compare_territories) goes to compare, its intent not looked for
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
embedding, Qdrant) in threads, so the loop stays free to stream. What each step does is in its module of
:mod:`assistant.answering.steps` (analyse, search, select, answer_generative / answer_extractive, verify,
compare), over the components shared by every run (:class:`~assistant.answering.components.AnswerComponents`);
this module only orders them. :func:`stream_sync` runs a workflow from synchronous code. The classes come
from ``llama-index-workflows``, which ``llama_index.core.workflow`` re-exports (imported directly:
``llama_index.core`` costs seconds of start-up).
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

from workflows import Context, Workflow, step
from workflows.events import Event, StartEvent, StopEvent

from assistant.answering.components import AnswerComponents
from assistant.answering.extractive import Evidence
from assistant.answering.pii import KIND_LABELS, MaskedText
from assistant.answering.schema import AssistantResponse, Citation, Turn
from assistant.answering.steps.analyse import (QuestionAnalysis, analyse_question, choose_mode, comparison_analysis,
                                               mask_question)
from assistant.answering.steps.answer_extractive import quote_evidence
from assistant.answering.steps.answer_generative import generate_answer
from assistant.answering.steps.compare import compare_territories
from assistant.answering.steps.search import search
from assistant.answering.steps.select import WEAK_EVIDENCE, abstain, judge_evidence, select_evidence
from assistant.answering.steps.verify import verify_draft
from assistant.components.vector_store import SearchFilter
from assistant.retrieval.retriever import Passage


# --- events ------------------------------------------------------------------------------------
class AnswerStart(StartEvent):
    question: str
    history: list[Turn] = []
    mode: str | None = None
    search_filter: SearchFilter | None = None
    compare_territories: list[str] = []  # an explicit comparison of these départements (codes)


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


# --- the workflow ------------------------------------------------------------------------------
class AnswerWorkflow(Workflow):
    """One question, from its masking to the verified answer. Cheap to build: one instance per run.

    ``await AnswerWorkflow(components).run(question=..., history=[...], mode=..., search_filter=...)`` returns the
    :class:`AssistantResponse`; ``handler.stream_events()`` also gives the :class:`AnswerDelta` events.
    """

    def __init__(self, components: AnswerComponents, **kwargs: Any):
        kwargs.setdefault("timeout", None)  # the LLM client has its own timeouts
        super().__init__(**kwargs)
        self.components = components

    @step
    async def analyse(self, ctx: Context, ev: AnswerStart) -> QuestionAnalysed | ComparisonRequested:
        await ctx.store.set("started", time.perf_counter())
        components = self.components
        masked = mask_question(components, ev.question)
        await ctx.store.set("masked", masked)
        base = ev.search_filter or SearchFilter()
        mode, warnings = await asyncio.to_thread(choose_mode, components, ev.mode)
        if ev.compare_territories:
            analysis = comparison_analysis(masked.text, ev.compare_territories)
            return ComparisonRequested(question=masked.text, analysis=analysis, search_filter=base, mode=mode)
        t0 = time.perf_counter()
        analysis = await asyncio.to_thread(analyse_question, components, masked.text, ev.history, base, mode, warnings)
        analysed_s = time.perf_counter() - t0
        if analysis.compare and len(analysis.territories) >= 2:
            return ComparisonRequested(question=masked.text, analysis=analysis, search_filter=base, mode=mode)
        response = AssistantResponse(question=masked.text, standalone_question=analysis.standalone, mode=mode, answer="",
                                     territories=analysis.territories, warnings=warnings, timings={"analyse": analysed_s})
        return QuestionAnalysed(response=response, analysis=analysis, search_filter=base)

    @step
    async def compare(self, ev: ComparisonRequested) -> ResponseReady:
        response = await asyncio.to_thread(compare_territories, self.components, ev.question, ev.analysis,
                                           ev.search_filter, ev.mode)
        return ResponseReady(response=response)

    @step
    async def retrieve(self, ev: QuestionAnalysed) -> PassagesRetrieved:
        response = ev.response
        t0 = time.perf_counter()
        passages, primary = await asyncio.to_thread(search, self.components, ev.analysis, ev.search_filter, response.mode,
                                                    response.warnings, response.tool_calls)
        response.timings["retrieve"] = time.perf_counter() - t0
        response.glossary_added = list(primary.expansion.added)
        return PassagesRetrieved(response=response, passages=passages)

    @step
    async def select(self, ev: PassagesRetrieved) -> EvidenceGathered | ResponseReady:
        response = ev.response
        t0 = time.perf_counter()
        evidence = await asyncio.to_thread(select_evidence, self.components, response, ev.passages)
        response.timings["select"] = time.perf_counter() - t0
        if not judge_evidence(self.components, response, evidence):
            return ResponseReady(response=abstain(response, ev.passages, WEAK_EVIDENCE))
        return EvidenceGathered(response=response, passages=ev.passages, evidence=evidence)

    @step
    async def draft(self, ctx: Context, ev: EvidenceGathered) -> DraftReady:
        response, passages = ev.response, ev.passages
        streamed = False
        if response.mode == "generatif":
            t0 = time.perf_counter()
            text, citations, streamed = await generate_answer(
                self.components, response, passages, ev.evidence, lambda delta: ctx.write_event_to_stream(AnswerDelta(delta=delta)))
            response.timings["generate"] = time.perf_counter() - t0
            if response.mode == "generatif":
                return DraftReady(response=response, passages=passages, evidence=ev.evidence, text=text,
                                  citations=citations, generated=True, streamed=streamed)
        text, citations = quote_evidence(ev.evidence, passages)
        return DraftReady(response=response, passages=passages, evidence=ev.evidence, text=text, citations=citations,
                          generated=False, streamed=streamed)

    @step
    async def verify(self, ctx: Context, ev: DraftReady) -> ResponseReady:
        unsent = verify_draft(self.components, ev.response, ev.passages, ev.evidence, ev.text, ev.citations, ev.generated)
        if unsent is not None:
            ctx.write_event_to_stream(AnswerDelta(delta=("\n\n" if ev.streamed else "") + unsent))
        return ResponseReady(response=ev.response)

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
