"""The chat UI (Gradio): « Poser une question », « Comparer les territoires », « Harmonisation », « Sources », and
« Usage » for the members of ``ui.usage_groups``.

Every event resolves the caller from its Gradio request (login, proxy headers or local user), so the
UI sees exactly what the API would show the same user.
"""

from __future__ import annotations

import time
from html import escape
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.answering.schema import AssistantResponse, Turn
from assistant.answering.territories import DEPARTEMENTS, name_of
from assistant.application import AssistantApplication, RequestError
from assistant.settings import DOC_TYPE_LABELS
from ui.auth import AccessError, Authenticator, User, peer_of
from ui.feedback import REASON_LABELS, FeedbackIn
from ui.harmonisation_tab import harmonisation_tab
from ui.usage import USAGE_CSS
from ui.usage_tab import usage_tab
from ui import render

STATIC = Path(__file__).parent / "static"
CSS = (STATIC / "app.css").read_text(encoding="utf-8") + "\n" + USAGE_CSS
HEAD = f"<script>{(STATIC / 'app.js').read_text(encoding='utf-8')}</script>"
# Primary buttons dark enough for white text (Gradio's default orange is below 3:1). One font everywhere: Gradio's
# own Source Sans Pro files, regular and bold (its semi-bold file holds capitals only, so semi-bold headings were
# drawn half in a fallback font); semi-bold text uses the bold file.
THEME = gr.themes.Default(primary_hue="blue", font=[gr.themes.LocalFont("Source Sans Pro", weights=(400, 700)),
                                                    "ui-sans-serif", "system-ui", "sans-serif"]).set(
    button_primary_background_fill="*primary_700",
    button_primary_background_fill_hover="*primary_800",
    button_primary_text_color="white",
)
# French wording of Gradio's own texts where its translation says « télécharger » for an upload.
I18N = gr.I18n(fr={
    "upload_text.click_to_upload": "Cliquez pour téléverser un fichier",
    "file.uploading": "Téléversement…",
    "blocks.waiting_for_inputs": "Téléversement du ou des fichiers en cours, réessayez dans un instant.",
})
EXAMPLES = [
    "Une personne évaluée en GIR 5 peut-elle toucher l'APA ?",
    "Quels sont les plafonds mensuels du plan d'aide APA par GIR en 2025 ?",
    "Jusqu'à combien la PCH finance-t-elle l'aménagement du logement ?",
    "Dans la grille AGGIR, que veulent dire S, T, C et H ?",
    "Combien de temps dure le congé de proche aidant ?",
]
COMPARE_EXAMPLE = "Quel est le délai de décision pour une demande d'APA ?"
MODES = [("Automatique", "auto"), ("Génératif (LLM)", "generatif"), ("Extractif (citations exactes)", "extractif")]
RATINGS = [("👍 Utile", "positif"), ("👎 Pas utile", "negatif")]
TYPE_CHOICES = [(label, value) for value, label in DOC_TYPE_LABELS.items()]
ALL_TERRITORIES = [("National", "national")] + [(f"{code} — {name}", code) for code, name in DEPARTEMENTS.items()]
VALIDITY_CHOICES = [("Toutes", "")] + [(label, value) for value, label in render.VALIDITY_LABELS.items()]


