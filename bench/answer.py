"""Answer benchmark → ``bench/results/answer.{json,md}``.

1. Latency per step (analyse, retrieve, select, generate, verify, total; from
   ``AssistantResponse.timings``), p50/p95, on the demo corpus for 50 questions
   (``eval/datasets/demo-questions.jsonl`` when present, else the CASF questions): extractive mode, then
   generative mode through the local LLM server (``start_local_server``) when llama.cpp is installed.
2. On the real corpora (service-public's 425 development questions, the 147 CASF questions; the
   evaluation's indexes, ``eval.qdrant_path``): the share of answers that cite the gold
   document, the abstention rate, the short answer stated (CASF ``answer_patterns``), and the abstention
   rate when the gold documents are excluded from the search (the corpus no longer answers), and how many of
   those wrong answers come without the « partial evidence » caution (confident wrong answers).
3. Questions **off the corpus's domain**: the service-public questions on other public services (« Comment
   renouveler un passeport ? »), asked of the demo corpus and of the CASF, which answer none of them
   (:func:`eval.dataset.off_domain_questions`): abstention rate and answers given without a caution.

    python -m bench.answer
    python -m bench.answer --limit 50 --gen-limit 10 --real-limit 100
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from assistant.settings import PROJECT_ROOT, Settings
from bench.common import (
    BENCH_CACHE,
    add_output_arguments,
    available,
    latency_summary,
    load_average,
    load_embedder,
    md_table,
    prepare_index,
    read_jsonl,
    report_head,
    results_header,
    services_for,
    shared_data_dir,
    write_results,
)

STEPS = ("analyse", "retrieve", "select", "generate", "verify", "total")
DATASETS_DIR = PROJECT_ROOT / "eval" / "datasets"


def demo_questions(limit: int | None) -> tuple[str, list[str]]:
    """The demo questions when that dataset exists, else the CASF questions."""
    for name in ("demo-questions.jsonl", "casf-questions.jsonl"):
        path = DATASETS_DIR / name
        if path.exists():
            return f"eval/datasets/{name}", [r["question"] for r in read_jsonl(path, limit)]
    return "aucun", []


def shared_off_domain_questions(settings: Settings, limit: int | None) -> list[str]:
    """The shared service-public questions off the demo corpus's and the CASF's domain
    (:func:`eval.dataset.off_domain_questions`; none when the data is absent)."""
    from eval.dataset import load_dataset, load_texts, off_domain_questions

    sp = shared_data_dir(settings) / "service-public"
    if not (sp / "fiches.jsonl").exists() or not (sp / "questions-dev.jsonl").exists():
        return []
    questions = [q.question for q in off_domain_questions(load_dataset(sp / "questions-dev.jsonl"),
                                                          load_texts(sp / "fiches.jsonl"))]
    return questions[:limit] if limit else questions


def confident(response: Any) -> bool:
    """An answer given without the « partial evidence » caution."""
    return not response.abstained and response.confidence == "élevée"


def bench_off_domain(assistant: Any, questions: list[str], name: str) -> dict[str, Any]:
    """Abstention, and answers given without a caution, on questions the corpus cannot answer."""
    print(f"[{name}] questions hors domaine ({len(questions)})…", flush=True)
    responses = [assistant.ask(q, mode="extractif") for q in questions]
    return {"questions": len(responses),
            "abstention_rate": round(sum(r.abstained for r in responses) / len(responses), 3),
            "confident_answers": round(sum(map(confident, responses)) / len(responses), 3)}


def ask_all(assistant: Any, questions: list[str], mode: str) -> list[Any]:
    responses = []
    for number, question in enumerate(questions, start=1):
        responses.append(assistant.ask(question, mode=mode))
        if number % 10 == 0:
            print(f"  {number}/{len(questions)} questions", flush=True)
    return responses


def summarise(responses: list[Any]) -> dict[str, Any]:
    """Step latencies (p50/p95 over the answers where the step ran), modes and abstentions."""
    steps = {}
    for step in STEPS:
        values = [r.timings[step] for r in responses if step in r.timings]
        if values:
            steps[step] = latency_summary(values) | {"n": len(values)}
    return {
        "questions": len(responses),
        "steps": steps,
        "modes": dict(Counter(r.mode for r in responses)),
        "abstention_rate": round(sum(r.abstained for r in responses) / len(responses), 3) if responses else None,
        "with_citations": sum(bool(r.citations) for r in responses),
    }


def bench_demo(settings: Settings, embedder: Any, corpus: Path, questions: list[str], gen_limit: int,
               index_dir: Path, off_domain: list[str]) -> dict[str, Any]:
    demo_settings, index, store = prepare_index(settings, embedder, corpus, index_dir, "démo")
    try:
        services = services_for(demo_settings, embedder, store)
        print(f"[démo] mode extractif ({len(questions)} questions)…", flush=True)
        ask_all(services.assistant, questions[:2], "extractif")  # warm-up
        result: dict[str, Any] = {"index": index, "extractif": summarise(ask_all(services.assistant, questions, "extractif"))}
        if off_domain:
            result["off_domain"] = bench_off_domain(services.assistant, off_domain, "démo")
        result["generatif"] = bench_generative(demo_settings, embedder, store, questions[:gen_limit])
    finally:
        store.close()
    return result


def bench_generative(settings: Settings, embedder: Any, store: Any, questions: list[str]) -> dict[str, Any]:
    from assistant.llm_server import choose_backend, start_local_server

    backend = choose_backend(settings.llm)
    if backend == "llama.cpp" and importlib.util.find_spec("llama_cpp") is None:
        return {"status": "non mesuré", "reason": "llama.cpp (llama-cpp-python) n'est pas installé : `make llm` l'installe."}
    if not questions:
        return {"status": "non mesuré", "reason": "--gen-limit 0"}
    with tempfile.TemporaryDirectory(prefix="bench-llm-") as tmp:
        started = time.perf_counter()
        try:
            handle = start_local_server(settings.llm, port=0, endpoint_file=Path(tmp) / "llm-endpoint.yaml",
                                        log_path=Path(tmp) / "llm-server.log")
        except Exception as exc:
            return {"status": "non mesuré", "reason": f"le serveur LLM local n'a pas démarré : {exc}"}
        with handle:
            startup_s = time.perf_counter() - started
            gen_settings = settings.model_copy(update={"llm": handle.llm_settings(settings.llm)})
            assistant = services_for(gen_settings, embedder, store).assistant
            print(f"[démo] mode génératif, {handle.plan.backend} « {handle.model} » ({len(questions)} questions)…", flush=True)
            ask_all(assistant, questions[:1], "generatif")  # warm-up
            responses = ask_all(assistant, questions, "generatif")
    warnings = Counter(w for r in responses for w in r.warnings)
    return summarise(responses) | {
        "backend": handle.plan.backend, "model": handle.model, "server_startup_s": round(startup_s, 1),
        "max_tokens": settings.llm.max_tokens, "warnings": dict(warnings.most_common(5)),
    }


def real_datasets(settings: Settings) -> list[tuple[str, Path, list[dict[str, Any]]]]:
    """(name, corpus, questions as {qid, question, gold, patterns}) of the real corpora present."""
    data = shared_data_dir(settings)
    found = []
    sp = data / "service-public"
    if available(sp / "fiches.jsonl", "service-public") and available(sp / "questions-dev.jsonl", "service-public (questions)"):
        found.append(("service-public", sp / "fiches.jsonl", [
            {"qid": r["qid"], "question": r["question"], "gold": [r["gold_doc"]], "patterns": []}
            for r in read_jsonl(sp / "questions-dev.jsonl")]))
    casf = data / "casf" / "articles.jsonl"
    if available(casf, "CASF"):
        found.append(("casf", casf, [
            {"qid": r["qid"], "question": r["question"], "gold": r["gold_docs"], "patterns": r.get("answer_patterns", [])}
            for r in read_jsonl(DATASETS_DIR / "casf-questions.jsonl")]))
    return found


def bench_real(settings: Settings, embedder: Any, name: str, corpus: Path, questions: list[dict[str, Any]],
               limit: int | None, off_domain: list[str]) -> dict[str, Any]:
    """Extractive answers on a real corpus: as asked (gold document cited, abstention, short answer stated),
    then with the gold documents excluded from the search (the assistant should abstain), then the
    ``off_domain`` questions."""
    from assistant.components.vector_store import SearchFilter
    from eval.metrics import states_answer

    from eval.index import collection_name, ensure_indexed, eval_settings

    questions = questions[:limit] if limit else questions
    real_settings = eval_settings(settings, corpus)  # the evaluation's index of this corpus (make eval, make train-judge)
    services = services_for(real_settings, embedder)
    store = services.store
    try:
        print(f"[{name}] index {collection_name(corpus)}…", flush=True)
        report = ensure_indexed(services, corpus)
        index = {"chunks": store.count(), "written": report.chunks_written, "collection": collection_name(corpus)}
        assistant = services.assistant
        print(f"[{name}] mode extractif ({len(questions)} questions, puis sans leurs documents attendus)…", flush=True)
        ask_all(assistant, [q["question"] for q in questions[:2]], "extractif")  # warm-up
        as_is = [assistant.ask(q["question"], mode="extractif") for q in questions]
        removed = [assistant.ask(q["question"], mode="extractif", search_filter=SearchFilter(exclude_doc_ids=tuple(q["gold"])))
                   for q in questions]
        outside = bench_off_domain(assistant, off_domain, name) if off_domain else None
    finally:
        store.close()
    cites = [any(c.doc_id in q["gold"] for c in r.citations) for q, r in zip(questions, as_is)]
    with_patterns = [(q, r) for q, r in zip(questions, as_is) if q["patterns"]]
    return summarise(as_is) | {
        "index": index,
        "cites_gold_rate": round(sum(cites) / len(cites), 3) if cites else None,
        "short_answer_correct": (round(sum(not r.abstained and states_answer(r.answer, q["patterns"]) for q, r in with_patterns)
                                       / len(with_patterns), 3) if with_patterns else None),
        "short_answer_questions": len(with_patterns),
        "abstention_without_sources": round(sum(r.abstained for r in removed) / len(removed), 3) if removed else None,
        "confident_without_sources": round(sum(map(confident, removed)) / len(removed), 3) if removed else None,
        "confident_as_asked": round(sum(map(confident, as_is)) / len(as_is), 3) if as_is else None,
    } | ({"off_domain": outside} if outside else {})


def markdown(data: dict[str, Any]) -> str:
    p = data["parameters"]
    lines = [
        *report_head("réponses", data),
        f"- Paramètres : questions de démonstration = {p['demo_questions_source']} ({p['demo_questions']} en extractif, "
        f"{p['gen_questions']} en génératif), questions par corpus réel = {p['real_questions']} ; "
        f"seuils de réponse {p['answer_settings']}.",
        "- Latences par étape sur les réponses où l'étape a eu lieu (une abstention s'arrête après la sélection).",
        "",
    ]
    demo = data.get("demo")
    if demo:
        lines += [f"## Corpus de démonstration ({demo['index']['chunks']} passages)", ""]
        for mode in ("extractif", "generatif"):
            r = demo[mode]
            if "steps" not in r:
                lines += [f"- Mode {mode} : {r['status']} ({r['reason']})", ""]
                continue
            title = f"Mode {mode}" + (f" — {r['backend']} « {r['model']} », démarrage {r['server_startup_s']} s" if mode == "generatif" else "")
            lines += [f"### {title}", "", md_table(
                ["étape", "p50 (ms)", "p95 (ms)", "réponses"],
                [[step, s["p50_ms"], s["p95_ms"], s["n"]] for step, s in r["steps"].items()]), "",
                f"- Modes effectifs : {r['modes']} ; taux d'abstention {r['abstention_rate']} ; réponses citant une source : "
                f"{r['with_citations']}/{r['questions']}"]
            if r.get("warnings"):
                lines.append("- Avertissements les plus fréquents : " + " ; ".join(f"{w} (×{n})" for w, n in r["warnings"].items()))
            if mode == "extractif" and demo.get("off_domain"):
                lines.append(off_domain_line(demo["off_domain"]))
            lines.append("")
    for name, r in data.get("real", {}).items():
        lines += [f"## {name} ({r['questions']} questions de développement, mode extractif)", "",
                  f"- Réponses citant le document attendu : **{r['cites_gold_rate']}**",
                  f"- Abstention sur des questions auxquelles le corpus répond : **{r['abstention_rate']}**",
                  f"- Abstention quand les documents attendus sont retirés de la recherche : **{r['abstention_without_sources']}** ; "
                  f"réponses données alors sans mise en garde : **{r['confident_without_sources']}** (sur les questions telles "
                  f"quelles : {r['confident_as_asked']})",
                  f"- Réponse courte attendue énoncée : **{r['short_answer_correct'] if r['short_answer_correct'] is not None else 'non mesuré (pas de réponses de référence)'}**"
                  + (f" ({r['short_answer_questions']} questions)" if r["short_answer_questions"] else ""),
                  f"- Latence totale : p50 {r['steps']['total']['p50_ms']} ms, p95 {r['steps']['total']['p95_ms']} ms"]
        if r.get("off_domain"):
            lines.append(off_domain_line(r["off_domain"]))
        lines.append("")
    return "\n".join(lines)


def off_domain_line(r: dict[str, Any]) -> str:
    return (f"- Questions hors du domaine du corpus (service-public : passeport, copropriété, permis…, {r['questions']}) : "
            f"abstention **{r['abstention_rate']}** ; réponses sans mise en garde **{r['confident_answers']}**")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Banc d'essai des réponses.")
    parser.add_argument("--limit", type=int, default=50, help="questions sur le corpus de démonstration (extractif)")
    parser.add_argument("--gen-limit", type=int, default=50, help="questions en mode génératif (0 = aucune)")
    parser.add_argument("--real-limit", type=int, default=None,
                        help="questions par corpus réel (service-public, CASF, questions hors domaine ; défaut : toutes ; 0 = aucune)")
    add_output_arguments(parser, corpus_help="corpus de démonstration (défaut : réglages)",
                         index_root_help="dossier des index persistants (défaut : .cache/bench ; une copie permet de "
                                         "lancer ce banc pendant que celui de la recherche tient les index ouverts)")
    args = parser.parse_args(argv)
    run(Settings(), args.limit, args.gen_limit, args.real_limit, args.corpus, args.out_dir, args.index_root)


def run(settings: Settings, limit: int, gen_limit: int, real_limit: int | None, corpus: Path | None, out_dir: Path,
        index_root: Path = BENCH_CACHE, off_domain: list[str] | None = None) -> dict[str, Any]:
    """``off_domain``: the questions asked of the demo corpus and the CASF that they do not answer (default: the
    shared service-public ones, :func:`eval.dataset.off_domain_questions`, unless ``real_limit`` is 0)."""
    source, questions = demo_questions(limit)
    if off_domain is None:
        off_domain = shared_off_domain_questions(settings, real_limit) if real_limit != 0 else []
    embedder = load_embedder(settings)
    data: dict[str, Any] = results_header(settings, llm_serve_model=settings.llm.serve_model) | {
        "parameters": {"demo_questions_source": source, "demo_questions": len(questions),
                       "gen_questions": min(gen_limit, len(questions)),
                       "real_questions": real_limit if real_limit is not None else "toutes",
                       "answer_settings": settings.answer.model_dump(), "llm_max_tokens": settings.llm.max_tokens},
    }
    corpus = corpus or settings.resolve(settings.data.corpus_dir)
    if questions and available(corpus, "corpus de démonstration"):
        data["demo"] = bench_demo(settings, embedder, corpus, questions, gen_limit, index_root / "demo", off_domain)
    if real_limit != 0:
        data["real"] = {name: bench_real(settings, embedder, name, path, rows, real_limit,
                                         off_domain if name != "service-public" else [])
                        for name, path, rows in real_datasets(settings)}
    data["machine"]["load_average_at_end"] = load_average()
    write_results("answer", data, markdown(data), out_dir)
    return data


if __name__ == "__main__":
    main()
