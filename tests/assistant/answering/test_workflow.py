"""The answer workflow run directly (``await workflow.run(...)``): its steps in order for each branch, the
streamed answer, and the synchronous driver used by ``AssistantService.stream``."""

from __future__ import annotations

import asyncio
import threading

import pytest

from assistant.answering.components import AnswerComponents
from assistant.answering.schema import AssistantResponse
from assistant.answering.service import AssistantService
from assistant.answering.workflow import AnswerDelta, AnswerStart, AnswerWorkflow, stream_sync
from assistant.retrieval.retriever import QueryError
from workflows.events import StepState, StepStateChanged


def components(small_index) -> AnswerComponents:
    settings, services = small_index
    return AnswerComponents(settings.answer, settings.llm, services.retriever, services.embedder)


async def run(workflow: AnswerWorkflow, **start) -> tuple[list[tuple[str, str | None]], list[str], AssistantResponse]:
    """Each finished step with the event it emitted, the streamed deltas, and the result."""
    handler = workflow.run(**start)
    steps, deltas = [], []
    async for event in handler.stream_events(expose_internal=True):
        if isinstance(event, StepStateChanged) and event.step_state == StepState.NOT_RUNNING:
            output = event.output_event_name  # "<class 'package.module.Event'>"
            steps.append((event.name, output.rsplit(".", 1)[-1].rstrip("'>") if output else None))
        elif isinstance(event, AnswerDelta):
            deltas.append(event.delta)
    return steps, deltas, await handler


def test_extractive_answer_runs_every_step_in_order(small_index):
    steps, deltas, response = asyncio.run(run(AnswerWorkflow(components(small_index)),
                                              question="Quelles personnes âgées ont droit à l'APA selon leur GIR ?",
                                              mode="extractif"))
    assert [name for name, _ in steps] == ["analyse", "retrieve", "select", "draft", "verify", "finish"]
    assert [output for _, output in steps] == [
        "QuestionAnalysed", "PassagesRetrieved", "EvidenceGathered", "DraftReady", "ResponseReady", "StopEvent"]
    assert isinstance(response, AssistantResponse) and not response.abstained and response.mode == "extractif"
    assert deltas == [response.answer]
    assert set(response.timings) == {"analyse", "retrieve", "select", "verify", "total"}
    assert response.tool_calls and response.tool_calls[0].startswith("rechercher_textes_nationaux")


def test_weak_evidence_abstains_right_after_selection(small_index):
    steps, deltas, response = asyncio.run(run(AnswerWorkflow(components(small_index)),
                                              question="Comment obtenir un permis de construire ?", mode="extractif"))
    assert [name for name, _ in steps] == ["analyse", "retrieve", "select", "finish"]
    assert response.abstained and deltas == []


def test_comparison_is_a_branch_of_the_workflow(small_index):
    steps, _, response = asyncio.run(run(AnswerWorkflow(components(small_index)),
                                         question="Comparer le délai de décision de l'APA entre les Bouches-du-Rhône et le Nord",
                                         mode="extractif"))
    assert [name for name, _ in steps] == ["analyse", "compare", "finish"]
    assert response.comparison is not None and response.territories == ["13", "59"]
    assert {"compare", "total"} <= set(response.timings)


def test_an_explicit_comparison_takes_the_same_branch_after_masking(small_index):
    steps, _, response = asyncio.run(run(AnswerWorkflow(components(small_index)),
                                         question="Délai de décision pour Mme Durand ?", mode="extractif",
                                         compare_territories=["59", "13", "xx"]))
    assert [name for name, _ in steps] == ["analyse", "compare", "finish"]
    assert response.territories == ["59", "13"] and [row.territory for row in response.comparison.territories] == ["59", "13"]
    assert "Durand" not in response.question and response.pii_masked == ["nom de personne"]
    with pytest.raises(ValueError, match="au moins un département"):
        asyncio.run(run(AnswerWorkflow(components(small_index)), question="Délai de décision ?", compare_territories=["xx"]))


def test_stream_works_from_a_thread_running_an_event_loop(small_index):
    settings, services = small_index
    assistant = AssistantService(settings.answer, settings.llm, services.retriever, services.embedder)

    async def inside_a_loop() -> list:
        return list(assistant.stream("La visite à domicile est-elle obligatoire ?", mode="extractif"))

    items = asyncio.run(inside_a_loop())
    assert isinstance(items[-1], AssistantResponse) and items[:-1] == [items[-1].answer]
    # advanced from another thread than the one that started it (as FastAPI's thread pool does)
    stream = assistant.stream("La visite à domicile est-elle obligatoire ?", mode="extractif")
    first = next(stream)
    rest: list = []
    worker = threading.Thread(target=lambda: rest.extend(stream))
    worker.start()
    worker.join()
    assert isinstance(first, str) and isinstance(rest[-1], AssistantResponse)


def test_a_step_error_reaches_the_caller_with_its_type(small_index):
    settings, services = small_index
    assistant = AssistantService(settings.answer, settings.llm, services.retriever, services.embedder)
    with pytest.raises(QueryError, match="vide"):
        assistant.ask("   ")


def test_stream_sync_can_be_abandoned(small_index):
    items = stream_sync(AnswerWorkflow(components(small_index)),
                        AnswerStart(question="La visite à domicile est-elle obligatoire ?", mode="extractif"))
    assert isinstance(next(items), AnswerDelta)
    items.close()  # the caller went away: no hang, no error
