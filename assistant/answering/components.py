"""What every answer's steps share, built once per assistant: the retriever, the sentence selector and its
judge, the citation verifier, the practice comparator, the index's term statistics and the LLM steps."""

from __future__ import annotations

from typing import Any

from assistant.answering.comparison import PracticeComparator
from assistant.answering.extractive import EvidenceJudge, SentenceSelector
from assistant.answering.generative import GenerativeSteps
from assistant.answering.relevance import JUDGE_FILE, RelevanceJudge
from assistant.answering.term_stats import TermStatistics
from assistant.answering.verification import CitationVerifier
from assistant.settings import AnswerSettings, LLMSettings


class AnswerComponents:
    """The components the steps of :mod:`assistant.answering.steps` use; shared by every run of the workflow
    and by the harmonisation matrix. ``generative`` is None without an LLM."""

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
