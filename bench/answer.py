"""Answer benchmark → ``bench/results/answer.{json,md}``.

1. Latency per step (analyse, retrieve, select, generate, verify, total; from
   ``AssistantResponse.timings``), p50/p95, on the demo corpus for 50 questions
   (``eval/datasets/demo-questions.jsonl`` when present, else the CASF questions): extractive mode, then
   generative mode through the local LLM server (``start_local_server``) when llama.cpp is installed.
2. On the service-public development questions (index ``.cache/bench/service-public``, shared with
   the retrieval bench): the share of answers that cite the gold fiche, and the abstention rate.

    python -m bench.answer
    python -m bench.answer --limit 50 --gen-limit 10 --sp-limit 100
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
               index_dir: Path) -> dict[str, Any]:
    demo_settings, index, store = prepare_index(settings, embedder, corpus, index_dir, "démo")
    try:
        services = services_for(demo_settings, embedder, store)
        print(f"[démo] mode extractif ({len(questions)} questions)…", flush=True)
        ask_all(services.assistant, questions[:2], "extractif")  # warm-up
        result: dict[str, Any] = {"index": index, "extractif": summarise(ask_all(services.assistant, questions, "extractif"))}
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


def bench_service_public(settings: Settings, embedder: Any, limit: int | None, index_dir: Path) -> dict[str, Any] | None:
    folder = shared_data_dir(settings) / "service-public"
    if not (available(folder / "fiches.jsonl", "service-public") and available(folder / "questions-dev.jsonl", "service-public (questions)")):
        return None
    rows = read_jsonl(folder / "questions-dev.jsonl", limit)
    sp_settings, index, store = prepare_index(settings, embedder, folder / "fiches.jsonl", index_dir, "service-public")
    try:
        assistant = services_for(sp_settings, embedder, store).assistant
        print(f"[service-public] mode extractif ({len(rows)} questions)…", flush=True)
        responses = ask_all(assistant, [r["question"] for r in rows], "extractif")
    finally:
        store.close()
    cites = [any(c.doc_id == row["gold_doc"] for c in r.citations) for row, r in zip(rows, responses)]
    answered = [c for c, r in zip(cites, responses) if not r.abstained]
    return summarise(responses) | {
        "index": index,
        "cites_gold_rate": round(sum(cites) / len(rows), 3),
        "cites_gold_rate_when_answered": round(sum(answered) / len(answered), 3) if answered else None,
    }


def markdown(data: dict[str, Any]) -> str:
    p = data["parameters"]
    lines = [
        *report_head("réponses", data),
        f"- Paramètres : questions de démonstration = {p['demo_questions_source']} ({p['demo_questions']} en extractif, "
        f"{p['gen_questions']} en génératif), questions service-public = {p['sp_questions']} ; "
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
            lines.append("")
    sp = data.get("service_public")
    if sp:
        lines += [f"## service-public ({sp['questions']} questions de développement, mode extractif)", "",
                  f"- Réponses citant la fiche de référence : **{sp['cites_gold_rate']}** "
                  f"(parmi les réponses non abstenues : {sp['cites_gold_rate_when_answered']})",
                  f"- Taux d'abstention : **{sp['abstention_rate']}**",
                  f"- Latence totale : p50 {sp['steps']['total']['p50_ms']} ms, p95 {sp['steps']['total']['p95_ms']} ms", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Banc d'essai des réponses.")
    parser.add_argument("--limit", type=int, default=50, help="questions sur le corpus de démonstration (extractif)")
    parser.add_argument("--gen-limit", type=int, default=50, help="questions en mode génératif (0 = aucune)")
    parser.add_argument("--sp-limit", type=int, default=None, help="questions service-public (défaut : les 425 ; 0 = aucune)")
    add_output_arguments(parser, corpus_help="corpus de démonstration (défaut : réglages)",
                         index_root_help="dossier des index persistants (défaut : .cache/bench ; une copie permet de "
                                         "lancer ce banc pendant que celui de la recherche tient les index ouverts)")
    args = parser.parse_args(argv)
    run(Settings(), args.limit, args.gen_limit, args.sp_limit, args.corpus, args.out_dir, args.index_root)


def run(settings: Settings, limit: int, gen_limit: int, sp_limit: int | None, corpus: Path | None, out_dir: Path,
        index_root: Path = BENCH_CACHE) -> dict[str, Any]:
    source, questions = demo_questions(limit)
    embedder = load_embedder(settings)
    data: dict[str, Any] = results_header(settings, llm_serve_model=settings.llm.serve_model) | {
        "parameters": {"demo_questions_source": source, "demo_questions": len(questions),
                       "gen_questions": min(gen_limit, len(questions)), "sp_questions": sp_limit if sp_limit is not None else "toutes",
                       "answer_settings": settings.answer.model_dump(), "llm_max_tokens": settings.llm.max_tokens},
    }
    corpus = corpus or settings.resolve(settings.data.corpus_dir)
    if questions and available(corpus, "corpus de démonstration"):
        data["demo"] = bench_demo(settings, embedder, corpus, questions, gen_limit, index_root / "demo")
    if sp_limit != 0:
        data["service_public"] = bench_service_public(settings, embedder, sp_limit, index_root / "service-public")
    if data.get("service_public"):
        data["parameters"]["sp_questions"] = data["service_public"]["questions"]
    data["machine"]["load_average_at_end"] = load_average()
    write_results("answer", data, markdown(data), out_dir)
    return data


if __name__ == "__main__":
    main()
