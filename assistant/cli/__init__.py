"""The ``autonomie`` command line (French help and messages): one Typer application over the commands of
this package's modules; ``common.py`` holds what they share. The command line is the top layer: it may
import ``ui`` (the server), nothing below imports it."""

from __future__ import annotations

import typer

from assistant.cli import feedback, harmonisation, index, llm, query, server, snapshot
from assistant.cli.common import translate_click_texts

translate_click_texts()

app = typer.Typer(
    help="Assistant Autonomie : indexer le corpus, rechercher, interroger l'assistant, l'évaluer et le servir.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    add_completion=False,
)
app.command()(index.ingest)
app.command()(index.status)
app.command()(query.search)
app.command()(query.ask)
app.command("serve", help="Lancer le serveur : chat Gradio sur / et API HTTP (/api/ask, /v1/chat/completions, /health, /metrics).")(server.serve)
app.command("mot-de-passe")(server.mot_de_passe)
app.command("purge")(feedback.purge)
app.command("usage")(feedback.usage)
app.command("harmoniser")(harmonisation.harmoniser)
app.add_typer(llm.llm_app, name="llm", help="Serveur LLM local (vLLM ou llama.cpp) : démarrer, arrêter, état.")
app.add_typer(feedback.feedback_app, name="feedback", help="Avis des utilisateurs : export (CSV, JSONL, questions d'évaluation à relire).")
app.add_typer(snapshot.snapshot_app, name="snapshot", help="Sauvegarde et restauration de l'index Qdrant (instantanés).")


def main() -> None:
    app()
