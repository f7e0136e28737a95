"""``python -m eval.run``: index the corpus, ask every question, score, write the report.

Per-question results are saved as they come (``<rapport>/questions/<qid>.json``): ``--resume DIR``
continues an interrupted run without asking the answered questions again.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from assistant.settings import PROJECT_ROOT, get_settings
from eval.dataset import DatasetError, EvalQuestion, load_dataset, load_texts, off_domain_questions
from eval.index import Catalogue, collection_name, ensure_indexed, eval_settings
from eval.judge import Judge
from eval.report import markdown, write_all
from eval.runner import evaluate
from eval.summary import find_previous, summarise

DEFAULT_DATASET = PROJECT_ROOT / "eval" / "datasets" / "demo-questions.jsonl"
console = Console(stderr=True)


def select(questions: list[EvalQuestion], limit: int | None, seed: int) -> list[EvalQuestion]:
    """``limit`` questions drawn with ``seed``, round-robin over categories so that each stays represented."""
    if not limit or limit >= len(questions):
        return questions
    by_category: dict[str, list[EvalQuestion]] = defaultdict(list)
    for question in questions:
        by_category[question.category].append(question)
    rng = random.Random(seed)
    pools = [rng.sample(items, len(items)) for _, items in sorted(by_category.items())]
    chosen: list[EvalQuestion] = []
    while len(chosen) < limit:
        for pool in pools:
            if pool and len(chosen) < limit:
                chosen.append(pool.pop())
    order = {q.qid: i for i, q in enumerate(questions)}
    return sorted(chosen, key=lambda q: order[q.qid])


def _cache_path(report_dir: Path, qid: str) -> Path:
    return report_dir / "questions" / (re.sub(r"[^\w.-]", "_", qid) + ".json")


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def main(
    dataset: Path = typer.Option(DEFAULT_DATASET, help="Jeu de questions (JSONL)."),
    corpus: Optional[Path] = typer.Option(
        None, help="Corpus à indexer (dossier avec manifeste, ou fichier JSONL) ; défaut : data.corpus_dir."),
    limit: Optional[int] = typer.Option(None, min=1, help="Nombre de questions (tirage stratifié par catégorie)."),
    seed: int = typer.Option(0, help="Graine du tirage de --limit."),
    mode: str = typer.Option("extractif", help="auto | extractif | generatif (comparaisons : statuts par les règles en extractif, par le LLM en génératif)."),
    out: Optional[Path] = typer.Option(None, help="Dossier du rapport ; défaut : eval/reports/<horodatage>."),
    resume: Optional[Path] = typer.Option(None, help="Reprendre un run interrompu dans ce dossier de rapport."),
    sans_source: bool = typer.Option(
        False, "--sans-source",
        help="Poser chaque question en excluant ses documents attendus de la recherche : le corpus n'y répond plus, "
             "l'assistant doit s'abstenir (questions « hors corpus » réalistes)."),
    hors_domaine: Optional[Path] = typer.Option(
        None, "--hors-domaine", metavar="FICHES",
        help="Jeu service-public posé à un autre corpus (démonstration, CASF) : ne garder que les questions dont ni "
             "les mots ni la fiche attendue (FICHES, fiches.jsonl) ne touchent l'action sociale ou l'autonomie "
             "(passeport, copropriété, permis…) ; le corpus n'y répond pas, l'assistant doit s'abstenir."),
) -> None:
    """Évalue l'assistant (recherche, citations, réponses, abstention, coût) et écrit un rapport."""
    if mode not in ("auto", "extractif", "generatif"):
        raise typer.BadParameter("mode : auto, extractif ou generatif.", param_hint="--mode")
    settings = get_settings()
    corpus = (corpus or settings.resolve(settings.data.corpus_dir)).resolve()
    if not corpus.exists():
        console.print(f"[red]Corpus introuvable : {corpus}[/red]")
        raise typer.Exit(2)
    if sans_source and hors_domaine:
        console.print("[red]--sans-source et --hors-domaine ne se combinent pas : choisissez l'une des deux variantes.[/red]")
        raise typer.Exit(2)
    try:
        questions = load_dataset(dataset)
        if hors_domaine:
            questions = off_domain_questions(questions, load_texts(hors_domaine))
            if not questions:
                raise DatasetError(f"{dataset} : aucune question hors domaine.")
        questions = select(questions, limit, seed)
    except DatasetError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2)

    created = dt.datetime.now().replace(microsecond=0)
    report_dir = (resume or out or settings.resolve(settings.eval.reports_dir) / created.strftime("%Y%m%d-%H%M%S")).resolve()
    if resume and not (resume / "run.json").exists():
        console.print(f"[red]Rien à reprendre dans {resume} (run.json absent).[/red]")
        raise typer.Exit(2)
    (report_dir / "questions").mkdir(parents=True, exist_ok=True)
    started = report_dir / "run.json"
    if started.exists():
        created = dt.datetime.fromisoformat(json.loads(started.read_text(encoding="utf-8"))["created"])
    else:
        started.write_text(json.dumps({"created": created.isoformat()}), encoding="utf-8")

    from assistant.components.vector_store import StoreError
    from assistant.services import Services

    services = Services(eval_settings(settings, corpus))
    try:
        with console.status(f"Indexation de {corpus.name} dans la collection « {collection_name(corpus)} »…"):
            ingest = ensure_indexed(services, corpus)
        for failed in ingest.failed:
            console.print(f"[yellow]Fichier non indexé : {failed.path} — {failed.error}[/yellow]")
        console.print(f"Corpus indexé : {ingest.chunks_written} fragment(s) écrit(s), "
                      f"{sum(f.unchanged_documents for f in ingest.files)} document(s) inchangé(s).")
        catalogue = Catalogue.from_store(services.store)
        missing = sorted({d for q in questions for d in q.gold_doc_ids if not catalogue.has(d)})
        if missing:
            console.print(f"[yellow]Documents attendus absents de l'index ({len(missing)}) : {', '.join(missing[:10])}[/yellow]")
        judge = Judge(settings.eval, settings.resolve(settings.eval.cache_dir) / "judge", services.embedder)
        if sans_source:
            questions = [q for q in questions if q.answerable]
        records = _run_questions(questions, services, catalogue, judge, mode, settings.eval.retrieval_k, report_dir,
                                 sans_source)
        index = f"{type(services.store).__name__} {_shown(services.store.location)}"
    except StoreError as exc:
        console.print(f"[red]{exc} (Une autre évaluation du même corpus est-elle en cours ?)[/red]")
        raise typer.Exit(2)
    finally:
        services.close()

    meta = {"created": created.isoformat(), "dataset": _shown(dataset), "dataset_name": dataset.stem,
            "corpus": _shown(corpus), "corpus_name": corpus.name, "collection": collection_name(corpus), "mode": mode,
            "variant": "sans_source" if sans_source else "hors_domaine" if hors_domaine else "tel_quel",
            "limit": limit, "seed": seed, "retrieval_k": settings.eval.retrieval_k, "judge": settings.eval.judge_base_url,
            "judge_model": settings.eval.judge_model if settings.eval.judge_base_url else None,
            "embedding_model": settings.embedding.model, "documents": len(catalogue.chunks),
            "chunks": sum(len(c) for c in catalogue.chunks.values()), "index": index,
            "git_commit": _git("rev-parse", "--short", "HEAD"),
            "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no"))}
    summary = summarise(records)
    previous_dir = find_previous(meta, report_dir, report_dir.parent)
    previous = json.loads((previous_dir / "results.json").read_text(encoding="utf-8")) if previous_dir else None
    write_all(report_dir, meta, summary, records, previous)
    print(markdown(meta, summary))
    console.print(f"\nRapport : {report_dir / 'report.html'}")


def _shown(location: str | Path) -> str:
    """A path as reports show it: relative to the project (or to its parent folder, for ``../shared``),
    never absolute; a server URL as it is."""
    if "://" in str(location):
        return str(location)
    path = Path(location).resolve()
    for root, prefix in ((PROJECT_ROOT.resolve(), ""), (PROJECT_ROOT.resolve().parent, "../")):
        if path.is_relative_to(root):
            return prefix + path.relative_to(root).as_posix()
    return path.name


def _run_questions(questions: list[EvalQuestion], services: Any, catalogue: Catalogue, judge: Judge, mode: str,
                   k: int, report_dir: Path, sans_source: bool = False) -> list[dict[str, Any]]:
    records = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("Questions", total=len(questions))
        for question in questions:
            cached = _cache_path(report_dir, question.qid)
            if cached.exists():
                record = json.loads(cached.read_text(encoding="utf-8"))
            else:
                progress.update(task, description=f"Questions ({question.qid})")
                record = evaluate(question, services, catalogue, judge, mode, k, remove_sources=sans_source)
                if not record.get("error"):  # errors are retried on --resume
                    cached.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
            records.append(record)
            progress.advance(task)
    return records


if __name__ == "__main__":
    typer.run(main)
