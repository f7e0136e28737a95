"""``autonomie snapshot``: back up and restore the index (the work: ``assistant.components.vector_store.snapshots``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from assistant.cli.common import CollectionOption, console, fail
from assistant.components.vector_store import StoreError, snapshots
from assistant.settings import QdrantSettings, get_settings

snapshot_app = typer.Typer(
    help="Sauvegarder et restaurer l'index Qdrant (instantanés du serveur ou archives de l'index embarqué).",
    no_args_is_help=True,
    add_completion=False,
)
DirOption = typer.Option(
    snapshots.DEFAULT_DIR, "--dossier", "-d", help="Dossier local des sauvegardes (relatif au dossier courant)."
)
NodeOption = typer.Option(
    None, "--noeud", help="Mode serveur : URL REST d'un nœud Qdrant précis (en grappe, un instantané par nœud). "
    "Par défaut : qdrant.url des réglages.",
)


def _qdrant_settings(collection: Optional[str]) -> QdrantSettings:
    qdrant = get_settings().qdrant
    return qdrant.model_copy(update={"collection": collection}) if collection else qdrant


@contextmanager
def _user_errors() -> Iterator[None]:
    """Index, backup and server failures: one French error line and exit code 2."""
    try:
        yield
    except StoreError as exc:
        raise fail(str(exc)) from exc


def _confirm(question: str) -> bool:
    answer = typer.prompt(f"{question} [o/N]", default="n", show_default=False)
    return answer.strip().lower() in ("o", "oui", "y", "yes")


def _size(n_bytes: int | None) -> str:
    return "?" if n_bytes is None else f"{n_bytes / 1_000_000:.1f} Mo"


@snapshot_app.command("create")
def create(
    collection: Optional[str] = CollectionOption,
    dossier: Path = DirOption,
    noeud: Optional[str] = NodeOption,
    garder_sur_serveur: bool = typer.Option(
        False, "--garder-sur-serveur", help="Mode serveur : laisser aussi l'instantané sur le disque du serveur."
    ),
) -> None:
    """Sauvegarder la collection dans le dossier local (instantané Qdrant ou archive de l'index embarqué)."""
    settings = _qdrant_settings(collection)
    if settings.url or noeud:
        with _user_errors(), snapshots.server_snapshots(settings, noeud) as (server, url):
            path = server.create(dossier, keep_on_server=garder_sur_serveur)
        console.print(f"Instantané de « {settings.collection} » pris sur {url} : [bold]{path}[/] ({_size(path.stat().st_size)}).")
        if not garder_sur_serveur:
            console.print("[dim]Copie supprimée du disque du serveur (--garder-sur-serveur pour la conserver).[/]")
        return
    with _user_errors():
        path, manifest = snapshots.create_embedded(settings, dossier)
    console.print(
        f"Sauvegarde de l'index embarqué « {settings.collection} » ({manifest['points']} points) : "
        f"[bold]{path}[/] ({_size(path.stat().st_size)})."
    )


@snapshot_app.command("list")
def list_snapshots(
    collection: Optional[str] = CollectionOption,
    dossier: Path = DirOption,
    noeud: Optional[str] = NodeOption,
) -> None:
    """Lister les sauvegardes du dossier local et, en mode serveur, les instantanés présents sur le serveur."""
    settings = _qdrant_settings(collection)
    files = snapshots.local_backups(dossier)
    table = Table(title=f"Sauvegardes locales ({dossier})")
    for column in ("Fichier", "Taille", "Date", "Contenu"):
        table.add_column(column)
    for path, content in files:
        stat = path.stat()
        date = dt.datetime.fromtimestamp(stat.st_mtime).strftime("%d/%m/%Y %H:%M")
        table.add_row(path.name, _size(stat.st_size), date, content)
    console.print(table if files else f"Aucune sauvegarde dans {dossier}.")
    if not (settings.url or noeud):
        return
    with _user_errors(), snapshots.server_snapshots(settings, noeud) as (server, url):
        remote = server.list()
    table = Table(title=f"Instantanés de « {settings.collection} » sur {url}")
    for column in ("Nom", "Taille", "Date"):
        table.add_column(column)
    for item in remote:
        table.add_row(item.name, _size(item.size), str(item.creation_time or "?"))
    console.print(table if remote else f"Aucun instantané de « {settings.collection} » sur {url}.")


@snapshot_app.command("restore")
def restore(
    fichier: str = typer.Argument(..., help="Sauvegarde à restaurer : fichier local (ou, en mode serveur, URL lisible par le serveur)."),
    collection: Optional[str] = CollectionOption,
    noeud: Optional[str] = NodeOption,
    oui: bool = typer.Option(False, "--oui", "-y", help="Ne pas demander de confirmation."),
) -> None:
    """Remplacer le contenu de la collection par une sauvegarde (l'index embarqué actuel est mis de côté)."""
    settings = _qdrant_settings(collection)
    server_mode = bool(settings.url or noeud)
    if not server_mode and not Path(fichier).is_file():
        raise fail(f"Fichier de sauvegarde introuvable : {fichier}")
    if not oui and not _confirm(f"Remplacer le contenu de la collection « {settings.collection} » par la sauvegarde {fichier} ?"):
        console.print("Restauration annulée.")
        raise typer.Exit(1)
    if server_mode:
        with _user_errors(), snapshots.server_snapshots(settings, noeud) as (server, url):
            points = server.restore(fichier)
        console.print(f"Collection « {settings.collection} » restaurée sur {url} : {points} points.")
        return
    with _user_errors():
        points, aside = snapshots.restore_embedded(settings, Path(fichier))
    console.print(f"Index embarqué « {settings.collection} » restauré : {points} points.")
    if aside is not None:
        console.print(f"L'ancien index est conservé dans {aside} (à supprimer une fois la restauration vérifiée).")
