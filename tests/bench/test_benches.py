"""Each benchmark end to end on a tiny input (real model, real embedded Qdrant), results in tmp_path."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from assistant.settings import Settings
from tests.fixture_index import build_corpus

pytestmark = pytest.mark.slow

RECORDS = [
    ("doc-apa", "Allocation personnalisée d'autonomie",
     "L'allocation personnalisée d'autonomie est versée aux personnes âgées de soixante ans classées en GIR 1 à 4."),
    ("doc-pch", "Prestation de compensation du handicap",
     "La prestation de compensation du handicap finance les aides humaines, techniques et l'aménagement du logement."),
    ("doc-tutelle", "Mandataire judiciaire",
     "Le mandataire judiciaire à la protection des majeurs exerce la mesure de tutelle ou de curatelle décidée par le juge."),
    ("doc-ehpad", "Aide sociale à l'hébergement",
     "L'aide sociale à l'hébergement règle les frais de séjour en Ehpad lorsque les ressources du résident sont insuffisantes."),
]
QUESTIONS = [
    ("q1", "Qui exerce une mesure de curatelle décidée par le juge ?", "doc-tutelle"),
    ("q2", "Qui paie les frais de séjour en Ehpad quand les ressources sont insuffisantes ?", "doc-ehpad"),
    ("q3", "La PCH finance-t-elle l'aménagement du logement ?", "doc-pch"),
]


def test_ingest_bench_on_a_tiny_corpus(tmp_path: Path):
    from bench import ingest

    corpus = build_corpus(tmp_path / "corpus")
    ingest.main(["--datasets", "demo", "--corpus", str(corpus), "--out-dir", str(tmp_path / "out")])

    data = json.loads((tmp_path / "out" / "ingest.json").read_text(encoding="utf-8"))
    result = data["datasets"]["corpus de démonstration"]
    pipeline, embed_only, int8, llama = (result["configurations"][c] for c in ingest.CONFIGS)
    assert pipeline["documents"] == 6 and pipeline["chunks"] > 6
    assert int8["runtime"] == "onnx-int8" and int8["chunks"] == pipeline["chunks"]
    quality = result["summary"]["int8"]
    assert quality["passages_compared"] == pipeline["chunks"] and 0.99 <= quality["cosine_mean"] <= 1.0
    assert quality["speedup_wall"] == pytest.approx(int8["chunks_per_s"] / pipeline["chunks_per_s"], abs=0.01)
    assert embed_only["chunks"] == pipeline["chunks"]  # the same texts as the pipeline embedded
    assert llama["documents"] == 6 and llama["chunks"] >= 6
    for run in (pipeline, llama):
        assert run["peak_rss_mib"] > 200 and run["index_mb"] > 0 and run["seconds"] > 0
    assert set(pipeline["timings_s"]) >= {"parse", "embed", "sparse", "upsert"}
    ratio = result["summary"]["end_to_end_over_embedding_only"]
    assert ratio == pytest.approx(pipeline["chunks_per_s"] / embed_only["chunks_per_s"], abs=1e-3)
    assert data["machine"]["cores"] and data["machine"]["cpu"] and data["models"]["embedding"]
    assert "objectif ≥ 0.9" in (tmp_path / "out" / "ingest.md").read_text(encoding="utf-8")


def test_scale_bench_on_small_sizes(tmp_path: Path, shared_data):
    from bench import scale

    common = ["--real", "60", "--queries", "20", "--recall-queries", "5", "--index-root", str(tmp_path / "idx"),
              "--out-dir", str(tmp_path / "out")]
    scale.main(["--sizes", "3000,6000", *common])
    data = json.loads((tmp_path / "out" / "scale.json").read_text(encoding="utf-8"))
    assert data["parameters"]["edge_quantization"] == "int8"
    for size in ("3000", "6000"):
        write, optimize, query = (data["sizes"][size][stage] for stage in scale.STAGES)
        assert write["points"] == optimize["points"] == int(size) and write["write_s"] > 0
        assert optimize["disk_mib"] > 0 and optimize["optimize_s"] >= 0 and optimize["watch_peak_rss_mib"] >= 0
        assert optimize["payload_indexes"]["territory"]["is_tenant"] is True
        for user in ("département", "national"):
            assert query[user]["queries"] == 20 and query[user]["mean_hits"] > 0
            assert query[user]["forbidden_results"] == 0  # visibility and territory filters hold
            assert 0 < query[user]["p50_ms"] <= query[user]["p95_ms"]
            assert 0.5 <= query[user]["dense_recall_at_10"] <= 1
        assert query["rss_after_queries_mib"] > 50
    assert not (tmp_path / "idx" / "index-3000").exists()  # deleted after the run
    report = (tmp_path / "out" / "scale.md").read_text(encoding="utf-8")
    assert "| 6000 |" in report and "× p95 département" in report and "edge_quantization: int8" in report

    # staged and resumable: a stopped stage reports what it measured; --resume reuses the finished stages.
    # The watcher samples right after starting the child: 1 ns is always past then (0.001 s was not always).
    scale.main(["--sizes", "3000", "--keep", "--stage-timeout", "1e-9", *common])
    stopped = json.loads((tmp_path / "out" / "scale.json").read_text(encoding="utf-8"))["sizes"]["3000"]
    stage = next(stage for stage in scale.STAGES if "error" in stopped[stage])
    assert "durée" in stopped[stage]["error"] and stopped[stage]["partial"]["stage"] == stage
    assert "arrêtée" in (tmp_path / "out" / "scale.md").read_text(encoding="utf-8")
    scale.main(["--sizes", "3000", "--keep", *common])
    scale.main(["--sizes", "3000", "--keep", "--resume", *common])
    resumed = json.loads((tmp_path / "out" / "scale.json").read_text(encoding="utf-8"))["sizes"]["3000"]
    assert all(resumed[stage]["reused"] for stage in scale.STAGES)
    assert (tmp_path / "idx" / "index-3000").exists()


def test_retrieval_bench_on_a_tiny_dataset(tmp_path: Path):
    from bench.retrieval import Dataset, Question, run

    corpus = tmp_path / "mini.jsonl"
    corpus.write_text("".join(json.dumps({"id": i, "title": t, "text": x}, ensure_ascii=False) + "\n" for i, t, x in RECORDS),
                      encoding="utf-8")
    dataset = Dataset("mini", corpus, [Question(q, text, frozenset({gold})) for q, text, gold in QUESTIONS], tmp_path / "index")

    data = run(Settings(), [dataset], tmp_path / "out", sizes=[40], latency_queries=2, grid=True,
               reranker_model=None, dev_name="mini")

    retrievers = data["datasets"]["mini"]["retrievers"]
    assert retrievers["hybrid_rerank"]["status"] == "non mesuré"
    for name in ("bm25", "dense", "hybrid", "llamaindex_naive", "default"):
        assert retrievers[name]["questions"] == 3 and 0 <= retrievers[name]["ndcg@10"] <= 1
    assert retrievers["bm25"]["recall@1"] == 1.0
    assert retrievers["default"]["recall@1"] == 1.0
    assert len(data["grid"]["results"]) == 54 and set(data["grid"]["best"]) == {"dense_weight", "sparse_weight", "prefetch_k", "rrf_k"}
    size = data["latency_by_size"][0]
    assert size["chunks"] == 40 and size["real_chunks"] == 4 and size["search"]["p50_ms"] > 0
    assert "Grille de fusion" in (tmp_path / "out" / "retrieval.md").read_text(encoding="utf-8")


def test_int8_retrieval_bench_compares_both_runtimes_in_one_run(tmp_path: Path):
    from bench.int8_retrieval import markdown, measure, subset
    from bench.retrieval import Dataset, Question

    corpus = tmp_path / "mini.jsonl"
    corpus.write_text("".join(json.dumps({"id": i, "title": t, "text": x}, ensure_ascii=False) + "\n" for i, t, x in RECORDS),
                      encoding="utf-8")
    dataset = Dataset("mini", corpus, [Question(q, text, frozenset({gold})) for q, text, gold in QUESTIONS], tmp_path / "x")
    small = subset(dataset, 3, tmp_path / "subset")  # the three gold documents come first
    assert sorted(json.loads(line)["id"] for line in small.corpus.open()) == ["doc-ehpad", "doc-pch", "doc-tutelle"]

    results = measure(Settings(), [dataset], tmp_path / "index")["mini"]
    assert results["documents"] == 4 and results["chunks"] == 4
    for runtime in ("torch", "onnx-int8"):
        assert results[runtime]["default"]["questions"] == 3 and results[runtime]["default"]["recall@1"] == 1.0
    assert results["deltas"]["default"]["recall@1"] == 0.0 and results["within_tolerance"] in (True, False)
    data = {"machine": {"cpu": "x", "cores": 2, "ram_gib": 1, "python": "3", "torch": "t", "torch_threads": 2,
                        "load_average_at_start": [0, 0, 0], "date": "d"},
            "models": {"embedding": "e5", "qdrant_engine": "edge"},
            "parameters": {"subset": "tout", "questions": {"mini": 3}}, "datasets": {"mini": results}}
    assert "écart int8 − fp32" in markdown(data)


def test_answer_bench_extractive_on_a_tiny_corpus(tmp_path: Path):
    from bench.answer import run

    corpus = build_corpus(tmp_path / "corpus")
    off_domain = ["Comment renouveler un passeport ?", "Quelle est la recette de la tarte tatin ?"]
    data = run(Settings(), limit=3, gen_limit=0, real_limit=0, corpus=corpus, out_dir=tmp_path / "out", index_root=tmp_path,
               off_domain=off_domain)

    extractive = data["demo"]["extractif"]
    assert extractive["questions"] == 3 and extractive["modes"] == {"extractif": 3}
    assert {"retrieve", "select", "total"} <= set(extractive["steps"])
    assert data["demo"]["generatif"]["status"] == "non mesuré"
    outside = data["demo"]["off_domain"]
    assert outside["questions"] == 2 and 0 <= outside["confident_answers"] <= 1 - outside["abstention_rate"]
    assert "real" not in data
    md = (tmp_path / "out" / "answer.md").read_text(encoding="utf-8")
    assert "Mode extractif" in md and "Questions hors du domaine du corpus" in md


def test_reranker_bench_times_the_products_reranking_path_against_no_reranker(tmp_path: Path):
    from bench.reranker import run
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, eval={"qdrant_path": tmp_path / "eval-qdrant"})
    corpus = build_corpus(tmp_path / "corpus")
    questions = [{"question": text, "gold": [gold]} for _, text, gold in QUESTIONS[:2]]
    data = run(settings, [4], None, tmp_path / "out", ("mini", corpus, questions))

    plain, reranked = data["variants"]["sans reranker"], data["variants"]["reranker top_n=4"]
    assert plain["rerank_ms"]["p50_ms"] == 0 and reranked["rerank_ms"]["p50_ms"] > 0  # the cross-encoder really ran
    assert reranked["ask_ms"]["p50_ms"] > 0 and reranked["ratio_to_baseline_p50"] > 0
    assert "mrr@10" in plain and "mrr@10" not in reranked  # untrained head: no ranking quality claimed
    assert data["parameters"]["trained_head"] is False
    assert "tête de score non entraînée" in (tmp_path / "out" / "reranker.md").read_text(encoding="utf-8")

@pytest.mark.llm
@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python absent")
def test_answer_bench_generative_with_the_local_server(tmp_path: Path):
    from bench.answer import run

    corpus = build_corpus(tmp_path / "corpus")
    data = run(Settings(), limit=1, gen_limit=1, real_limit=0, corpus=corpus, out_dir=tmp_path / "out", index_root=tmp_path)

    generative = data["demo"]["generatif"]
    assert generative["backend"] == "llama.cpp" and generative["questions"] == 1
    assert generative["server_startup_s"] > 0 and "total" in generative["steps"]


def test_the_int8_ceiling_is_the_cpu_cost_times_the_cores():
    from bench.ingest import cpu_ceiling

    assert "19.5 passages/s" in cpu_ceiling(9.767, 2, 25.0) and "hors de portée" in cpu_ceiling(9.767, 2, 25.0)
    assert "atteignable" in cpu_ceiling(15.0, 2, 25.0)


def test_reranker_training_fits_the_pool_order_it_is_shown(tmp_path: Path):
    """The fine-tuning loop really learns: questions seen in training get their gold passage ranked first."""
    from types import SimpleNamespace

    from bench.reranker_training import evaluate, fine_tune, training_groups
    from eval.train_judge import Sample
    from tests.conftest import make_settings

    texts = {doc: text for doc, _, text in RECORDS}
    samples, questions = [], {}
    for qid, question, gold in QUESTIONS:
        order = [d for d in texts if d != gold] + [gold]  # the retriever put the gold passage last
        pool = SimpleNamespace(passages=[SimpleNamespace(doc_id=d, text=texts[d]) for d in order])
        samples.append(Sample("mini", qid, "tel_quel", frozenset({gold}), None, [], pool, []))
        questions[("mini", qid)] = question
    groups = training_groups(samples, questions, negatives=3)
    assert [g[1] for g in groups] == [texts[gold] for _, _, gold in QUESTIONS] and all(len(g) == 5 for g in groups)

    model = fine_tune(make_settings(tmp_path), groups * 8, epochs=2, max_length=64, seed=0, learning_rate=3e-4)
    ranks = evaluate(model, samples, questions)["ranks"]
    assert ranks["ordre de la recherche"] == {"gold_first": 0.0, "mrr@10": 0.25}
    assert ranks["cross-encoder"]["gold_first"] == 1.0