def build_ui(backend: AssistantApplication, auth: Authenticator) -> gr.Blocks:
    def user_of(request: gr.Request) -> User:
        try:
            return auth.from_session(getattr(request, "username", None), request.headers, peer_of(request))
        except AccessError as exc:
            raise gr.Error(exc.message) from exc

    with gr.Blocks(title="Assistant Autonomie", fill_width=True) as demo:
        turns = gr.State([])
        with gr.Row(equal_height=True):
            gr.Markdown("# Assistant Autonomie\nRecherche documentaire sourcée pour la branche Autonomie "
                        "(APA, PCH, AGGIR, GEVA, ASH…) : chaque réponse renvoie aux passages des documents.")
            who = gr.Markdown("", elem_id="who")
            if auth.mode == "gradio":
                gr.Button("Se déconnecter", link="/logout", size="sm", scale=0)

        with gr.Tabs():
            # --- chat --------------------------------------------------------------------------
            with gr.Tab("Poser une question", id="chat"):
                with gr.Row():
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(label="Conversation", height=520, sanitize_html=True, feedback_options=None,
                                             placeholder="Posez une question sur l'APA, la PCH, la grille AGGIR, le GEVA…")
                        question = gr.Textbox(label="Votre question", placeholder="Ex. : délai d'instruction de l'APA à domicile",
                                              lines=1, max_lines=6, elem_id="question")
                        with gr.Row():
                            send = gr.Button("Envoyer", variant="primary", elem_id="send")
                            reset = gr.Button("Nouvelle conversation", elem_id="reset")
                        gr.Examples(EXAMPLES, inputs=[question], label="Exemples de questions")
                        with gr.Accordion("Filtres et mode de réponse", open=False):
                            territories = gr.Dropdown(label="Territoire(s)", multiselect=True, choices=[],
                                                      info="Départements ; les textes nationaux restent inclus.")
                            types = gr.Dropdown(label="Type de document", multiselect=True, choices=TYPE_CHOICES)
                            mode = gr.Radio(label="Mode de réponse", choices=MODES, value="auto")
                        with gr.Group(elem_id="feedback"):
                            gr.Markdown("### Votre avis sur la dernière réponse")
                            rating = gr.Radio(label="Cette réponse vous a-t-elle aidé(e) ?", choices=RATINGS, elem_id="rating")
                            reason = gr.Dropdown(label="Raison (avis négatif)", choices=[(v, k) for k, v in REASON_LABELS.items()],
                                                 value=None, elem_id="reason")
                            comment = gr.Textbox(label="Commentaire (facultatif)", lines=2, elem_id="comment")
                            send_feedback = gr.Button("Envoyer l'avis", elem_id="send-feedback")
                            feedback_status = gr.Markdown("", elem_id="feedback-status")
                    with gr.Column(scale=2):
                        gr.Markdown("### Source")
                        panel = gr.HTML(render.empty_panel(), elem_id="source-panel")
                cite_key = gr.Textbox(visible="hidden", label="Renvoi ouvert", elem_id="cite-key")
                cite_open = gr.Button("Ouvrir la source", visible="hidden", elem_id="cite-open")

            # --- comparison -------------------------------------------------------------------------
            with gr.Tab("Comparer les territoires", id="comparer"):
                compare_question = gr.Textbox(label="Question", value=COMPARE_EXAMPLE, lines=2, elem_id="compare-question")
                compare_territories = gr.Dropdown(label="Départements à comparer", multiselect=True, choices=[],
                                                  elem_id="compare-territories")
                compare_button = gr.Button("Comparer", variant="primary", elem_id="compare")
                comparison = gr.HTML("", elem_id="comparison")

            harmonisation_tab(backend, user_of)  # « Harmonisation » (ui/harmonisation_tab.py)

            # --- sources ------------------------------------------------------------------------------
            with gr.Tab("Sources", id="sources"):
                listed = gr.State([])  # the documents visible to the user, filtered here without a new query
                with gr.Row(equal_height=True):
                    doc_query = gr.Textbox(label="Rechercher (titre, identifiant, fichier)", elem_id="doc-query", scale=3)
                    doc_types = gr.Dropdown(label="Type", multiselect=True, choices=TYPE_CHOICES, elem_id="doc-types",
                                            scale=2)
                    doc_territories = gr.Dropdown(label="Territoire", multiselect=True, choices=[],
                                                  elem_id="doc-territories", scale=2)
                    doc_validity = gr.Dropdown(label="Validité", choices=VALIDITY_CHOICES, value="",
                                               elem_id="doc-validity", scale=1)
                    refresh = gr.Button("Actualiser la liste", size="sm", scale=0)
                documents = gr.HTML("", elem_id="documents")
                with gr.Row():
                    doc_choice = gr.Dropdown(label="Document à ouvrir", choices=[], elem_id="doc-choice", scale=4)
                    open_doc = gr.Button("Ouvrir le document", elem_id="open-doc", scale=1)
                document_view = gr.HTML("", elem_id="document-view")
                with gr.Group(visible=False, elem_id="upload") as upload_group:
                    gr.Markdown("### Ajouter des documents\nLe serveur les indexe lui-même ; un fichier déjà "
                                "téléversé sous le même nom est mis à jour.")
                    upload_files = gr.File(label="Fichiers (PDF, DOCX, HTML, Markdown, texte, JSONL)", file_count="multiple",
                                           type="filepath", elem_id="upload-files")
                    with gr.Row():
                        upload_type = gr.Dropdown(label="Type de document", choices=TYPE_CHOICES, value="fiche")
                        upload_territory = gr.Dropdown(label="Territoire", choices=ALL_TERRITORIES, value="national")
                        upload_visibility = gr.Dropdown(label="Visibilité", multiselect=True, choices=["public"], value=["public"])
                    upload_button = gr.Button("Téléverser et indexer", variant="primary", elem_id="upload-button")
                    upload_status = gr.HTML("", elem_id="upload-status")

            usage = usage_tab(backend, user_of)  # « Usage », ui.usage_groups only (ui/usage_tab.py)

        # --- handlers ------------------------------------------------------------------------------
        def on_load(request: gr.Request):
            user = user_of(request)
            options = [(label, code) for code, label in backend.territories(user)]
            # The chat searches the user's own département by default (national texts stay included).
            own = user.departements
            chat_options = options + [(f"{c} — {name_of(c)}", c) for c in own if c not in {code for _, code in options}]
            docs, *sources = _documents(backend, user)
            groups = ", ".join(user.groups) or "aucun"
            return (
                f"**Utilisateur :** {escape(user.name)} · **groupes :** {escape(groups)}",
                gr.Dropdown(choices=chat_options, value=own),
                gr.Dropdown(choices=options, value=[c for _, c in options[:3]]),
                docs, *sources,
                gr.Group(visible=user.can_upload),
                gr.Dropdown(choices=["public", *user.groups], value=["public"]),
                gr.Tab(visible=user.can_see_usage),
            )

        demo.load(on_load, outputs=[who, territories, compare_territories, listed, documents, doc_choice, doc_territories,
                                    upload_group, upload_visibility, usage])

        def chat(text: str, messages: list, state: list, terr: list, doc_types: list, answer_mode: str,
                 request: gr.Request):
            user = user_of(request)
            text = (text or "").strip()
            if not text:
                raise gr.Error("Saisissez une question.")
            history = [Turn(role=role, content=content) for r in state
                       for role, content in (("user", r.question), ("assistant", r.answer))]
            messages = [*messages, {"role": "user", "content": escape(text)},
                        {"role": "assistant", "content": render.streaming_html("Recherche dans les documents…")}]
            yield "", messages, state, gr.update()
            streamed, response = "", None
            try:
                for item in backend.stream(user, text, history=history, mode=answer_mode, territoires=terr,
                                           types=doc_types, channel="interface"):
                    if isinstance(item, AssistantResponse):
                        response = item
                    else:
                        streamed += item
                        messages[-1]["content"] = render.streaming_html(streamed)
                        yield "", messages, state, gr.update()
            except RequestError as exc:
                messages[-1]["content"] = f'<p class="warning">⚠ {escape(exc.message)}</p>'
                yield text, messages, state, gr.update()
                return
            assert response is not None
            state = [*state, response]
            messages[-1]["content"] = render.answer_html(response, str(len(state) - 1))
            yield "", messages, state, ""

        chat_io = dict(inputs=[question, chatbot, turns, territories, types, mode],
                       outputs=[question, chatbot, turns, feedback_status])
        send.click(chat, **chat_io)
        question.submit(chat, **chat_io)
        reset.click(lambda: ([], [], render.empty_panel(), "", None, None, ""),
                    outputs=[chatbot, turns, panel, question, rating, reason, feedback_status])

        def open_source(key: str, state: list[AssistantResponse]) -> str:
            try:
                turn, marker = (int(x) for x in key.split("-"))
                citation = next(c for c in state[turn].citations if c.marker == marker)
            except (ValueError, IndexError, StopIteration):
                return render.empty_panel("Source introuvable dans cette conversation.")
            return render.source_panel(citation)

        cite_open.click(open_source, inputs=[cite_key, turns], outputs=[panel],
                        js="(key, state) => [window.autonomieCite || '', state]")

        def give_feedback(value: str | None, why: str | None, note: str, state: list[AssistantResponse],
                          request: gr.Request) -> str:
            user = user_of(request)
            if not state:
                raise gr.Error("Posez d'abord une question : l'avis porte sur la dernière réponse.")
            if value is None:
                raise gr.Error("Choisissez 👍 Utile ou 👎 Pas utile.")
            try:
                feedback_id = backend.add_feedback(user, FeedbackIn.from_response(state[-1], value, why, note or ""))
            except RequestError as exc:
                raise gr.Error(exc.message) from exc
            return f"Merci : avis n° {feedback_id} enregistré."

        send_feedback.click(give_feedback, inputs=[rating, reason, comment, turns], outputs=[feedback_status])

        def compare(text: str, codes: list[str], request: gr.Request) -> str:
            user = user_of(request)
            try:
                response = backend.compare(user, text, codes or [], channel="interface")
            except RequestError as exc:
                raise gr.Error(exc.message) from exc
            return render.comparison_html(response.comparison)

        compare_button.click(compare, inputs=[compare_question, compare_territories], outputs=[comparison])

        def refresh_documents(request: gr.Request):
            return _documents(backend, user_of(request))

        doc_filters = [listed, doc_query, doc_types, doc_territories, doc_validity]
        refresh.click(refresh_documents, outputs=[listed, documents, doc_choice, doc_territories]).then(
            render.documents_table, inputs=doc_filters, outputs=[documents], show_progress="hidden")
        for control in (doc_query, doc_types, doc_territories, doc_validity):
            (control.submit if control is doc_query else control.change)(
                render.documents_table, inputs=doc_filters, outputs=[documents], show_progress="hidden")

        def show_document(doc_id: str | None, request: gr.Request) -> str:
            if not doc_id:
                raise gr.Error("Choisissez un document.")
            try:
                return render.document_html(backend.document(user_of(request), doc_id))
            except RequestError as exc:
                raise gr.Error(exc.message) from exc

        open_doc.click(show_document, inputs=[doc_choice], outputs=[document_view])

        def upload(files: list[str] | None, doc_type: str, territory: str, visibility: list[str], request: gr.Request):
            user = user_of(request)
            if not files:
                raise gr.Error("Choisissez au moins un fichier.")
            paths: list[Path] = []
            try:
                overrides = backend.upload_overrides(user, doc_type, territory, visibility)
                for path in files:
                    with open(path, "rb") as data:
                        paths.append(backend.save_upload(user, Path(path).name, data))
            except RequestError as exc:
                backend.discard_uploads(paths)
                raise gr.Error(exc.message) from exc
            job, future = backend.submit_ingestion(user, paths, overrides)
            while not future.done():
                yield _progress_html(job), gr.update(), gr.update(), gr.update(), gr.update()
                time.sleep(0.5)
            yield _report_html(job.as_dict()), *_documents(backend, user)

        upload_button.click(upload, inputs=[upload_files, upload_type, upload_territory, upload_visibility],
                            outputs=[upload_status, listed, documents, doc_choice, doc_territories])
    demo.queue(default_concurrency_limit=backend.settings.ui.chat_concurrency)
    return demo


