"""End-to-end ingestion into a real embedded Qdrant with the real embedding model."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from assistant.components.vector_store import VectorStore, build_store
from assistant.components.vector_store.qdrant import QdrantStore
from indexing.pipeline import IngestionPipeline
from tests.conftest import make_settings
from tests.indexing.formats import write_docx, write_pdf

ARTICLES = [
    {"id": f"CASF:L232-{i}", "title": f"Article L232-{i}",
     "text": f"Disposition numéro {i} relative à l'allocation personnalisée d'autonomie et au plan d'aide."}
    for i in range(1, 13)
]


def write_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "apa.md").write_text(
        "# Circulaire APA\n\n## 1. Instruction\n\n### Article 1 — Délai\n\nLe président du conseil départemental "
        "notifie sa décision dans un délai de deux mois.\n\n### Article 2 — Visite\n\nLa visite à domicile est obligatoire.\n",
        encoding="utf-8")
    write_docx(folder / "pch.docx", "Circulaire PCH", [("Article 3 — Éléments", "La PCH comprend six éléments.")])
    write_pdf(folder / "geva.pdf", ["Volet 1 - Familial\nLe volet familial decrit l'entourage.", "Volet 5 - Medical\nRempli par le medecin."])
    manifest = [
        {"id": "nat-apa", "file": "apa.md", "title": "Circulaire APA", "doc_type": "circulaire", "territory": "national", "date": "2024-03-15"},
        {"id": "dep59-pch", "file": "pch.docx", "title": "Guide PCH du Nord", "doc_type": "pratique_territoriale",
         "territory": 59, "visibility": ["dep-59"], "validity": "abroge", "valid_until": "2023-06-30"},
        {"id": "geva", "file": "geva.pdf", "title": "Guide GEVA", "doc_type": "guide_geva"},
    ]
    (folder / "manifest.yaml").write_text(yaml.safe_dump({"documents": manifest}, allow_unicode=True), encoding="utf-8")
    return folder


def payloads(store: VectorStore) -> dict[str, dict]:
    return dict(store.scroll_payloads())


@pytest.fixture
def pipeline_factory(tmp_path, embedder):
    stores = []

    def factory(**sections):
        settings = make_settings(tmp_path, **sections)
        store = QdrantStore(settings.qdrant, tmp_path)
        stores.append(store)
        return IngestionPipeline(settings, embedder, store), store

    yield factory
    for store in stores:
        store.close()


def test_every_format_with_manifest_metadata(tmp_path, pipeline_factory):
    corpus = write_corpus(tmp_path / "corpus")
    pipeline, store = pipeline_factory()
    report = pipeline.run([corpus])
    assert not report.failed
    points = payloads(store).values()
    by_doc = {p["doc_id"]: p for p in points}
    assert set(by_doc) == {"nat-apa", "dep59-pch", "geva"}
    pch = by_doc["dep59-pch"]
    assert (pch["doc_type"], pch["territory"], pch["visibility"], pch["validity"]) == (
        "pratique_territoriale", "59", ["dep-59"], "abroge")
    assert pch["valid_until"] == "2023-06-30T00:00:00Z"
    apa = [p for p in points if p["doc_id"] == "nat-apa"]
    assert {p["article"] for p in apa} == {"1", "2"}
    assert all(p["section_path"].startswith("1. Instruction › Article") for p in apa)
    assert {p["page"] for p in points if p["doc_id"] == "geva"} == {1, 2}
    for p in points:
        assert p["content_hash"] and p["source_file"] and p["title"] and p["text"]


def test_reingesting_unchanged_writes_nothing_and_changes_replace(tmp_path, pipeline_factory):
    corpus = write_corpus(tmp_path / "corpus")
    pipeline, store = pipeline_factory()
    pipeline.run([corpus])
    before = payloads(store)
    second = pipeline.run([corpus])
    assert second.chunks_written == 0
    assert sum(f.unchanged_documents for f in second.files) == 3
    assert payloads(store) == before

    apa = corpus / "apa.md"
    apa.write_text(apa.read_text(encoding="utf-8").replace("deux mois", "quatre-vingt-dix jours"), encoding="utf-8")
    third = pipeline.run([corpus])
    assert third.chunks_written == 1  # only the changed article
    texts = [p["text"] for p in payloads(store).values() if p["doc_id"] == "nat-apa"]
    assert len(texts) == 2
    assert any("quatre-vingt-dix jours" in t for t in texts) and not any("deux mois" in t for t in texts)


def test_prune_removes_documents_gone_from_the_folder(tmp_path, pipeline_factory):
    corpus = write_corpus(tmp_path / "corpus")
    other = tmp_path / "autre.md"
    other.write_text("# Autre\n\nUn document hors du dossier.", encoding="utf-8")
    pipeline, store = pipeline_factory()
    pipeline.run([corpus, other])
    manifest = yaml.safe_load((corpus / "manifest.yaml").read_text(encoding="utf-8"))
    manifest["documents"] = [d for d in manifest["documents"] if d["id"] != "geva"]
    (corpus / "manifest.yaml").write_text(yaml.safe_dump(manifest, allow_unicode=True), encoding="utf-8")
    assert pipeline.run([corpus]).pruned_documents == []  # without --prune nothing is deleted
    report = pipeline.run([corpus], prune=True)
    assert report.pruned_documents == ["geva"]
    assert {p["doc_id"] for p in payloads(store).values()} == {"nat-apa", "dep59-pch", str(other.relative_to(Path.cwd())) if other.is_relative_to(Path.cwd()) else str(other)}


def test_jsonl_ids_become_doc_ids_and_overrides_apply(tmp_path, pipeline_factory):
    path = tmp_path / "articles.jsonl"
    path.write_text("\n".join(json.dumps(a, ensure_ascii=False) for a in ARTICLES), encoding="utf-8")
    pipeline, store = pipeline_factory()
    report = pipeline.run([path], overrides={"territory": "national", "doc_type": "loi_reglement"})
    assert not report.failed
    points = list(payloads(store).values())
    assert sorted(p["doc_id"] for p in points) == sorted(a["id"] for a in ARTICLES)
    assert {p["doc_type"] for p in points} == {"loi_reglement"}
    assert all(p["source_file"].endswith("#" + p["doc_id"]) for p in points)


def test_bad_files_are_reported_and_the_rest_is_ingested(tmp_path, pipeline_factory):
    folder = tmp_path / "vrac"
    folder.mkdir()
    (folder / "bon.md").write_text("# Bon\n\nUn texte correct sur l'APA.", encoding="utf-8")
    (folder / "vide.txt").write_bytes(b"")
    (folder / "casse.pdf").write_bytes(b"%PDF-1.4 nope")
    (folder / "image.png").write_bytes(b"\x89PNG")
    write_pdf(folder / "secret.pdf", ["x"], password="pw")
    pipeline, store = pipeline_factory()
    report = pipeline.run([folder])
    errors = {Path(f.path).name: f.error for f in report.failed}
    assert set(errors) == {"vide.txt", "casse.pdf", "image.png", "secret.pdf"}
    assert "vide" in errors["vide.txt"] and "mot de passe" in errors["secret.pdf"]
    assert {p["doc_id"] for p in payloads(store).values()} == {str((folder / "bon.md").resolve().relative_to(Path.cwd().resolve())) if (folder / "bon.md").resolve().is_relative_to(Path.cwd().resolve()) else str((folder / "bon.md").resolve())}


@pytest.mark.slow
def test_kill_9_mid_ingestion_then_rerun_equals_clean_run(tmp_path, embedder):
    """A real ``kill -9`` of ``autonomie ingest`` after some batches, then the same command again."""
    path = tmp_path / "articles.jsonl"
    many = [{**a, "id": f"{a['id']}-{k}", "text": a["text"] + f" Variante {k}."} for k in range(5) for a in ARTICLES]
    path.write_text("\n".join(json.dumps(a, ensure_ascii=False) for a in many), encoding="utf-8")
    env = {**os.environ, "AUTONOMIE_QDRANT__PATH": str(tmp_path / "crash"), "AUTONOMIE_QDRANT__COLLECTION": "crash",
           "AUTONOMIE_QDRANT__UPSERT_BATCH_SIZE": "4"}
    command = [sys.executable, "-m", "assistant.cli", "ingest", str(path)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    batches = 0
    for line in process.stdout:
        batches += line.startswith("lot écrit")
        if batches == 3:
            os.kill(process.pid, signal.SIGKILL)
            break
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "the ingestion finished before it could be killed"
    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr

    clean_settings = make_settings(tmp_path / "clean")
    clean_store = build_store(clean_settings.qdrant, tmp_path)
    IngestionPipeline(clean_settings, embedder, clean_store).run([path])
    clean = payloads(clean_store)
    clean_store.close()
    crashed_settings = make_settings(tmp_path).model_copy(deep=True)
    crashed_settings.qdrant.path, crashed_settings.qdrant.collection = tmp_path / "crash", "crash"
    crashed_store = build_store(crashed_settings.qdrant, tmp_path)
    resumed_points = payloads(crashed_store)
    crashed_store.close()
    assert len(resumed_points) == len(many)
    assert resumed_points == clean


def test_scanned_pdf_with_ocr_turned_off_is_reported(tmp_path):
    from assistant.settings import OcrSettings
    from bench.renderings import scan_pdf

    settings = make_settings(tmp_path, ingestion={"ocr": OcrSettings(enabled=False)})
    scanned = tmp_path / "arrete-numerise.pdf"
    scanned.write_bytes(scan_pdf(write_pdf(tmp_path / "texte.pdf", ["Arrete du president"]).read_bytes(), seed="p", dpi=100))
    store = build_store(settings.qdrant, tmp_path)
    try:
        report = IngestionPipeline(settings, None, store).run([scanned])
    finally:
        store.close()
    assert report.failed[0].error == (
        "PDF sans couche texte (document numérisé, page 1) : la reconnaissance de caractères (OCR) est désactivée "
        "(réglage ingestion.ocr.enabled, variable AUTONOMIE_INGESTION__OCR__ENABLED)")
