"""``autonomie ingest`` (index documents) and ``autonomie status`` (what the index holds)."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from assistant.cli.common import CollectionOption, console, err_console, fail, services_for, settings_for
from assistant.settings import DOC_TYPES


def ingest(
    paths: list[Path] = typer.Argument(..., help="Fichiers ou dossiers à indexer (PDF, DOCX, HTML, Markdown, texte, JSONL)."),
    collection: Optional[str] = CollectionOption,
    doc_type: Optional[str] = typer.Option(None, "--type", help=f"Type des documents sans métadonnées : {', '.join(DOC_TYPES)}."),
    territoire: Optional[str] = typer.Option(None, "--territoire", help="Territoire : code de département (ex. 59) ou « national »."),
    visibilite: Optional[str] = typer.Option(None, "--visibilite", help="« public » ou groupes autorisés séparés par des virgules (ex. dep-59)."),
    prune: bool = typer.Option(False, "--prune", help="Supprimer de l'index les documents de ces chemins qui n'existent plus."),
) -> None:
    """Indexer des documents dans Qdrant (idempotent : relancer ne crée aucun doublon)."""
    if doc_type and doc_type not in DOC_TYPES:
        raise fail(f"type inconnu « {doc_type} » ; valeurs possibles : {', '.join(DOC_TYPES)}.")
    overrides = {
        "doc_type": doc_type,
        "territory": territoire,
        "visibility": [v.strip() for v in visibilite.split(",")] if visibilite else None,
    }
    settings = settings_for(collection)
    with services_for(settings) as services:
        console.print(f"Index : [bold]{services.store.location}[/] — collection « {settings.qdrant.collection} »")
        with _progress() as on_batch:
            pipeline = services.ingestion_pipeline(on_batch=on_batch)
            pipeline.on_ocr_page = _ocr_progress
            report = pipeline.run(paths, overrides, prune=prune)
        if report.chunks_written or report.pruned_documents:
            console.print("Optimisation de l'index (graphe de recherche)…")
            services.store.optimize()
    _print_ingest_report(report)
    raise typer.Exit(1 if report.failed else 0)


def _ocr_progress(name: str, done: int, total: int) -> None:
    """OCR is slow (seconds per page): one line per page read."""
    console.print(f"OCR de {name} (document numérisé) : page {done}/{total} lue", highlight=False)


@contextmanager
def _progress():
    """A progress bar on a terminal; one plain line per written batch otherwise (logs, tests)."""
    if not sys.stdout.isatty():
        def on_batch(done: int, total: int) -> None:
            print(f"lot écrit : {done}/{total} passages", flush=True)

        yield on_batch
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("Indexation"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console) as progress:
        task = progress.add_task("indexation", total=None)

        def on_batch(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield on_batch


def _print_ingest_report(report) -> None:
    table = Table(title="Résumé de l'indexation")
    for column in ("Fichier", "Documents", "Passages", "Écrits", "Inchangés", "État"):
        table.add_column(column)
    for f in report.files:
        state = f"[red]ÉCHEC : {f.error}[/]" if f.error else ("[yellow]" + " ; ".join(f.warnings) + "[/]" if f.warnings else "[green]OK[/]")
        table.add_row(f.path, str(f.documents), str(f.chunks), str(f.written), str(f.unchanged_documents), state)
    console.print(table)
    t = report.timings
    console.print(
        f"{report.chunks_written} passage(s) écrit(s) ; temps : lecture/découpage {t['parse']:.1f} s, "
        f"embeddings {t['embed']:.1f} s, BM25 {t['sparse']:.1f} s, écriture Qdrant {t['upsert']:.1f} s."
    )
    if report.pruned_documents:
        console.print(f"{len(report.pruned_documents)} document(s) retiré(s) de l'index : {', '.join(report.pruned_documents[:20])}")
    if report.failed:
        err_console.print(f"[bold red]{len(report.failed)} fichier(s) en échec[/] (le reste a été indexé).")


def status(collection: Optional[str] = CollectionOption) -> None:
    """Afficher l'état de l'index : nombre de passages par type de document et par territoire."""
    settings = settings_for(collection)
    with services_for(settings) as services:
        store = services.store
        if not store.exists():
            console.print(f"La collection « {settings.qdrant.collection} » n'existe pas encore : lancez « autonomie ingest corpus/ ».")
            raise typer.Exit(0)
        counts = store.counts_by("doc_type", "territory")
        docs = store.doc_states()
    table = Table(title=f"Collection « {settings.qdrant.collection} » ({store.location})")
    for column in ("Type de document", "Territoire", "Passages"):
        table.add_column(column)
    for (doc_type, territory), n in sorted(counts.items()):
        table.add_row(doc_type, territory, str(n))
    console.print(table)
    console.print(f"Total : {sum(counts.values())} passages, {len(docs)} documents.")
