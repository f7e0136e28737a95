"""``autonomie serve`` (the server: chat and HTTP API) and ``autonomie mot-de-passe`` (users file entries)."""

from __future__ import annotations

import ipaddress
import signal
from typing import Optional

import typer

from assistant.cli.common import CollectionOption, console, err_console, fail


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    host: Optional[str] = typer.Option(None, "--host", help="Adresse d'écoute (défaut : ui.host, 127.0.0.1)."),
    port: Optional[int] = typer.Option(None, "--port", "-p", min=0, max=65535, help="Port (défaut : ui.port, 8000)."),
    ouvert: bool = typer.Option(False, "--ouvert", help="Accepter une adresse non locale SANS authentification "
                                "(déconseillé ; le téléversement est alors désactivé)."),
    collection: Optional[str] = CollectionOption,
) -> None:
    """Lancer le serveur : chat (Gradio) sur http://HOTE:PORT/ et API HTTP (/api, /v1, /health, /metrics)."""
    import uvicorn

    from assistant.components.embedding import EmbeddingError
    from assistant.components.vector_store import StoreError
    from assistant.services import Services
    from assistant.settings import get_settings

    settings = get_settings()
    ui = settings.ui.model_copy(update={k: v for k, v in {"host": host, "port": port}.items() if v is not None})
    if not is_loopback(ui.host) and ui.auth == "none":
        if not ouvert:
            raise fail(f"refus d'écouter sur {ui.host} sans authentification. Configurez ui.auth (gradio ou header), "
                       "ou restez sur 127.0.0.1, ou ajoutez --ouvert en connaissance de cause.")
        ui = ui.model_copy(update={"anonymous_upload": False})
        err_console.print(f"[bold yellow]Attention :[/] serveur ouvert sans authentification sur {ui.host} ; "
                          "téléversement désactivé.")
    update = {"ui": ui}
    if collection:
        update["qdrant"] = settings.qdrant.model_copy(update={"collection": collection})
    settings = settings.model_copy(update=update)

    from ui.server import create_app, mask_logs, server_config

    serving = False

    def stop(signum, frame) -> None:
        # While starting: stop now. While serving, uvicorn handles SIGTERM/SIGINT itself (graceful shutdown),
        # then re-raises the signal once done: it lands here and the command ends normally (exit code 0).
        if not serving:
            raise SystemExit(0)

    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, stop)
    services = Services(settings)
    try:
        console.print(f"Index : [bold]{services.store.location}[/] — collection « {settings.qdrant.collection} »")
        services.embedder.embed_queries(["préchauffage du modèle"])  # first question answered at full speed
        app = create_app(services, settings)
        shown = f"[{ui.host}]" if ":" in ui.host else ui.host
        console.print(f"Assistant Autonomie : http://{shown}:{ui.port}/ (API : /docs) — Ctrl+C pour arrêter.")
        config = server_config(app, settings)  # also sets up uvicorn's loggers
        mask_logs()
        serving = True
        uvicorn.Server(config).run()
    except (StoreError, EmbeddingError, ValueError) as exc:
        raise fail(str(exc)) from exc
    finally:
        services.close()


def mot_de_passe(
    utilisateur: str = typer.Argument(..., help="Identifiant de l'utilisateur."),
    groupes: str = typer.Option("", "--groupes", help="Groupes séparés par des virgules, ex. dep-59,televersement."),
    cle_api: bool = typer.Option(False, "--cle-api", help="Générer aussi une clé d'API (affichée une seule fois)."),
) -> None:
    """Produire l'entrée d'un utilisateur pour le fichier des utilisateurs (ui.users_file)."""
    import yaml

    from ui.auth import hash_password, new_api_key

    password = typer.prompt("Mot de passe", hide_input=True, confirmation_prompt=True)
    entry: dict = {"password_hash": hash_password(password),
                   "groups": [g.strip() for g in groupes.split(",") if g.strip()]}
    if cle_api:
        key, entry["api_key_hash"] = new_api_key()
        err_console.print(f"Clé d'API de {utilisateur} (à transmettre, elle n'est pas conservée) : [bold]{key}[/]")
    print(yaml.safe_dump({"users": {utilisateur: entry}}, allow_unicode=True, sort_keys=False), end="")
