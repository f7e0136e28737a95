"""The ``autonomie`` command line (French help and messages)."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import typer
from rich.console import Console
from rich.table import Table

from assistant.settings import DOC_TYPES, Settings, get_settings

def _translate_click_texts() -> None:
    """Click's and Typer's built-in texts (help option, panels, usage errors) in French."""
    import click.core
    import click.decorators
    import click.exceptions
    import typer.rich_utils as rich_utils

    texts = {
        "Show this message and exit.": "Afficher cette aide et quitter.",
        "Missing argument": "Argument manquant",
        "Missing option": "Option manquante",
        "Missing argument '{param_hint}'.": "Argument manquant : {param_hint}.",
        "Missing option '{param_hint}'.": "Option manquante : {param_hint}.",
        "No such option: {name}": "Option inconnue : {name}",
        "Invalid value": "Valeur invalide",
        "Invalid value for {param_hint}: {message}": "Valeur invalide pour {param_hint} : {message}",
    }
    for module in (click.core, click.decorators, click.exceptions):
        module._ = lambda text, _texts=texts: _texts.get(text, text)  # type: ignore[attr-defined]
    try:  # recent Typer vendors Click: its help option text is set in typer._click.decorators
        import typer._click.decorators as typer_decorators

        english_help_option = typer_decorators.help_option

        def help_option(param_decls):
            apply = english_help_option(param_decls)

            def decorator(command):
                result = apply(command)
                command.params[-1].help = texts["Show this message and exit."]
                return result

            return decorator

        typer_decorators.help_option = help_option
    except ImportError:
        pass
    rich_utils.ARGUMENTS_PANEL_TITLE = "Arguments"
    rich_utils.OPTIONS_PANEL_TITLE = "Options"
    rich_utils.COMMANDS_PANEL_TITLE = "Commandes"
    rich_utils.ERRORS_PANEL_TITLE = "Erreur"
    rich_utils.ABORTED_TEXT = "Interrompu."
    rich_utils.REQUIRED_LONG_STRING = "[obligatoire]"
    rich_utils.DEFAULT_STRING = "[défaut : {}]"
    rich_utils.RICH_HELP = "Essayez [blue]'{command_path} {help_option}'[/] pour l'aide."


_translate_click_texts()

app = typer.Typer(
    help="Assistant Autonomie : indexer le corpus, rechercher, interroger l'assistant, l'évaluer et le servir.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)

CollectionOption = typer.Option(None, "--collection", "-c", help="Collection Qdrant (par défaut : celle des réglages).")


def _settings(collection: Optional[str]) -> Settings:
    settings = get_settings()
    if collection:
        settings = settings.model_copy(update={"qdrant": settings.qdrant.model_copy(update={"collection": collection})})
    return settings


@contextmanager
def _services(settings: Settings) -> Iterator["Services"]:
    from assistant.components.embedding import EmbeddingError
    from assistant.components.vector_store import StoreError
    from assistant.services import Services

    services = Services(settings)
    try:
        yield services
    except (StoreError, EmbeddingError) as exc:
        err_console.print(f"[bold red]Erreur :[/] {exc}")
        raise typer.Exit(2) from exc
    finally:
        services.close()


@app.command()
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
        err_console.print(f"[bold red]Erreur :[/] type inconnu « {doc_type} » ; valeurs possibles : {', '.join(DOC_TYPES)}.")
        raise typer.Exit(2)
    overrides = {
        "doc_type": doc_type,
        "territory": territoire,
        "visibility": [v.strip() for v in visibilite.split(",")] if visibilite else None,
    }
    settings = _settings(collection)
    with _services(settings) as services:
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


@app.command()
def status(collection: Optional[str] = CollectionOption) -> None:
    """Afficher l'état de l'index : nombre de passages par type de document et par territoire."""
    settings = _settings(collection)
    with _services(settings) as services:
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


def _search_filter(territoire: Optional[str], doc_type: Optional[str], groupes: Optional[str], settings: Settings,
                   historique: bool = False):
    from assistant.components.vector_store import SearchFilter

    def split(value: Optional[str]) -> tuple[str, ...]:
        return tuple(v.strip() for v in value.split(",") if v.strip()) if value else ()

    for t in split(doc_type):
        if t not in DOC_TYPES:
            err_console.print(f"[bold red]Erreur :[/] type inconnu « {t} » ; valeurs possibles : {', '.join(DOC_TYPES)}.")
            raise typer.Exit(2)
    return SearchFilter(doc_types=split(doc_type), territories=split(territoire),
                        groups=split(groupes) or tuple(settings.access.default_groups), include_abrogated=historique)


TerritoireOption = typer.Option(None, "--territoire", "-t", help="Départements (codes séparés par des virgules, ex. 13,59) ; les textes nationaux restent inclus.")
TypeOption = typer.Option(None, "--type", help=f"Types de documents (séparés par des virgules) : {', '.join(DOC_TYPES)}.")
GroupesOption = typer.Option(None, "--groupes", help="Groupes de l'utilisateur (documents à diffusion restreinte), ex. dep-59.")
HistoriqueOption = typer.Option(False, "--historique", help="Inclure les textes abrogés.")


@app.command()
def search(
    query: str = typer.Argument(..., help="La question ou les mots recherchés."),
    territoire: Optional[str] = TerritoireOption,
    doc_type: Optional[str] = TypeOption,
    groupes: Optional[str] = GroupesOption,
    historique: bool = HistoriqueOption,
    top_k: Optional[int] = typer.Option(None, "--top-k", "-k", min=1, max=200, help="Nombre de passages (défaut : réglages)."),
    mode: str = typer.Option("hybrid", "--mode", help="hybrid (défaut), dense ou sparse (BM25 seul)."),
    as_json: bool = typer.Option(False, "--json", help="Sortie JSON (liste de passages) pour d'autres outils."),
    collection: Optional[str] = CollectionOption,
) -> None:
    """Rechercher les passages les plus pertinents, avec leurs références de citation."""
    import json

    from assistant.retrieval.retriever import QueryError

    if mode not in ("hybrid", "dense", "sparse"):
        err_console.print("[bold red]Erreur :[/] --mode doit valoir hybrid, dense ou sparse.")
        raise typer.Exit(2)
    settings = _settings(collection)
    search_filter = _search_filter(territoire, doc_type, groupes, settings, historique)
    with _services(settings) as services:
        try:
            result = services.retriever.run(query, search_filter, top_k=top_k, mode=mode)  # type: ignore[arg-type]
        except QueryError as exc:
            err_console.print(f"[bold red]Erreur :[/] {exc}")
            raise typer.Exit(2) from exc
    if as_json:
        fields = ("doc_id", "title", "section_path", "article", "page", "territory", "doc_type", "score", "text")
        print(json.dumps([p.model_dump(include=set(fields)) for p in result.passages], ensure_ascii=False, indent=2))
        return
    if result.expansion.changed:
        console.print(f"[dim]Glossaire : recherche élargie avec « {' ; '.join(result.expansion.added)} »[/]")
    if not result.passages:
        console.print("Aucun passage trouvé.")
    for rank, p in enumerate(result.passages, start=1):
        console.print(f"[bold]{rank}. {p.location()}[/]  [dim]({p.doc_type}, {p.territory}, score {p.score:.3f})[/]")
        console.print("   " + (p.text[:400] + ("…" if len(p.text) > 400 else "")).replace("\n", " "))


@app.command()
def ask(
    question: str = typer.Argument(..., help="La question, en français."),
    mode: Optional[str] = typer.Option(None, "--mode", "-m", help="extractif, generatif ou auto (défaut : réglages)."),
    comparer: Optional[str] = typer.Option(None, "--comparer", help="Comparer des départements (codes séparés par des virgules, ex. 13,59,69)."),
    territoire: Optional[str] = TerritoireOption,
    doc_type: Optional[str] = TypeOption,
    groupes: Optional[str] = GroupesOption,
    as_json: bool = typer.Option(False, "--json", help="Afficher l'objet réponse complet en JSON."),
    collection: Optional[str] = CollectionOption,
) -> None:
    """Poser une question à l'assistant : réponse sourcée (ou abstention), citations vérifiées."""
    from assistant.retrieval.retriever import QueryError

    if mode not in (None, "extractif", "generatif", "auto"):
        err_console.print("[bold red]Erreur :[/] --mode doit valoir extractif, generatif ou auto.")
        raise typer.Exit(2)
    settings = _settings(collection)
    search_filter = _search_filter(territoire, doc_type, groupes, settings)
    with _services(settings) as services:
        try:
            if comparer:
                response = services.assistant.compare(question, comparer.split(","), groups=search_filter.groups, mode=mode)
            else:
                response = services.assistant.ask(question, mode=mode, search_filter=search_filter)
        except (QueryError, ValueError) as exc:
            err_console.print(f"[bold red]Erreur :[/] {exc}")
            raise typer.Exit(2) from exc
    if as_json:
        print(response.model_dump_json(indent=2))
        return
    _print_response(response)