def _documents(backend: AssistantApplication, user: User) -> tuple[list[dict[str, Any]], str, Any, Any]:
    """The user's documents, their table (filters cleared), the viewer's choices and the territory filter's."""
    docs = backend.documents(user)
    codes = sorted({d["territory"] or "national" for d in docs}, key=lambda c: (c != "national", c))
    return (docs, render.documents_table(docs),
            gr.Dropdown(choices=[(f'{d["title"]} ({render.territory_label(d["territory"])})', d["doc_id"]) for d in docs]),
            gr.Dropdown(choices=[(render.territory_label(c), c) for c in codes], value=[]))


def _progress_html(job) -> str:
    state = {"en_attente": "En attente d'un autre téléversement…", "en_cours": "Indexation en cours"}.get(job.state, job.state)
    detail = (f" — fichier {job.files_done + 1}/{len(job.files)} « {escape(job.current_file)} » : "
              + (f"reconnaissance de caractères (OCR), {job.ocr} lue ; " if job.ocr else "")
              + f"{job.written}/{job.to_write or '?'} passages écrits") if job.state == "en_cours" else ""
    done = job.files_done / max(len(job.files), 1)
    return (f'<p role="status">{state}{detail}</p>'
            f'<progress max="1" value="{done:.2f}" aria-label="Avancement de l\'indexation"></progress>')


