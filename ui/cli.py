"""``autonomie serve`` (the server), ``autonomie mot-de-passe`` (users file entries) and ``autonomie purge``
(feedback retention and the RGPD right to erasure)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import signal
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)


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
    collection: Optional[str] = typer.Option(None, "--collection", "-c", help="Collection Qdrant (défaut : réglages)."),
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
            err_console.print(
                f"[bold red]Erreur :[/] refus d'écouter sur {ui.host} sans authentification. Configurez "
                "ui.auth (gradio ou header), ou restez sur 127.0.0.1, ou ajoutez --ouvert en connaissance de cause.")
            raise typer.Exit(2)
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
        err_console.print(f"[bold red]Erreur :[/] {exc}")
        raise typer.Exit(2) from exc
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


def purge(
    avant: Optional[str] = typer.Option(None, "--avant", help="Supprimer les avis enregistrés avant cette date (AAAA-MM-JJ)."),
    utilisateur: Optional[str] = typer.Option(None, "--utilisateur", help="Supprimer les avis de cet utilisateur "
                                              "(droit à l'effacement) ; avec --avant : seulement ceux d'avant la date."),
    simulation: bool = typer.Option(False, "--simulation", help="Compter sans rien supprimer."),
    oui: bool = typer.Option(False, "--oui", help="Sans confirmation (scripts, tâches planifiées)."),
) -> None:
    """Supprimer des avis (questions, commentaires, réponses) : ancienneté ou demande d'un utilisateur (RGPD)."""
    from assistant.settings import get_settings
    from ui.feedback import FeedbackStore

    if avant is None and utilisateur is None:
        err_console.print("[bold red]Erreur :[/] indiquez --avant AAAA-MM-JJ et/ou --utilisateur IDENTIFIANT.")
        raise typer.Exit(2)
    before = _date_option(avant)
    settings = get_settings()
    store = FeedbackStore(settings.resolve(settings.ui.feedback_db), settings.ui.feedback_retention_days)
    scope = " et ".join(x for x in (f"antérieurs au {before.isoformat()}" if before else "",
                                     f"de l'utilisateur « {utilisateur} »" if utilisateur else "") if x)
    count = store.purge(before=before, user=utilisateur, dry_run=True)
    if simulation or count == 0:
        console.print(f"{count} avis {scope}" + (" (simulation : rien n'a été supprimé)." if simulation and count else "."))
        return
    if not oui and not typer.confirm(f"Supprimer définitivement {count} avis {scope} ?"):
        raise typer.Exit(1)
    deleted = store.purge(before=before, user=utilisateur)
    console.print(f"{deleted} avis {scope} supprimé(s) définitivement.")
    if before is not None:
        from ui.usage import UsageStore

        events = UsageStore(settings.resolve(settings.ui.feedback_db)).purge(before)
        console.print(f"{events} événement(s) d'usage antérieur(s) au {before.isoformat()} supprimé(s).")


feedback_app = typer.Typer(no_args_is_help=True)


@feedback_app.command("export")
def feedback_export(
    format: str = typer.Option("jsonl", "--format", "-f", help="jsonl ou csv (ignoré avec --comme-eval : JSONL)."),
    comme_eval: bool = typer.Option(False, "--comme-eval", help="Les avis 👎 comme questions d'évaluation candidates "
                                    "(schéma de eval/dataset.py, qid « a-revoir-… » : à relire avant usage)."),
    sortie: Optional[Path] = typer.Option(None, "--sortie", "-o", help="Fichier écrit (défaut : sortie standard)."),
) -> None:
    """Exporter les avis enregistrés (données personnelles masquées)."""
    import json

    from assistant.settings import get_settings
    from ui.feedback import FeedbackStore

    _format_option(format, ("jsonl", "csv"))
    settings = get_settings()
    store = FeedbackStore(settings.resolve(settings.ui.feedback_db), settings.ui.feedback_retention_days)
    if comme_eval:
        records = store.eval_candidates()
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        summary = f"{len(records)} question(s) candidate(s) issue(s) des avis 👎, à relire (qid « a-revoir-… »)."
    else:
        text = store.export(format)
        summary = f"{len(store.rows())} avis exporté(s)."
    _write_output(text, sortie, summary)


def usage(
    depuis: Optional[str] = typer.Option(None, "--depuis", help="Premier jour pris en compte (AAAA-MM-JJ)."),
    format: str = typer.Option("html", "--format", "-f", help="html (page autonome avec graphique) ou csv (une ligne par jour)."),
    sortie: Optional[Path] = typer.Option(None, "--sortie", "-o", help="Fichier écrit (défaut : sortie standard)."),
) -> None:
    """Usage et impact de l'assistant (événements anonymes) : réponses par jour et par département, taux d'abstention
    et de prudence, sujets, avis et leurs raisons, étapes les plus lentes."""
    from assistant.settings import get_settings
    from ui.usage import report_csv, report_html, usage_report

    _format_option(format, ("html", "csv"))
    since = _date_option(depuis)
    settings = get_settings()
    report = usage_report(settings.resolve(settings.ui.feedback_db), since)
    text = report_html(report.figures, since) if format == "html" else report_csv(report)
    _write_output(text, sortie, f"{report.figures['questions']} réponse(s), {len(report.feedback)} avis.")


def _format_option(value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        err_console.print(f"[bold red]Erreur :[/] --format doit valoir {' ou '.join(allowed)}.")
        raise typer.Exit(2)


def _date_option(value: str | None) -> dt.date | None:
    """``AAAA-MM-JJ`` → a date; anything else ends the command with a French error (code 2)."""
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        err_console.print(f"[bold red]Erreur :[/] date invalide « {value} » (format attendu : AAAA-MM-JJ).")
        raise typer.Exit(2) from None


def _write_output(text: str, path: Path | None, summary: str) -> None:
    """``text`` to the file, or to standard output; the summary on standard error."""
    if path is None:
        print(text, end="")
    else:
        path.write_text(text, encoding="utf-8")
    err_console.print(summary)
