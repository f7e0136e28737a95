"""Real-world documents benchmark → ``bench/results/documents.{json,md}``.

The demo corpus is indexed once per rendering of its Markdown-sourced documents (``bench/renderings.py``:
``office`` LibreOffice PDFs, ``two_columns``, ``scanned`` image-only PDFs read by OCR, ``web`` site
pages), the other demo files unchanged, next to the two references: ``source`` (the Markdown sources
themselves, the clean-source index) and ``demo`` (the committed corpus files). For each index:

- passages recovered: share of the clean-source passages of the rendered documents whose text is found
  in the rendering's passages of the same document (rapidfuzz ``partial_ratio`` against the document's
  passages in order, chunk overlaps removed, whitespace and table/list marks normalised) at a
  similarity ≥ 0.9;
- furniture lines: lines of passages that are a header, footer, page number, menu, cookie banner or
  site footer line that the renderer put there (``furniture.json``; target 0);
- the demo eval's retrieval metrics (``eval/metrics.py``: recall@10, section_hit@10, with the eval's
  territory filter) on ``eval/datasets/demo-questions.jsonl``; target: within 0.03 of ``source``.

Then the OCR throughput (pages per second, ``ingestion.ocr.workers`` Tesseract processes).

    python -m bench.documents
    python -m bench.documents --renderings office,web --limit 40
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path
from typing import Any

from assistant.settings import PROJECT_ROOT, Settings
from bench.common import (
    BENCH_CACHE,
    add_output_arguments,
    load_average,
    load_embedder,
    bench_settings,
    md_table,
    open_store,
    prepare_index,
    report_head,
    results_header,
    services_for,
    write_results,
)
from bench.renderings import REFERENCES, RENDERINGS, build_corpus, load_furniture, source_docs

RECOVERED_AT = 0.9
TOLERANCE = 0.03
DATASET = PROJECT_ROOT / "eval" / "datasets" / "demo-questions.jsonl"
RETRIEVAL_METRICS = ("recall@10", "section_hit@10")


# --- passages ----------------------------------------------------------------------------------------
def normalise(text: str) -> str:
    """Text for the character-level comparison: no Markdown heading marks, bullets or cell bars, single spaces."""
    text = re.sub(r"(?m)^\s*\|?[\s:|-]*-{3,}[\s:|-]*$", "", text)  # a Markdown table's separator row
    text = re.sub(r"(?m)^\s*(#{1,6}\s+|[-*•>]\s+)", "", text)
    return " ".join(text.replace("|", " ").split())


def passages_by_doc(store: Any) -> dict[str, list[dict[str, Any]]]:
    docs: dict[str, list[dict[str, Any]]] = {}
    for _, payload in store.scroll_payloads(["doc_id", "text", "chunk_index", "page", "ocr", "section_path"]):
        docs.setdefault(payload["doc_id"], []).append(payload)
    return {doc: sorted(items, key=lambda p: p.get("chunk_index", 0)) for doc, items in docs.items()}


def document_text(passages: list[dict[str, Any]]) -> str:
    """A document's passages in order, normalised, each without the overlap it repeats from the previous
    one (the chunker's fallback overlap would otherwise read as duplicated text)."""
    text = ""
    for passage in passages:
        piece = normalise(passage["text"])
        for size in range(min(len(text), len(piece), 400), 19, -1):
            if text.endswith(piece[:size]):
                piece = piece[size:].lstrip()
                break
        text = f"{text} {piece}".strip()
    return text


def recovered(reference: dict[str, list[dict[str, Any]]], candidate: dict[str, list[dict[str, Any]]],
              doc_ids: list[str]) -> dict[str, Any]:
    """Share of the reference passages of ``doc_ids`` found (similarity ≥ 0.9) in the candidate's passages."""
    from rapidfuzz import fuzz

    found = total = 0
    per_doc: dict[str, float] = {}
    for doc in doc_ids:
        target = document_text(candidate.get(doc, []))
        hits = 0
        for passage in reference.get(doc, []):
            text = normalise(passage["text"])
            if text and target and fuzz.partial_ratio(text, target) / 100 >= RECOVERED_AT:
                hits += 1
        n = len(reference.get(doc, []))
        per_doc[doc] = round(hits / n, 3) if n else None
        found, total = found + hits, total + n
    return {"share": round(found / total, 4) if total else None, "passages": total, "found": found, "per_doc": per_doc}


def _key(text: str) -> str:
    return re.sub(r"\d+", "#", " ".join(text.lower().split()))


def is_furniture(line: str, furniture_key: str) -> bool:
    """Whether a passage line is a furniture line (numbers aside): the whole line; for a long one (25
    characters or more: a cookie notice, a footer or header line, not a menu item such as « Personnes
    âgées » that content also says) also inside a longer line or, cut by a line break, as the line's
    start; near-identical (≥ 90 %) for OCR text."""
    from rapidfuzz import fuzz

    key = _key(line.strip().lstrip("#-• ").strip())
    if not key:
        return False
    if key == furniture_key or (len(key) >= 8 and fuzz.ratio(key, furniture_key) >= 90):
        return True
    if len(furniture_key) >= 25 and len(key) > len(furniture_key) and fuzz.partial_ratio(furniture_key, key) >= 90:
        return True
    return 25 <= len(key) < len(furniture_key) and fuzz.ratio(key, furniture_key[:len(key)]) >= 90


def furniture_lines(candidate: dict[str, list[dict[str, Any]]], furniture: list[str]) -> list[str]:
    """Passage lines that are a furniture line put there by the renderer (``is_furniture``)."""
    keys = [_key(f) for f in furniture]
    return [line.strip() for passages in candidate.values() for passage in passages
            for line in passage["text"].splitlines() if any(is_furniture(line, k) for k in keys)]


# --- retrieval ---------------------------------------------------------------------------------------
def retrieval_metrics(retriever: Any, questions: list[Any]) -> dict[str, Any]:
    """The eval's recall@10 and section_hit@10 (means over the questions where they apply)."""
    from eval import metrics as m
    from eval.runner import search_filter

    sums = dict.fromkeys(RETRIEVAL_METRICS, 0.0)
    counts = dict.fromkeys(RETRIEVAL_METRICS, 0)
    for question in questions:
        if not question.answerable:
            continue
        passages = retriever.run(question.question, search_filter(question), top_k=10).passages
        ranks = m.doc_ranks([p.doc_id for p in passages])
        chunks = [m.ChunkRef(p.doc_id, p.section_path, p.article) for p in passages]
        pairs = [(s.doc_id, s.section) for s in question.gold_sources]
        for name, value in (("recall@10", m.recall_at_k(ranks, question.gold_doc_ids, 10)),
                            ("section_hit@10", m.section_hit(chunks, pairs, 10))):
            if value is not None:
                sums[name] += value
                counts[name] += 1
    return {name: round(sums[name] / counts[name], 4) if counts[name] else None for name in RETRIEVAL_METRICS} | {
        "questions": counts["recall@10"]}


# --- OCR throughput ------------------------------------------------------------------------------------
def ocr_throughput(corpus_dir: Path, settings: Settings, max_pages: int) -> dict[str, Any]:
    """Pages per second of the product's OCR on the first scanned PDFs (up to ``max_pages`` pages)."""
    import pypdfium2 as pdfium

    from indexing.ocr import ocr_pages

    pdfs, pages = [], 0
    for path in sorted(corpus_dir.rglob("*.pdf")):
        count = len(pdfium.PdfDocument(str(path)))
        take = min(count, max_pages - pages)
        if take <= 0:
            break
        pdfs.append((path, take))
        pages += take
    load_before = load_average()
    started = time.perf_counter()
    for path, take in pdfs:
        ocr_pages(path, list(range(take)), settings.ingestion.ocr)
    seconds = time.perf_counter() - started
    return {"pages": pages, "seconds": round(seconds, 1), "pages_per_s": round(pages / seconds, 3),
            "workers": settings.ingestion.ocr.workers, "dpi": settings.ingestion.ocr.dpi,
            "load_average_before": load_before, "load_average_after": load_average()}


# --- run ---------------------------------------------------------------------------------------------
def run(renderings: list[str], limit: int | None, index_root: Path, ocr_pages_max: int,
        ids: list[str] | None = None, reuse: tuple[str, ...] = ()) -> dict[str, Any]:
    from bench.retrieval import CachedQueries
    from eval.dataset import load_dataset

    settings = Settings()
    embedder = load_embedder(settings)
    cached = CachedQueries(embedder)
    questions = load_dataset(DATASET)[:limit] if limit else load_dataset(DATASET)
    doc_ids = [d.id for d in source_docs(ids)]
    data: dict[str, Any] = results_header(settings) | {
        "dataset": str(DATASET.relative_to(PROJECT_ROOT)), "documents_rendered": doc_ids,
        "recovered_at": RECOVERED_AT, "tolerance": TOLERANCE, "renderings": {}}
    payloads: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for name in list(REFERENCES) + renderings:
        started = time.perf_counter()
        if name in reuse:  # measured as it is (e.g. the scanned index: its OCR takes most of the run)
            corpus_dir = index_root / "corpus" / name
            index_settings = bench_settings(index_root / "index" / name, base=settings)
            store = open_store(index_settings)
            index = {"chunks": store.count(), "reused": True}
        else:
            corpus_dir = build_corpus(name, index_root / "corpus" / name, ids, with_others=not ids,
                                      office_cache=index_root / "office")
            index_settings, index, store = prepare_index(settings, embedder, corpus_dir, index_root / "index" / name, name)
        try:
            index["seconds_to_index"] = round(time.perf_counter() - started, 1)
            payloads[name] = passages_by_doc(store)
            print(f"[{name}] recherche ({len(questions)} questions)…", flush=True)
            metrics = retrieval_metrics(services_for(index_settings, cached, store).retriever, questions)
        finally:
            store.close()
        rendered = {d: payloads[name].get(d, []) for d in doc_ids}
        leftovers = furniture_lines(rendered, load_furniture(corpus_dir))
        data["renderings"][name] = {
            "index": index,
            "passages": sum(len(v) for v in rendered.values()),
            "ocr_passages": sum(1 for v in rendered.values() for p in v if p.get("ocr")),
            "recovered": recovered(payloads["source"], payloads[name], doc_ids),
            "furniture_lines": len(leftovers), "furniture_examples": sorted(set(leftovers))[:10],
            **metrics,
        }
    reference = data["renderings"]["source"]
    for name, result in data["renderings"].items():
        result["delta"] = {k: round(result[k] - reference[k], 4) for k in RETRIEVAL_METRICS
                           if result.get(k) is not None and reference.get(k) is not None}
        result["within_tolerance"] = all(abs(v) <= TOLERANCE for v in result["delta"].values())
    if "scanned" in renderings:
        print("[ocr] débit…", flush=True)
        data["ocr"] = ocr_throughput(index_root / "corpus" / "scanned", settings, ocr_pages_max)
    data["load_average_at_end"] = load_average()
    return data


def markdown(data: dict[str, Any]) -> str:
    rows = []
    for name, r in data["renderings"].items():
        rows.append([name, r["passages"], r["recovered"]["share"], r["furniture_lines"], r["recall@10"],
                     r["delta"].get("recall@10"), r["section_hit@10"], r["delta"].get("section_hit@10"),
                     "oui" if r["within_tolerance"] else "NON"])
    lines = report_head("documents réels (rendus par d'autres outils)", data) + [
        "",
        f"Documents rendus : les {len(data['documents_rendered'])} documents du corpus de démonstration qui ont une "
        "source Markdown (`corpus/sources/`) ; les autres fichiers du corpus sont indexés tels quels. "
        "Rendus : `source` (les sources Markdown : l'index de référence), `demo` (les fichiers du corpus), "
        "`office` (DOCX → PDF par LibreOffice, en-tête, pied « Page N sur M », texte justifié et césuré), "
        "`two_columns` (PDF en deux colonnes écrit ligne à ligne à travers les colonnes, césure, en-tête, pied), "
        "`scanned` (pages `office` rastérisées à 200 dpi, inclinées, bruitées, PDF image seule : OCR), "
        "`web` (page HTML dans un gabarit de site : menu, fil d'Ariane, bandeau cookies, encart, pied de page).",
        "",
        f"- Passages retrouvés : part des passages de l'index `source` de ces documents dont le texte est retrouvé "
        f"(similarité caractère ≥ {data['recovered_at']}, rapidfuzz `partial_ratio`) dans les passages du rendu.",
        "- Lignes parasites : lignes de passages qui sont un en-tête, un pied de page, un numéro de page ou un "
        "élément de site mis par le rendu (objectif 0).",
        f"- Recherche : métriques de l'évaluation (`eval/metrics.py`) sur `{data['dataset']}` "
        "(texte de la question, filtre de territoire de l'évaluation, 10 passages) ; objectif : écart ≤ "
        f"{data['tolerance']} par rapport à `source`.",
        "",
        md_table(["Rendu", "Passages", "Passages retrouvés", "Lignes parasites", "rappel@10", "Δ", "section@10", "Δ",
                  f"Écart ≤ {data['tolerance']}"], rows),
    ]
    examples = {n: r["furniture_examples"] for n, r in data["renderings"].items() if r["furniture_examples"]}
    if examples:
        lines += ["", "Lignes parasites restantes (exemples) :"]
        lines += [f"- `{n}` : " + " ; ".join(f"« {e} »" for e in ex) for n, ex in examples.items()]
    if "ocr" in data:
        o = data["ocr"]
        lines += ["", f"OCR (Tesseract `fra`, {o['dpi']} dpi, {o['workers']} processus) : {o['pages']} pages en "
                  f"{o['seconds']} s, soit **{o['pages_per_s']} pages/s** ; charge {o['load_average_before']} → "
                  f"{o['load_average_after']} (machine partagée). Passages issus de l'OCR dans l'index `scanned` : "
                  f"{data['renderings']['scanned']['ocr_passages']}."]
    lines += ["", f"Charge en fin de banc : {data['load_average_at_end']}."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Banc des documents réels → bench/results/documents.{json,md}")
    parser.add_argument("--renderings", default=",".join(RENDERINGS), help=f"rendus, parmi {', '.join(RENDERINGS)}")
    parser.add_argument("--limit", type=int, default=None, help="nombre de questions (toutes par défaut)")
    parser.add_argument("--ocr-pages", type=int, default=16, help="pages lues pour mesurer le débit de l'OCR")
    parser.add_argument("--ids", nargs="*", help="seulement ces documents (et eux seuls dans l'index) : essai rapide")
    parser.add_argument("--reuse", default="", help="rendus dont l'index existant est mesuré sans réindexation (ex. scanned)")
    add_output_arguments(parser, index_root_help="dossier des corpus rendus et des index (.cache/bench/documents)")
    args = parser.parse_args(argv)
    renderings = [r.strip() for r in args.renderings.split(",") if r.strip()]
    unknown = set(renderings) - set(RENDERINGS)
    if unknown:
        parser.error(f"rendu(s) inconnu(s) : {', '.join(sorted(unknown))}")
    index_root = args.index_root / "documents" if args.index_root == BENCH_CACHE else args.index_root
    reuse = tuple(r.strip() for r in args.reuse.split(",") if r.strip())
    data = run(renderings, args.limit, index_root, args.ocr_pages, args.ids, reuse)
    write_results("documents", data, markdown(data), args.out_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
