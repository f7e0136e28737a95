"""Step 2, search: the passages for the analysed question — the LLM's tool calls in generative mode when the
model supports tools, else the deterministic search plan — merged into one ranked list."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from assistant.answering.generative import llm_or_default
from assistant.answering.steps.analyse import QuestionAnalysis
from assistant.answering.territories import normalise_code
from assistant.components.vector_store import SearchFilter
from assistant.retrieval.retriever import Passage, RetrievalResult

if TYPE_CHECKING:
    from assistant.answering.components import AnswerComponents


def search(components: AnswerComponents, analysis: QuestionAnalysis, base: SearchFilter, mode: str,
           warnings: list[str], tool_calls: list[str]) -> tuple[list[Passage], RetrievalResult]:
    """The merged passages and the primary search's result; the searches made are added to ``tool_calls``."""
    query = analysis.standalone
    retriever, limit = components.retriever, components.settings.max_passages
    if mode == "generatif" and components.llm_settings.supports_tools:
        run = llm_or_default(lambda: components.generative.run_tools(query, lambda name, args: run_tool(retriever, name, args, base)),
                             None, warnings)
        if run and run.passages:
            tool_calls.extend(run.calls)
            primary = retriever.run(query, base)
            return merge_ranked([run.passages, primary.passages], limit), primary
    return planned_search(retriever, analysis, base, limit, tool_calls)


def run_tool(retriever: Any, name: str, args: dict, base: SearchFilter) -> list[Passage]:
    """One retrieval tool called by the LLM (``prompts.TOOLS``), within the caller's filter."""
    query = str(args.get("requete") or args.get("question") or "")
    if not query.strip():
        return []
    territories = tuple(c for c in (normalise_code(str(t)) for t in args.get("territoires") or []) if c)
    match name:
        case "rechercher_textes_nationaux":
            return retriever.run(query, replace(base, territories=("national",), include_national=False)).passages
        case "rechercher_geva":
            return retriever.run(query, replace(base, doc_types=("guide_geva",))).passages
        case "rechercher_pratiques" | "comparer_territoires":
            return retriever.run(query, replace(base, territories=territories or base.territories,
                                                doc_types=("pratique_territoriale",))).passages
    return []


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
    return merge_ranked(lists, limit), primary


def merge_ranked(lists: list[list[Passage]], limit: int) -> list[Passage]:
    """Interleave ranked lists without duplicates (first list first)."""
    seen: set[str] = set()
    merged: list[Passage] = []
    for rank in range(max((len(x) for x in lists), default=0)):
        for ranked in lists:
            if rank < len(ranked) and ranked[rank].point_id not in seen:
                seen.add(ranked[rank].point_id)
                merged.append(ranked[rank])
    return merged[:limit]