def _report_html(job: dict[str, Any]) -> str:
    report = job["report"] or {"files": [], "chunks_written": 0, "failed": 0}
    if job["error"]:
        head = f'<p class="warning" role="status">⚠ L\'indexation a échoué : {escape(job["error"])}</p>'
    elif report["failed"]:
        head = f'<p class="warning" role="status">⚠ {report["failed"]} fichier(s) en échec ; le reste est indexé.</p>'
    else:
        head = f'<p role="status">✓ Indexation terminée : {report["chunks_written"]} passage(s) écrit(s).</p>'
    rows = "".join(
        f'<tr><th scope="row">{escape(f["path"])}</th><td>{f["documents"]}</td><td>{f["chunks"]}</td><td>{f["written"]}</td>'
        f'<td>{escape("ÉCHEC : " + f["error"]) if f["error"] else escape(" ; ".join(f["warnings"]) or "OK")}</td></tr>'
        for f in report["files"]
    )
    return (head + '<table class="comparison-table"><caption>Résumé de l\'indexation</caption><thead><tr>'
            '<th scope="col">Fichier</th><th scope="col">Documents</th><th scope="col">Passages</th>'
            f'<th scope="col">Écrits</th><th scope="col">État</th></tr></thead><tbody>{rows}</tbody></table>')
