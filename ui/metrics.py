"""Prometheus metrics of the server: requests and latency per endpoint, answer steps, modes, abstentions."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.answering.schema import AssistantResponse

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120)


class Metrics:
    """One registry per app, so that several apps (tests) never share counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("autonomie_http_requests", "Requêtes HTTP traitées.",
                                ("endpoint", "method", "status"), registry=self.registry)
        self.latency = Histogram("autonomie_http_request_duration_seconds", "Durée des requêtes HTTP (réponse complète).",
                                 ("endpoint",), buckets=LATENCY_BUCKETS, registry=self.registry)
        self.answers = Counter("autonomie_answers", "Réponses produites par l'assistant.",
                               ("kind", "mode", "channel"), registry=self.registry)
        self.abstentions = Counter("autonomie_abstentions", "Réponses où l'assistant s'abstient faute de source.",
                                   ("kind", "channel"), registry=self.registry)
        self.steps = Histogram("autonomie_answer_step_seconds", "Durée de chaque étape de la réponse.",
                               ("step",), buckets=LATENCY_BUCKETS, registry=self.registry)
        self.feedback = Counter("autonomie_feedback", "Avis des utilisateurs.", ("rating",), registry=self.registry)
        self.ingestions = Counter("autonomie_ingestion_jobs", "Téléversements indexés par le serveur.",
                                  ("state",), registry=self.registry)

    def observe_response(self, response: AssistantResponse, kind: str, channel: str) -> None:
        self.answers.labels(kind, response.mode, channel).inc()
        if response.abstained:
            self.abstentions.labels(kind, channel).inc()
        for step, seconds in response.timings.items():
            self.steps.labels(step).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts every HTTP request and times it until its last body byte (streams included).

    The endpoint label is the matched route's path template (``/api/documents/{doc_id}``), or
    ``interface`` for the mounted chat UI, so that the label set stays small.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            if isinstance(route, Mount):
                endpoint = "interface"
            else:
                endpoint = getattr(route, "path", None) or "inconnu"
            self.metrics.requests.labels(endpoint, scope["method"], str(status)).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
