"""``autonomie harmoniser``: the harmonisation matrix (questions of the référentiel × départements), exported
for committees (HTML, XLSX, CSV, JSON), stored, and compared with the previous run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from assistant.cli.common import console, fail, services_for, settings_for, split
from assistant.cli.query import MODES


def harmoniser(
    territoires: Optional[str] = typer.Option(None, "--territoires", "-t", help="Départements (codes séparés par des "
                                              "virgules) ; défaut : tous ceux dont une pratique est visible."),
    questions: Optional[str] = typer.Option(None, "--questions", "-q", help="Identifiants des questions du référentiel "
                                            "(ex. Q1,Q5) ; défaut : toutes."),
    fmt: str = typer.Option("html", "--format", "-f", help="html, xlsx, csv ou json."),
    sortie: Optional[Path] = typer.Option(None, "--sortie", "-o", help="Fichier produit (défaut : harmonisation-<n°>.<format> ; "
                                          "« - » : sortie standard pour csv et json)."),
    groupes: Optional[str] = typer.Option(None, "--groupes", help="Groupes du lecteur (documents à diffusion restreinte), ex. dep-59."),
    mode: Optional[str] = typer.Option(None, "--mode", "-m", help="extractif (règles), generatif (le LLM juge les statuts) ou "
                                       "auto (défaut : extractif)."),
    referentiel: Optional[Path] = typer.Option(None, "--referentiel", help="Référentiel des questions (défaut : réglages, "
                                               "corpus/referentiel-pratiques.yaml)."),
    depuis: Optional[int] = typer.Option(None, "--depuis", help="Comparer à l'exécution n° N (défaut : la précédente vue "
                                         "avec les mêmes groupes)."),
    statut: Optional[str] = typer.Option(None, "--statut", help="Ne garder que ces statuts dans le fichier (ex. contraire,divergent)."),
    executions: bool = typer.Option(False, "--executions", help="Lister les exécutions enregistrées et quitter."),
    execution: Optional[int] = typer.Option(None, "--execution", help="Exporter l'exécution n° N enregistrée, sans recalculer."),
    collection: Optional[str] = typer.Option(None, "--collection", "-c", help="Collection Qdrant (défaut : réglages)."),
    adresse: str = typer.Option("", "--adresse", help="Adresse du serveur (ex. https://assistant.exemple.fr) : liens "
                                "absolus vers la visionneuse dans le fichier (défaut : liens /documents/… relatifs)."),
) -> None:
    """Matrice d'harmonisation : chaque question du référentiel pour chaque département, statut sourcé et raison."""
    from assistant.harmonisation.export import FORMATS, render
    from assistant.harmonisation.matrix import STATUS_ORDER
    from assistant.harmonisation.referentiel import ReferentielError
    from assistant.harmonisation.runs import RunNotFound, RunStore, diff

    if fmt not in FORMATS:
        raise fail(f"format inconnu « {fmt} » ; formats possibles : {', '.join(FORMATS)}.")
    if mode not in MODES:
        raise fail("--mode doit valoir extractif, generatif ou auto.")
    statuses = split(statut)
    if unknown := [s for s in statuses if s not in STATUS_ORDER]:
        raise fail(f"statut inconnu « {unknown[0]} » ; valeurs possibles : {', '.join(STATUS_ORDER)}.")
    settings = settings_for(collection)
    groups = tuple(split(groupes) or settings.access.default_groups)
    store = RunStore(settings.resolve(settings.harmonisation.runs_db))
    if executions:
        _print_runs(store)
        return
    try:
        if execution is not None:
            matrix = _readable(store.get(execution), groups)
            changes = diff(_readable(store.get(depuis), groups), matrix) if depuis is not None else None
        else:
            codes = _territory_codes(split(territoires))
            with services_for(settings) as services:
                service = services.harmonisation
                with _progress() as progress:
                    matrix, changes = service.run(groups=groups, territories=codes or None, questions=split(questions) or None,
                                                  mode=mode or "extractif", referentiel=referentiel, since=depuis,
                                                  progress=progress)
    except (ReferentielError, RunNotFound, ValueError) as exc:
        raise fail(str(exc)) from exc
    shown = matrix.filtered(statuses=statuses) if statuses else matrix
    data = render(shown, fmt, changes, adresse)
    if sortie is not None and str(sortie) == "-" and fmt in ("csv", "json"):
        sys.stdout.buffer.write(data)
        return
    path = sortie or Path(f"harmonisation-{matrix.run_id or 'export'}.{fmt}")
    path.write_bytes(data)
    _print_summary(matrix, changes)
    console.print(f"Fichier écrit : [bold]{path}[/] (exécution n° {matrix.run_id}).")


