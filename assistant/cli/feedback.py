"""The users' feedback and the usage events: ``autonomie purge`` (retention, the RGPD right to erasure),
``autonomie feedback export`` and ``autonomie usage`` (the usage and impact report)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Optional

import typer

from assistant.cli.common import console, err_console, fail


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
        raise fail("indiquez --avant AAAA-MM-JJ et/ou --utilisateur IDENTIFIANT.")
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
        raise fail(f"--format doit valoir {' ou '.join(allowed)}.")


def _date_option(value: str | None) -> dt.date | None:
    """``AAAA-MM-JJ`` → a date; anything else ends the command with a French error (code 2)."""
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        raise fail(f"date invalide « {value} » (format attendu : AAAA-MM-JJ).") from None


def _write_output(text: str, path: Path | None, summary: str) -> None:
    """``text`` to the file, or to standard output; the summary on standard error."""
    if path is None:
        print(text, end="")
    else:
        path.write_text(text, encoding="utf-8")
    err_console.print(summary)
