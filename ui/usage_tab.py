"""The « Usage » tab, for members of ``ui.usage_groups`` only: the figures of ``autonomie usage`` (answers per day,
abstention and caution rates, 👍/👎 and their reasons, topics, slowest steps, with plots) for a period, and their CSV.

The figures come from ``ui.usage.usage_report`` (the same computation as the command); the tab only renders
them. The tab is hidden from other users, and its events refuse them too (the page's configuration is public).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from assistant.application import AssistantApplication, RequestError
from ui.auth import User
from ui.usage import report_csv, report_html, usage_report


def usage_panel(feedback_db: Path, user: User, depuis: str | None) -> tuple[str, str]:
    """The tab's HTML and CSV for ``user`` since the day ``depuis`` (``AAAA-MM-JJ``, empty: the whole period);
    403 for a user outside ``ui.usage_groups``, 422 for a malformed date."""
    if not user.can_see_usage:
        raise RequestError(403, "Les chiffres d'usage sont réservés aux groupes d'administration (réglage ui.usage_groups).")
    try:
        since = dt.date.fromisoformat(depuis.strip()) if depuis and depuis.strip() else None
    except ValueError:
        raise RequestError(422, f"Date invalide « {depuis} » (format attendu : AAAA-MM-JJ).") from None
    report = usage_report(feedback_db, since)
    return report_html(report.figures, since, standalone=False), report_csv(report)


def usage_tab(backend: AssistantApplication, user_of: Callable[[gr.Request], User]) -> Any:
    """Adds the tab (hidden; call inside ``gr.Tabs()``) and returns it, for the page's load event to show it to
    ``ui.usage_groups`` members."""
    feedback_db = backend.settings.resolve(backend.settings.ui.feedback_db)
    with gr.Tab("Usage", id="usage", visible=False) as tab:
        gr.Markdown("Usage de l'assistant pour le comité de suivi : événements anonymes, sans identifiant "
                    "d'utilisateur ni texte des questions.")
        with gr.Row(equal_height=True):
            since = gr.Textbox(label="Depuis le (AAAA-MM-JJ, vide : toute la période conservée)", elem_id="usage-since",
                               scale=3)
            refresh = gr.Button("Afficher", variant="primary", elem_id="usage-refresh", scale=1)
            csv_file = gr.File(label="Tableau par jour (CSV)", interactive=False, elem_id="usage-csv", scale=2)
        report = gr.HTML("", elem_id="usage-report")

        def show(depuis: str, request: gr.Request):
            try:
                html, table = usage_panel(feedback_db, user_of(request), depuis)
            except RequestError as exc:
                raise gr.Error(exc.message) from exc
            path = Path(tempfile.mkdtemp(prefix="usage-")) / "usage-par-jour.csv"
            path.write_text(table, encoding="utf-8")
            return html, str(path)

        refresh.click(show, inputs=[since], outputs=[report, csv_file])
        since.submit(show, inputs=[since], outputs=[report, csv_file])
        tab.select(show, inputs=[since], outputs=[report, csv_file])
    return tab
