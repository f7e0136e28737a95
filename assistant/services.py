"""Builds the components named by the settings, once, for the CLI, the server and the evaluation."""

from __future__ import annotations

from functools import cached_property

from assistant.settings import PROJECT_ROOT, Settings


class Services:
    def __init__(self, settings: Settings):
        self.settings = settings

    @cached_property
    def embedder(self):
        from assistant.components.embedding import build_embedder

        return build_embedder(self.settings.embedding, self.settings.resolve(self.settings.embedding.models_dir))

    @cached_property
    def store(self):
        from assistant.components.vector_store import build_store

        return build_store(self.settings.qdrant, PROJECT_ROOT)

    @cached_property
    def retriever(self):
        from assistant.components.reranker import build_reranker
        from assistant.components.sparse import FrenchBM25Encoder
        from assistant.retrieval.retriever import HybridRetriever
        from assistant.text.glossary import default_glossary

        return HybridRetriever(
            self.settings.retrieval, self.embedder, self.store, FrenchBM25Encoder(self.settings.sparse),
            default_glossary(), build_reranker(self.settings.reranker),
        )

    @cached_property
    def generative(self):
        """The LLM steps of an answer (condense, tools, streamed answer) over the configured LLM client."""
        from assistant.answering.generative import GenerativeSteps
        from assistant.components.llm import LLMClient, resolve_llm_settings

        return GenerativeSteps(LLMClient(resolve_llm_settings(self.settings.llm)))

    @cached_property
    def assistant(self):
        from assistant.answering.service import AssistantService
        from assistant.components.llm import resolve_llm_settings

        return AssistantService(self.settings.answer, resolve_llm_settings(self.settings.llm), self.retriever,
                                self.embedder, self.generative)

    @cached_property
    def harmonisation(self):
        from assistant.harmonisation.service import HarmonisationService

        return HarmonisationService(self.settings, self.assistant.components)

    def ingestion_pipeline(self, on_batch=None):
        from indexing.pipeline import IngestionPipeline

        return IngestionPipeline(self.settings, self.embedder, self.store, on_batch=on_batch)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
        if hasattr(self.__dict__.get("embedder"), "close"):
            self.embedder.close()