def _readable(matrix, groups: tuple[str, ...]):
    """A stored run the reader may see: made with no wider reading rights than the reader's groups."""
    if not set(matrix.groups) <= set(groups):
        raise ValueError(f"L'exécution n° {matrix.run_id} a été faite avec des droits de lecture plus larges "
                         f"({', '.join(matrix.groups)}).")
    return matrix


def _territory_codes(values: list[str]) -> list[str]:
    from assistant.answering.territories import normalise_code

    codes = []
    for value in values:
        code = normalise_code(value)
        if code is None:
            raise fail(f"département inconnu « {value} » (code attendu, ex. 59, 2A, 974).")
        codes.append(code)
    return codes


class _progress:
    """A progress bar on a terminal; nothing otherwise (logs, tests)."""

    def __enter__(self):
        if not sys.stdout.isatty():
            self._bar = None
            return None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(TextColumn("Matrice"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console)
        self._bar.__enter__()
        task = self._bar.add_task("matrice", total=None)
        return lambda done, total, _label: self._bar.update(task, completed=done, total=total)

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.__exit__(*exc)


def _print_summary(matrix, changes) -> None:
    from assistant.answering.territories import territory_label
    from assistant.harmonisation.matrix import STATUS_LABELS, STATUS_ORDER

    table = Table(title=f"Matrice d'harmonisation — {len(matrix.rows)} question(s), {matrix.timings.get('total_s', 0):.0f} s")
    table.add_column("Territoire")
    for status in STATUS_ORDER:
        table.add_column(STATUS_LABELS[status], justify="right")
    for code, counts in matrix.counts_by_territory().items():
        table.add_row(territory_label(code), *(str(counts.get(s, 0)) for s in STATUS_ORDER))
    console.print(table)
    for warning in matrix.warnings:
        console.print(f"[yellow]⚠ {warning}[/]")
    if changes is None:
        return
    if not changes.changes:
        console.print(f"Aucun changement depuis l'exécution n° {changes.before}.")
        return
    if changes.changed_documents:
        console.print(f"Documents modifiés depuis l'exécution n° {changes.before} : {', '.join(changes.changed_documents)}")
    diff_table = Table(title=f"Changements depuis l'exécution n° {changes.before}")
    for column in ("Question", "Territoire", "Changement", "Avant", "Après"):
        diff_table.add_column(column)
    for c in changes.changes:
        before = f"{c.before.status} — {c.before.quote[:120]}" if c.before else "—"
        after = f"{c.after.status} — {c.after.quote[:120]}" if c.after else "—"
        diff_table.add_row(f"{c.question_id} {c.label}", territory_label(c.territory), c.kind, before, after)
    console.print(diff_table)


def _print_runs(store) -> None:
    runs = store.runs()
    if not runs:
        console.print("Aucune exécution enregistrée.")
        return
    table = Table(title="Exécutions de la matrice d'harmonisation")
    for column in ("N°", "Date", "Mode", "Groupes", "Territoires", "Questions"):
        table.add_column(column)
    for r in runs:
        table.add_row(str(r.id), r.created_at, r.mode, ", ".join(r.groups) or "public", str(len(r.territories)), str(len(r.questions)))
    console.print(table)
