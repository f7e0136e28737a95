"""Client for any OpenAI-compatible chat endpoint (vLLM in production, llama.cpp's server locally)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import openai
import yaml
from pydantic import BaseModel, ValidationError

from assistant.settings import PROJECT_ROOT, LLMSettings

Message = dict[str, Any]
ModelT = TypeVar("ModelT", bound=BaseModel)

_START_HINT = "Vérifiez qu'il est démarré : `make llm`."
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


class LLMError(RuntimeError):
    """Base class of every LLM failure; messages are French, shown to the user as is."""


class LLMUnavailableError(LLMError):
    """No endpoint configured, connection refused, or no answer within the timeout."""


class LLMResponseError(LLMError):
    """The server answered, but with an HTTP error or a response that cannot be used."""


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ChatResult:
    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    finish_reason: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)

    @property
    def tokens_per_s(self) -> float:
        """Completion tokens per second of wall time (prompt processing included)."""
        return self.completion_tokens / self.latency_s if self.latency_s > 0 else 0.0


def endpoint_file_path(settings: LLMSettings) -> Path:
    """The endpoint file, relative paths being relative to the project root."""
    path = settings.endpoint_file
    return path if path.is_absolute() else PROJECT_ROOT / path


def resolve_llm_settings(settings: LLMSettings) -> LLMSettings:
    """Fill base_url (and the server's capabilities) from the endpoint file when base_url is unset."""
    if settings.base_url:
        return settings
    path = endpoint_file_path(settings)
    if not path.exists():
        return settings
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise LLMError(f"Fichier de point d'accès LLM illisible : {path} ({exc}).") from exc
    if not isinstance(data, dict) or not data.get("base_url"):
        raise LLMError(f"Fichier de point d'accès LLM invalide (base_url manquant) : {path}.")
    keys = ("base_url", "model", "supports_tools", "supports_json_schema")
    return settings.model_copy(update={key: data[key] for key in keys if key in data})


class LLMClient:
    """Chat completions, streaming, structured output and health check over the OpenAI API."""

    def __init__(self, settings: LLMSettings) -> None:
        self.settings = resolve_llm_settings(settings)
        self._client: openai.OpenAI | None = None
        if self.settings.base_url:
            self._client = openai.OpenAI(
                base_url=self.settings.base_url,
                api_key=self.settings.api_key,
                timeout=openai.Timeout(self.settings.timeout_s, connect=self.settings.connect_timeout_s),
                max_retries=self.settings.max_retries,
            )

    @property
    def base_url(self) -> str | None:
        return self.settings.base_url

    @property
    def model(self) -> str:
        return self.settings.model

    def list_models(self) -> list[str]:
        """Model ids served by the endpoint; one quick request bounded by the connect timeout."""
        quick = self._require_client().with_options(timeout=self.settings.connect_timeout_s, max_retries=0)
        try:
            return [model.id for model in quick.models.list()]
        except openai.OpenAIError as exc:
            raise self._translate(exc, self.settings.connect_timeout_s) from exc

    def is_available(self) -> bool:
        """True when the endpoint answers GET /models within the connect timeout."""
        if self._client is None:
            return False
        try:
            self.list_models()
        except LLMError:
            return False
        return True

    def chat(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        json_schema: dict[str, Any] | None = None,
        tools: list[dict[str, Any]] | None = None,
    ) -> ChatResult:
        """One chat completion; ``json_schema`` asks for structured output, ``tools`` for tool calls."""
        params = self._params(messages, max_tokens, temperature)
        if json_schema is not None:
            params["response_format"] = _json_schema_format(json_schema)
        if tools:
            params["tools"] = tools
        started = time.perf_counter()
        try:
            completion = self._require_client().chat.completions.create(**params)
        except openai.OpenAIError as exc:
            raise self._translate(exc) from exc
        latency = time.perf_counter() - started
        if not completion.choices:
            raise LLMResponseError("Le serveur LLM a renvoyé une réponse sans contenu.")
        choice = completion.choices[0]
        usage = completion.usage
        return ChatResult(
            text=choice.message.content or "",
            model=completion.model or self.settings.model,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            latency_s=latency,
            finish_reason=choice.finish_reason,
            tool_calls=[_tool_call(call) for call in choice.message.tool_calls or []],
        )

    def stream_chat(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        usage: dict[str, int] | None = None,
    ) -> Iterator[str]:
        """Yield the answer's text pieces as the server produces them; ``usage`` receives the token counts
        (``in``, ``out``) when the server reports them (``stream_options.include_usage``: vLLM, OpenAI; servers
        that ignore it leave it empty)."""
        params = self._params(messages, max_tokens, temperature)
        try:
            stream = self._require_client().chat.completions.create(**params, stream=True,
                                                                    stream_options={"include_usage": True})
            with stream:
                for chunk in stream:
                    if chunk.usage is not None and usage is not None:
                        usage.update({"in": chunk.usage.prompt_tokens, "out": chunk.usage.completion_tokens})
                    if chunk.choices and chunk.choices[0].delta.content:
                        yield chunk.choices[0].delta.content
        except openai.OpenAIError as exc:
            raise self._translate(exc) from exc

    def chat_json(
        self,
        messages: Sequence[Message],
        schema: type[ModelT],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> ModelT:
        """Ask for a JSON answer matching ``schema``, validate it, and retry once if it is invalid."""
        json_schema = schema.model_json_schema()
        conversation = list(messages)
        if not self.settings.supports_json_schema:
            conversation.insert(0, {"role": "system", "content": _json_instruction(json_schema)})
        error = ""
        for _attempt in range(2):
            result = self.chat(
                conversation,
                max_tokens=max_tokens,
                temperature=temperature,
                json_schema=json_schema if self.settings.supports_json_schema else None,
            )
            try:
                return schema.model_validate_json(json_object_text(result.text))
            except ValidationError as exc:
                error = _short_error(exc)
            conversation += [
                {"role": "assistant", "content": result.text},
                {
                    "role": "user",
                    "content": f"Ta réponse n'est pas un JSON valide pour le schéma ({error}). "
                    "Réponds uniquement avec l'objet JSON corrigé, sans aucun texte autour.",
                },
            ]
        raise LLMResponseError(
            f"Le LLM n'a pas produit de JSON conforme au schéma « {schema.__name__} » "
            f"après 2 tentatives ({error})."
        )

    def _params(
        self, messages: Sequence[Message], max_tokens: int | None, temperature: float | None
    ) -> dict[str, Any]:
        return {
            "model": self.settings.model,
            "messages": list(messages),
            "max_tokens": max_tokens if max_tokens is not None else self.settings.max_tokens,
            "temperature": temperature if temperature is not None else self.settings.temperature,
        }

    def _require_client(self) -> openai.OpenAI:
        if self._client is None:
            raise LLMUnavailableError(
                "Aucun serveur LLM n'est configuré (llm.base_url vide et fichier "
                f"{endpoint_file_path(self.settings)} absent). Démarrez-en un : `make llm`."
            )
        return self._client

    def _translate(self, exc: openai.OpenAIError, timeout_s: float | None = None) -> LLMError:
        url = self.settings.base_url
        if isinstance(exc, openai.APITimeoutError):
            delay = timeout_s or self.settings.timeout_s
            return LLMUnavailableError(
                f"Le serveur LLM {url} ne répond pas (délai de {delay:g} s dépassé). "
                f"{_START_HINT}"
            )
        if isinstance(exc, openai.APIConnectionError):
            return LLMUnavailableError(f"Le serveur LLM {url} ne répond pas (connexion impossible). {_START_HINT}")
        if isinstance(exc, openai.APIStatusError):
            return LLMResponseError(
                f"Le serveur LLM {url} a renvoyé l'erreur HTTP {exc.status_code} : {_short_text(exc.message)}"
            )
        return LLMResponseError(f"Réponse inutilisable du serveur LLM {url} : {_short_text(str(exc))}")


def _json_schema_format(json_schema: dict[str, Any]) -> dict[str, Any]:
    name = re.sub(r"[^A-Za-z0-9_-]", "_", str(json_schema.get("title") or "reponse"))[:64]
    return {"type": "json_schema", "json_schema": {"name": name, "schema": json_schema}}


def _json_instruction(json_schema: dict[str, Any]) -> str:
    return (
        "Réponds uniquement avec un objet JSON valide conforme à ce schéma JSON, sans aucun texte "
        f"avant ou après :\n{json.dumps(json_schema, ensure_ascii=False)}"
    )


def json_object_text(text: str) -> str:
    """The JSON object of a model's reply, inside code fences or with words around it (« Voici : {…} »)."""
    text = (text or "").strip()
    match = _FENCE.match(text)
    text = match.group(1) if match else text
    start, stop = text.find("{"), text.rfind("}")
    return text[start:stop + 1] if 0 <= start < stop else text


def _tool_call(call: Any) -> ToolCall:
    try:
        arguments = json.loads(call.function.arguments or "{}")
    except json.JSONDecodeError as exc:
        raise LLMResponseError(
            f"Arguments JSON invalides dans l'appel d'outil « {call.function.name} » : {exc.msg}."
        ) from exc
    if not isinstance(arguments, dict):
        raise LLMResponseError(
            f"Les arguments de l'appel d'outil « {call.function.name} » ne sont pas un objet JSON."
        )
    return ToolCall(id=call.id, name=call.function.name, arguments=arguments)


def _short_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or "racine"
    return f"{where} : {first.get('msg', 'invalide')}"


def _short_text(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
