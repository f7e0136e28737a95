"""``autonomie search`` (passages) and ``autonomie ask`` (an answer, or a comparison of départements)."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from assistant.cli import common
from assistant.cli.common import (
    CollectionOption,
    GroupesOption,
    HistoriqueOption,
    TerritoireOption,
    TypeOption,
    console,
    fail,
    services_for,
    settings_for,
)

MODES = (None, "extractif", "generatif", "auto")  # the answer modes an option may name (None: the settings')


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
        raise fail("--mode doit valoir hybrid, dense ou sparse.")
    settings = settings_for(collection)
    search_filter = common.search_filter(territoire, doc_type, groupes, settings, historique)
    with services_for(settings) as services:
        try:
            result = services.retriever.run(query, search_filter, top_k=top_k, mode=mode)  # type: ignore[arg-type]
        except QueryError as exc:
            raise fail(str(exc)) from exc
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

    if mode not in MODES:
        raise fail("--mode doit valoir extractif, generatif ou auto.")
    settings = settings_for(collection)
    search_filter = common.search_filter(territoire, doc_type, groupes, settings)
    with services_for(settings) as services:
        try:
            if comparer:
                response = services.assistant.compare(question, comparer.split(","), groups=search_filter.groups, mode=mode)
            else:
                response = services.assistant.ask(question, mode=mode, search_filter=search_filter)
        except (QueryError, ValueError) as exc:
            raise fail(str(exc)) from exc
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
