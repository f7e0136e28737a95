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
    pipeline, embed_only, llama = (result["configurations"][c] for c in ingest.CONFIGS)
    assert pipeline["documents"] == 6 and pipeline["chunks"] > 6
    assert embed_only["chunks"] == pipeline["chunks"]  # the same texts as the pipeline embedded
    assert llama["documents"] == 6 and llama["chunks"] >= 6
    for run in (pipeline, llama):
        assert run["peak_rss_mib"] > 200 and run["index_mb"] > 0 and run["seconds"] > 0
    assert set(pipeline["timings_s"]) >= {"parse", "embed", "sparse", "upsert"}
    ratio = result["summary"]["end_to_end_over_embedding_only"]
    assert ratio == pytest.approx(pipeline["chunks_per_s"] / embed_only["chunks_per_s"], abs=1e-3)
    assert data["machine"]["cores"] and data["machine"]["cpu"] and data["models"]["embedding"]
    assert "objectif ≥ 0.9" in (tmp_path / "out" / "ingest.md").read_text(encoding="utf-8")


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


def test_answer_bench_extractive_on_a_tiny_corpus(tmp_path: Path):
    from bench.answer import run

    corpus = build_corpus(tmp_path / "corpus")
    data = run(Settings(), limit=3, gen_limit=0, real_limit=0, corpus=corpus, out_dir=tmp_path / "out", index_root=tmp_path)

    extractive = data["demo"]["extractif"]
    assert extractive["questions"] == 3 and extractive["modes"] == {"extractif": 3}
    assert {"retrieve", "select", "total"} <= set(extractive["steps"])
    assert data["demo"]["generatif"]["status"] == "non mesuré"
    assert "real" not in data
    assert "Mode extractif" in (tmp_path / "out" / "answer.md").read_text(encoding="utf-8")



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
