"""``autonomie llm …``: run, stop and check the local OpenAI-compatible LLM server."""

from __future__ import annotations

import signal
from typing import Any

import typer
from pydantic import ValidationError

from assistant.cli.common import fail
from assistant.components.llm import LLMClient, LLMError, endpoint_file_path
from assistant.llm_server import (
    log_tail,
    pid_file_path,
    read_pid_file,
    start_local_server,
    stop_detached,
    write_pid_file,
)
from assistant.settings import LLMSettings, get_settings

llm_app = typer.Typer(
    help="Serveur LLM local compatible OpenAI (vLLM sur GPU, sinon llama.cpp).", no_args_is_help=True
)


def _fail(message: str) -> typer.Exit:
    return fail(message, code=1)  # the LLM server commands end with code 1 on failure


def _serve_settings(port: int | None, model: str | None, backend: str | None) -> LLMSettings:
    settings = get_settings().llm
    updates: dict[str, Any] = {"serve_port": port, "serve_model": model, "serve_backend": backend}
    updates = {key: value for key, value in updates.items() if value is not None}
    try:
        return LLMSettings.model_validate({**settings.model_dump(), **updates})
    except ValidationError as exc:
        error = exc.errors()[0]
        option = str(error["loc"][0]).removeprefix("serve_")
        raise _fail(f"Valeur invalide pour --{option} : « {error['input']} » ({error['msg']}).") from exc


@llm_app.command("serve")
def serve(
    detach: bool = typer.Option(False, "--detach", "-d", help="Démarre le serveur en arrière-plan et rend la main."),
    port: int | None = typer.Option(None, help="Port d'écoute sur 127.0.0.1 (défaut : llm.serve_port ; 0 = libre)."),
    model: str | None = typer.Option(None, help="Modèle llama.cpp : alias empaqueté (smollm2) ou fichier .gguf."),
    backend: str | None = typer.Option(None, help="Moteur : auto, llama.cpp ou vllm (défaut : llm.serve_backend)."),
) -> None:
    """Démarre le serveur LLM local et écrit son point d'accès pour l'assistant."""
    settings = _serve_settings(port, model, backend)
    pid_file = pid_file_path(settings)
    running = read_pid_file(pid_file)
    if running:
        raise _fail(
            f"Un serveur LLM tourne déjà en arrière-plan (pid {running[0]}, {running[1]}). "
            "Arrêtez-le d'abord : `autonomie llm stop`."
        )
    if not detach:
        # Stop the server on SIGTERM as on Ctrl+C. SIGINT is set too: a process started in the background by a
        # script inherits SIGINT ignored, and Python then never raises KeyboardInterrupt.
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGINT, _interrupt)
    typer.echo("Démarrage du serveur LLM…")
    try:
        handle = start_local_server(settings)
    except LLMError as exc:
        raise _fail(str(exc)) from exc
    except KeyboardInterrupt:
        raise _fail("Démarrage du serveur LLM interrompu.") from None
    if detach:
        handle.detach()
        write_pid_file(pid_file, handle)
        typer.echo(f"Serveur LLM prêt : {handle.base_url} (modèle « {handle.model} », moteur {handle.plan.backend}). "
                   f"Journal : {handle.log_path}")
        typer.echo(f"En arrière-plan (pid {handle.pid}). Pour l'arrêter : `autonomie llm stop`.")
        return
    with handle:  # entered at once: a signal from here on stops the server, wherever it lands
        try:
            typer.echo(
                f"Serveur LLM prêt : {handle.base_url} (modèle « {handle.model} », moteur {handle.plan.backend}). "
                f"Journal : {handle.log_path}\nCtrl+C pour arrêter."
            )
            code = handle.process.wait()
        except KeyboardInterrupt:
            typer.echo("\nArrêt du serveur LLM…")
            return
    raise _fail(
        f"Le serveur LLM s'est arrêté (code {code}). Dernières lignes du journal :\n{log_tail(handle.log_path)}"
    )


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


@llm_app.command("stop")
def stop() -> None:
    """Arrête le serveur LLM démarré avec `autonomie llm serve --detach`."""
    settings = get_settings().llm
    pid = stop_detached(pid_file_path(settings), endpoint_file_path(settings))
    if pid is None:
        typer.echo("Aucun serveur LLM en arrière-plan à arrêter.")
    else:
        typer.echo(f"Serveur LLM arrêté (pid {pid}).")


@llm_app.command("status")
def status() -> None:
    """Indique si le serveur LLM configuré répond, et quels modèles il sert."""
    client = LLMClient(get_settings().llm)
    if not client.base_url:
        raise _fail(
            "Aucun serveur LLM configuré (llm.base_url vide, pas de serveur local démarré). "
            "Démarrez-en un : `make llm`."
        )
    try:
        models = client.list_models()
    except LLMError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"Serveur LLM {client.base_url} : disponible.")
    typer.echo(f"Modèles servis : {', '.join(models) or 'aucun'} ; modèle utilisé : {client.model}.")
