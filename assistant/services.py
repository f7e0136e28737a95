"""Builds the components named by the settings, once, for the CLI, the server and the evaluation."""

from __future__ import annotations

from functools import cached_property

from assistant.settings import PROJECT_ROOT, Settings


class Services:
    def __init__(self, settings: Settings):
        self.settings = settings

    @cached_property
    def embedder(self):
        from assistant.components.embedding import Embedder

        return Embedder(self.settings.embedding, self.settings.resolve(self.settings.embedding.models_dir))

    @cached_property
    def store(self):
        from assistant.components.vector_store import QdrantStore

        return QdrantStore(self.settings.qdrant, PROJECT_ROOT)

    def ingestion_pipeline(self, on_batch=None):
        from indexing.pipeline import IngestionPipeline

        return IngestionPipeline(self.settings, self.embedder, self.store, on_batch=on_batch)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