def _print_response(response) -> None:
    badge = "[yellow]ABSTENTION[/]" if response.abstained else ("[magenta]génératif[/]" if response.mode == "generatif" else "[cyan]extractif[/]")
    confidence = (f" — confiance {response.confidence} ({response.answerability:.2f})".replace(".", ",")
                  if response.confidence and response.answerability is not None else "")
    console.print(f"Mode : {badge}{confidence}")
    for warning in response.warnings:
        console.print(f"[yellow]⚠ {warning}[/]")
    if response.glossary_added:
        console.print(f"[dim]Glossaire : {' ; '.join(response.glossary_added)}[/]")
    console.print(response.answer)
    if response.comparison:
        table = Table(title="Comparaison des territoires")
        for column in ("Territoire", "Statut", "Note", "Source"):
            table.add_column(column)
        for row in response.comparison.territories:
            source = "; ".join(f"{c.location()} ({c.url})" for c in row.citations) or "—"
            table.add_row(row.name, row.status, row.note, source)
        console.print(table)
    if response.citations:
        console.print("\n[bold]Sources[/]")
        for c in response.citations:
            console.print(f"[{c.marker}] {c.location()} ({c.territory})",
                          highlight=False, markup=False)
            console.print(f"    [dim]{c.url}[/]", highlight=False)
    v = response.verification
    if v.checked:
        console.print(f"[dim]Vérification : {v.supported}/{v.checked} phrase(s) étayée(s) par leurs sources.[/]")


def _register_subcommands() -> None:
    from assistant.cli_llm import llm_app

    from assistant.cli_harmonisation import harmoniser
    from assistant.cli_snapshot import snapshot_app
    from ui.cli import feedback_app, mot_de_passe, purge, serve, usage

    app.command("serve", help="Lancer le serveur : chat Gradio sur / et API HTTP (/api/ask, /v1/chat/completions, /health, /metrics).")(serve)
    app.command("mot-de-passe")(mot_de_passe)
    app.command("purge")(purge)
    app.command("usage")(usage)
    app.command("harmoniser")(harmoniser)

    app.add_typer(llm_app, name="llm", help="Serveur LLM local (vLLM ou llama.cpp) : démarrer, arrêter, état.")
    app.add_typer(feedback_app, name="feedback", help="Avis des utilisateurs : export (CSV, JSONL, questions d'évaluation à relire).")
    app.add_typer(snapshot_app, name="snapshot", help="Sauvegarde et restauration de l'index Qdrant (instantanés).")


_register_subcommands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
