"""What every ``autonomie`` command shares: the consoles, French error lines (``fail``), the common options,
the settings and the services of one command, and Click's own texts in French."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console
from rich.markup import escape

from assistant.settings import DOC_TYPES, Settings, get_settings

if TYPE_CHECKING:
    from assistant.services import Services

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Prints ``Erreur : message`` on standard error; the caller raises the returned exit (code 2: bad input
    or unavailable index; the LLM server commands use 1)."""
    err_console.print(f"[bold red]Erreur :[/] {escape(message)}")
    return typer.Exit(code)


def split(value: Optional[str]) -> list[str]:
    """A comma-separated option's values, blanks dropped."""
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


CollectionOption = typer.Option(None, "--collection", "-c", help="Collection Qdrant (par défaut : celle des réglages).")
TerritoireOption = typer.Option(None, "--territoire", "-t", help="Départements (codes séparés par des virgules, ex. 13,59) ; les textes nationaux restent inclus.")
TypeOption = typer.Option(None, "--type", help=f"Types de documents (séparés par des virgules) : {', '.join(DOC_TYPES)}.")
GroupesOption = typer.Option(None, "--groupes", help="Groupes de l'utilisateur (documents à diffusion restreinte), ex. dep-59.")
HistoriqueOption = typer.Option(False, "--historique", help="Inclure les textes abrogés.")


def settings_for(collection: Optional[str]) -> Settings:
    settings = get_settings()
    if collection:
        settings = settings.model_copy(update={"qdrant": settings.qdrant.model_copy(update={"collection": collection})})
    return settings


@contextmanager
def services_for(settings: Settings) -> Iterator[Services]:
    from assistant.components.embedding import EmbeddingError
    from assistant.components.vector_store import StoreError
    from assistant.services import Services

    services = Services(settings)
    try:
        yield services
    except (StoreError, EmbeddingError) as exc:
        raise fail(str(exc)) from exc
    finally:
        services.close()


def search_filter(territoire: Optional[str], doc_type: Optional[str], groupes: Optional[str], settings: Settings,
                   historique: bool = False):
    from assistant.components.vector_store import SearchFilter

    for t in split(doc_type):
        if t not in DOC_TYPES:
            raise fail(f"type inconnu « {t} » ; valeurs possibles : {', '.join(DOC_TYPES)}.")
    return SearchFilter(doc_types=tuple(split(doc_type)), territories=tuple(split(territoire)),
                        groups=tuple(split(groupes) or settings.access.default_groups), include_abrogated=historique)


def translate_click_texts() -> None:
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


