"""The « Harmonisation » tab: the référentiel's questions × the départements the user may see, each cell a
status with the local practice quoted and cited, counts, filters, what changed since the previous run, and
the HTML and XLSX exports for committees.

Built by :func:`harmonisation_tab` inside the UI's ``gr.Tabs`` (one call from ``ui/gradio_app.py``). The
user's groups bound what the matrix reads, exactly as for answers.
"""

from __future__ import annotations

import tempfile
from html import escape
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from assistant.answering.territories import territory_label
from assistant.application import AssistantApplication, RequestError
from assistant.harmonisation.export import render, report_html
from assistant.harmonisation.matrix import STATUS_LABELS, STATUS_ORDER
from assistant.harmonisation.referentiel import ReferentielError
from assistant.harmonisation.service import HarmonisationService

STATUS_CHOICES = [(STATUS_LABELS[s], s) for s in STATUS_ORDER]
MODES = [("Règles (sans LLM)", "extractif"), ("LLM si disponible", "auto")]
INTRO = ("Chaque question du référentiel est posée aux documents de chaque département que vous pouvez consulter : "
         "statut par rapport à la règle nationale, pratique locale citée, raison. Chaque exécution est enregistrée ; "
         "les cellules qui ont changé depuis la précédente sont entourées.")


def harmonisation_tab(backend: AssistantApplication, user_of: Callable[[gr.Request], Any]) -> None:
    """Adds the tab; call it inside ``gr.Tabs()``. The matrix follows the server's settings
    (``harmonisation.referentiel``, ``harmonisation.runs_db``)."""
    service = HarmonisationService(backend.settings, backend.services.assistant.components)
    with gr.Tab("Harmonisation", id="harmonisation") as tab:
        gr.Markdown(INTRO)
        with gr.Row():
            territories = gr.Dropdown(label="Départements (tous si vide)", multiselect=True, choices=[],
                                      elem_id="hm-territories", scale=3)
            questions = gr.Dropdown(label="Questions (toutes si vide)", multiselect=True, choices=[],
                                    elem_id="hm-questions", scale=3)
        with gr.Row():
            statuses = gr.Dropdown(label="Statuts affichés (tous si vide)", multiselect=True, choices=STATUS_CHOICES,
                                   elem_id="hm-statuses", scale=2)
            mode = gr.Radio(label="Statuts décidés par", choices=MODES, value="extractif", scale=2)
            build = gr.Button("Construire la matrice", variant="primary", elem_id="hm-build", scale=1)
        with gr.Row():
            html_file = gr.File(label="Rapport HTML autonome", interactive=False, elem_id="hm-html-file")
            xlsx_file = gr.File(label="Classeur XLSX", interactive=False, elem_id="hm-xlsx-file")
        report = gr.HTML("", elem_id="hm-report")

        def choices(request: gr.Request):
            user = user_of(request)
            try:
                referentiel = service.referentiel()
            except ReferentielError as exc:
                raise gr.Error(str(exc)) from exc
            codes = backend._guarded(lambda: service.territories(user.groups))
            return (gr.Dropdown(choices=[(territory_label(c), c) for c in codes]),
                    gr.Dropdown(choices=[(f"{q.id} — {q.label}", q.id) for q in referentiel.questions]))

        tab.select(choices, outputs=[territories, questions])

        def run(codes: list[str], ids: list[str], shown: list[str], chosen_mode: str, request: gr.Request,
                progress=gr.Progress()):
            user = user_of(request)
            try:
                selected = backend.territory_codes(codes or [])
                progress(0, desc="Matrice en cours")
                matrix, changes = backend._guarded(lambda: service.run(
                    groups=user.groups, territories=selected or None, questions=ids or None, mode=chosen_mode,
                    user=user.name, progress=lambda done, total, _: progress(done / max(total, 1), desc="Matrice en cours")))
            except (RequestError, ReferentielError) as exc:
                raise gr.Error(getattr(exc, "message", str(exc))) from exc
            folder = Path(tempfile.mkdtemp(prefix="harmonisation-"))
            paths = []
            base_url = str(request.request.base_url) if request.request is not None else ""  # links open the viewer
            for fmt in ("html", "xlsx"):
                path = folder / f"harmonisation-{matrix.run_id}.{fmt}"
                path.write_bytes(render(matrix, fmt, changes, base_url))
                paths.append(str(path))
            view = matrix.filtered(statuses=shown) if shown else matrix
            summary = _changes_line(changes)
            return paths[0], paths[1], summary + report_html(view, changes, style=True)

        build.click(run, inputs=[territories, questions, statuses, mode], outputs=[html_file, xlsx_file, report])


def _changes_line(changes: Any) -> str:
    if changes is None:
        return "<p role='status'>Première exécution pour vos droits de lecture : rien à comparer.</p>"
    if not changes.changes:
        return f"<p role='status'>Aucun changement depuis l'exécution n° {changes.before}.</p>"
    docs = ", ".join(changes.changed_documents) or "aucun"
    return (f"<p role='status'>{len(changes.changes)} cellule(s) changée(s) depuis l'exécution n° {changes.before} "
            f"(documents modifiés : {escape(docs)}) : voir « Changements » ci-dessous.</p>")
