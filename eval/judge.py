"""LLM-judged RAGAS metrics, measured only when an OpenAI-compatible judge is configured.

Without a judge (or when it fails) each metric is reported "non mesuré" with the reason, never 0.
Successful scores are cached on disk under the hash of (metric, model, inputs).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


from assistant.settings import EvalSettings

JUDGE_METRICS = ("faithfulness", "answer_relevancy", "context_precision", "context_recall", "factual_correctness")
MEASURED, NOT_MEASURED = "mesure", "non_mesure"
NO_JUDGE = "aucun juge LLM configuré (eval.judge_base_url)"


@dataclass
class JudgeScore:
    value: float | None
    status: str
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def not_measured(reason: str) -> JudgeScore:
    return JudgeScore(None, NOT_MEASURED, reason)


class Judge:
    def __init__(self, settings: EvalSettings, cache_dir: Path, embedder: Any = None):
        self.base_url = settings.judge_base_url
        self.model = settings.judge_model
        self.settings = settings
        self.cache_dir = cache_dir
        self.embedder = embedder
        self._metrics: dict[str, Any] | None = None
        self._down: str | None = None  # after a connection failure, the other calls are not attempted

    @property
    def configured(self) -> bool:
        return bool(self.base_url)

    def score(self, question: str, answer: str, contexts: list[str], cited: list[str], reference: str | None,
              abstained: bool) -> dict[str, JudgeScore]:
        """``contexts``: the retrieved passages (context metrics); ``cited``: those the answer relies on."""
        inputs: dict[str, dict[str, Any] | str] = {
            "faithfulness": ({"user_input": question, "response": answer, "retrieved_contexts": cited}
                             if not abstained and cited else "réponse sans passage cité (abstention)"),
            "answer_relevancy": {"user_input": question, "response": answer},
            "context_precision": ({"user_input": question, "reference": reference, "retrieved_contexts": contexts}
                                  if reference and contexts else "pas de réponse de référence ou de contexte"),
            "context_recall": ({"user_input": question, "retrieved_contexts": contexts, "reference": reference}
                               if reference and contexts else "pas de réponse de référence ou de contexte"),
            "factual_correctness": ({"response": answer, "reference": reference}
                                    if reference else "pas de réponse de référence"),
        }
        return {name: self._one(name, args) for name, args in inputs.items()}

    def _one(self, name: str, args: dict[str, Any] | str) -> JudgeScore:
        if isinstance(args, str):
            return not_measured(args)
        if not self.configured:
            return not_measured(NO_JUDGE)
        path = self.cache_dir / f"{self._key(name, args)}.json"
        if path.exists():
            return JudgeScore(**json.loads(path.read_text(encoding="utf-8")))
        if self._down:
            return not_measured(self._down)
        try:
            value = float(self._metric(name).score(**args).value)
        except Exception as exc:  # the judge's failure must never read as a score
            reason = f"juge indisponible ou réponse invalide : {type(exc).__name__}: {str(exc)[:200]}"
            if _is_connection_error(exc):
                self._down = reason
            return not_measured(reason)
        if math.isnan(value):
            return not_measured("le juge n'a pas pu conclure (NaN)")
        result = JudgeScore(value, MEASURED)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result.to_dict()), encoding="utf-8")
        return result

    def _key(self, name: str, args: dict[str, Any]) -> str:
        payload = json.dumps([name, self.model, args], ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def _metric(self, name: str) -> Any:
        if self._metrics is None:
            self._metrics = self._build()
        return self._metrics[name]

    def _build(self) -> dict[str, Any]:
        from openai import AsyncOpenAI
        from ragas.llms import llm_factory
        from ragas.metrics.collections import (AnswerRelevancy, ContextPrecisionWithReference, ContextRecall,
                                               FactualCorrectness, Faithfulness)

        client = AsyncOpenAI(base_url=self.base_url, api_key=self.settings.judge_api_key,
                             timeout=self.settings.judge_timeout_s, max_retries=1)
        llm = llm_factory(self.model, client=client)
        return {
            "faithfulness": Faithfulness(llm=llm),
            "answer_relevancy": AnswerRelevancy(llm=llm, embeddings=_project_embeddings(self.embedder)),
            "context_precision": ContextPrecisionWithReference(llm=llm),
            "context_recall": ContextRecall(llm=llm),
            "factual_correctness": FactualCorrectness(llm=llm),
        }


def _is_connection_error(exc: BaseException) -> bool:
    import httpx
    import openai

    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if isinstance(current, (openai.APIConnectionError, openai.APITimeoutError, httpx.ConnectError)):
            return True
        # instructor wraps the client's errors in its retry exception, one per failed attempt
        pending += [a.exception for a in getattr(current, "failed_attempts", None) or [] if a.exception]
        pending += [e for e in (current.__cause__, current.__context__) if e is not None]
    return False


def _project_embeddings(embedder: Any):
    """The product's own embedding model, in ragas' embedding interface (answer relevancy)."""
    from ragas.embeddings.base import BaseRagasEmbedding

    class ProjectEmbeddings(BaseRagasEmbedding):
        def embed_text(self, text: str, **kwargs: Any) -> list[float]:
            return embedder.embed_queries([text])[0].tolist()

        async def aembed_text(self, text: str, **kwargs: Any) -> list[float]:
            return self.embed_text(text)

    return ProjectEmbeddings()
