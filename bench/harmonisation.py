"""Harmonisation matrix benchmark → ``bench/results/harmonisation.{json,md}``.

1. **Statuses, leave-one-territory-out** on the five demonstration départements (ground truth:
   ``corpus/divergences.yaml``): the matrix's tunable options (candidate passages per territory, the
   « non trouvé » similarity floor, whole section or selected sentences compared) are chosen on four
   territories — the accuracy of their cells — and the fifth is scored with them; a loop over the five.
   The comparison rules themselves are code, identical for every fold.
2. **Held-out départements** written for this bench (``bench/data/harmonisation/<code>/``: documents,
   ``manifest.yaml`` and ``attendu.yaml``, never indexed with the demo corpus): scored with the options
   chosen on all five demo territories; planted gaps flagged.
3. **Citations**: every cell other than « non trouvé » must cite a passage of its own territory.
4. **Time per cell** on the demo matrix, and a 12 × 101 matrix on a synthetic index of 101 départements
   (the five demo territories' practice documents copied, with their vectors, under every département
   code; the national texts once) in ``.cache/bench/harmonisation-101``.

    python -m bench.harmonisation                  # everything
    python -m bench.harmonisation --no-national    # without the 101-département timing
"""

from __future__ import annotations

import argparse
import itertools
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from assistant.settings import PROJECT_ROOT, Settings
from bench.common import (
    add_output_arguments,
    bench_settings,
    fmt,
    iter_points,
    load_average,
    load_embedder,
    md_table,
    open_store,
    report_head,
    results_header,
    services_for,
    write_results,
)

DIVERGENCES = PROJECT_ROOT / "corpus" / "divergences.yaml"
HELD_OUT_DIR = Path(__file__).resolve().parent / "data" / "harmonisation"
GRID = {
    "candidates": (1, 2),
    "heading_weight": (0.0, 0.2),
    "min_similarity": (0.80, 0.84, 0.86, 0.88),
    "compare": ("section", "sentences"),
    "sections": (1, 2),
}


# --- ground truth ---------------------------------------------------------------------------------------
def demo_truth() -> dict[tuple[str, str], dict[str, Any]]:
    table = yaml.safe_load(DIVERGENCES.read_text(encoding="utf-8"))
    return {(q["id"], code): cell for q in table["questions"] for code, cell in q["territories"].items()}


def held_out_truth(folder: Path = HELD_OUT_DIR) -> dict[tuple[str, str], dict[str, Any]]:
    truth = {}
    for path in sorted(folder.glob("*/attendu.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for qid, cell in data["cells"].items():
            truth[(qid, str(data["territory"]))] = cell
    return truth


def held_out_roles(folder: Path = HELD_OUT_DIR) -> dict[str, str]:
    """Each test département's role towards the rules (development or never seen), from its ``attendu.yaml``."""
    roles = {}
    for path in sorted(folder.glob("*/attendu.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        roles[str(data["territory"])] = data.get("role", "")
    return roles


# --- scoring --------------------------------------------------------------------------------------------
def score(predicted: dict[tuple[str, str], Any], truth: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    """Accuracy, per-status precision/recall, confusion, gaps flagged, citation checks of ``predicted`` cells."""
    from assistant.harmonisation.matrix import STATUS_ORDER

    keys = [k for k in truth if k in predicted]
    pairs = [(truth[k]["status"], predicted[k].status) for k in keys]
    confusion = Counter(f"{t}→{p}" for t, p in pairs)
    per_status = {}
    for status in STATUS_ORDER:
        tp = sum(t == p == status for t, p in pairs)
        expected = sum(t == status for t, _ in pairs)
        found = sum(p == status for _, p in pairs)
        per_status[status] = {"expected": expected, "predicted": found,
                              "recall": round(tp / expected, 3) if expected else None,
                              "precision": round(tp / found, 3) if found else None}
    gaps = [(t, p) for t, p in pairs if t != "conforme"]
    cited_own = [all(c.territory == k[1] for c in predicted[k].citations) and bool(predicted[k].citations)
                 for k in keys if predicted[k].status != "non_trouve"]
    gold_cited = [any(c.doc_id == truth[k]["doc_id"] and truth[k]["section"] in c.section_path for c in predicted[k].citations)
                  for k in keys if truth[k].get("doc_id")]
    return {
        "cells": len(pairs),
        "accuracy": round(sum(t == p for t, p in pairs) / len(pairs), 3) if pairs else None,
        "per_status": per_status,
        "gaps_flagged": f"{sum(p != 'conforme' and p != 'non_trouve' for _, p in gaps)}/{len(gaps)}",
        "cites_own_territory": round(sum(cited_own) / len(cited_own), 3) if cited_own else None,
        "gold_section_cited": round(sum(gold_cited) / len(gold_cited), 3) if gold_cited else None,
        "confusion": dict(sorted(confusion.items())),
    }


# --- the matrix under every option -------------------------------------------------------------------------
def option_sets() -> list[dict[str, Any]]:
    keys = list(GRID)
    return [dict(zip(keys, values)) for values in itertools.product(*(GRID[k] for k in keys))]


def evaluate_grid(components: Any, referentiel: Any, codes: list[str], groups: tuple[str, ...]) -> dict[str, dict]:
    """Predicted cells for every option set: {option key: {(question, territory): MatrixCell}}. Retrieval and
    selection run once per (candidate passages, heading weight); thresholds and the compared text are applied to them."""
    from assistant.harmonisation.matrix import MatrixBuilder, MatrixOptions

    results: dict[str, dict] = {}
    questions = {q.id: q for q in referentiel.questions}
    for candidates, heading_weight in itertools.product(GRID["candidates"], GRID["heading_weight"]):
        builder = MatrixBuilder(components, MatrixOptions(candidates=candidates, heading_weight=heading_weight))
        started = time.perf_counter()
        nationals = {q.id: builder.national(q, groups) for q in referentiel.questions}
        gathered = {(q.id, code): builder.gather(q, code, groups) for q in referentiel.questions for code in codes}
        print(f"  recherche ({candidates} passage(s) candidat(s), titres {heading_weight}) : {time.perf_counter() - started:.0f} s",
              flush=True)
        for min_similarity, compare, sections in itertools.product(GRID["min_similarity"], GRID["compare"], GRID["sections"]):
            options = MatrixOptions(candidates=candidates, heading_weight=heading_weight, min_similarity=min_similarity,
                                    compare=compare, sections=sections)
            results[option_key(options)] = {k: builder.decide(questions[k[0]], k[1], g, nationals[k[0]], options=options)
                                            for k, g in gathered.items()}
    return results


def option_key(options: Any) -> str:
    return (f"candidats={options.candidates}, titres={options.heading_weight:g}, similarité≥{options.min_similarity:.2f}, "
            f"comparer={options.compare}, sections={options.sections}")


def choose(results: dict[str, dict], truth: dict, territories: set[str], default: str) -> str:
    """The option set with the best accuracy on ``territories``; on ties the shipped one, else the first in
    grid order."""
    def accuracy(key: str) -> int:
        return sum(results[key][k].status == truth[k]["status"] for k in truth if k[1] in territories and k in results[key])
    best = max(accuracy(key) for key in results)
    tied = [key for key in results if accuracy(key) == best]
    return default if default in tied else tied[0]


def leave_one_territory_out(results: dict[str, dict], truth: dict, codes: list[str], default: str) -> dict[str, Any]:
    predicted, folds = {}, []
    for held in codes:
        chosen = choose(results, truth, set(codes) - {held}, default)
        fold_cells = {k: c for k, c in results[chosen].items() if k[1] == held}
        predicted.update(fold_cells)
        fold_truth = {k: v for k, v in truth.items() if k[1] == held}
        folds.append({"territory": held, "options": chosen, **score(fold_cells, fold_truth)})
    return {"folds": folds, "overall": score(predicted, {k: v for k, v in truth.items() if k[1] in codes}),
            "cells": predicted}


# --- the national-scale matrix ---------------------------------------------------------------------------
def departement_codes() -> list[str]:
    from assistant.answering.territories import DEPARTEMENTS

    return list(DEPARTEMENTS)


def build_national_index(source_settings: Settings, target: Path, codes: list[str], sources: list[str]) -> dict[str, Any]:
    """Copies the demo index's points into ``target``: national ones once, each source territory's practice
    points under the codes assigned to it round-robin (doc ids, point ids, territory and groups rewritten)."""
    from assistant.components.vector_store import PointRecord

    settings = bench_settings(target, base=source_settings)
    store = open_store(settings)
    try:
        if store.exists() and store.count() > 0:
            return {"chunks": store.count(), "built": False}
        source = open_store(source_settings)
        try:
            points = list(iter_points(source))
        finally:
            source.close()
        assignment = {code: sources[i % len(sources)] for i, code in enumerate(codes)}
        records = []
        for pid, dense, sparse, payload in points:
            territory = str(payload.get("territory"))
            if territory == "national":
                records.append(PointRecord(pid, dense, sparse, payload))
                continue
            if payload.get("doc_type") != "pratique_territoriale" or territory not in sources:
                continue
            for code, origin in assignment.items():
                if origin != territory:
                    continue
                copy = dict(payload, territory=code, doc_id=f"{payload['doc_id']}-copie-{code}",
                            visibility=[v.replace(f"dep-{territory}", f"dep-{code}") for v in payload.get("visibility", [])])
                records.append(PointRecord(str(uuid.uuid5(uuid.NAMESPACE_URL, f"{pid}/{code}")), dense, sparse, copy))
        store.ensure_collection(len(points[0][1]))
        for start in range(0, len(records), 256):
            store.upsert(records[start:start + 256])
        store.optimize()
        return {"chunks": store.count(), "built": True}
    finally:
        store.close()


def national_scale(settings: Settings, embedder: Any, referentiel: Any, source_settings: Settings,
                   index_root: Path) -> dict[str, Any]:
    from assistant.harmonisation.matrix import MatrixBuilder, MatrixOptions

    codes = departement_codes()
    target = index_root / "harmonisation-101"
    index = build_national_index(source_settings, target, codes, ["13", "59", "69", "33", "35"])
    national_settings = bench_settings(target, base=settings)
    services = services_for(national_settings, embedder)
    try:
        builder = MatrixBuilder(services.assistant.components, MatrixOptions.from_settings(settings.harmonisation))
        groups = tuple(f"dep-{c}" for c in codes)
        load_before = load_average()
        started = time.perf_counter()
        matrix = builder.build(referentiel, territories=codes, groups=groups, mode="extractif",
                               progress=lambda done, total, _: done % 101 == 0 and print(f"  {done}/{total} cellules", flush=True))
        elapsed = time.perf_counter() - started
    finally:
        services.close()
    totals = matrix.totals()
    return {"territories": len(codes), "questions": len(matrix.rows), "cells": len(matrix.cells),
            "index_chunks": index["chunks"], "seconds": round(elapsed, 1),
            "per_cell_ms": round(1000 * elapsed / len(matrix.cells), 1), "statuses": dict(totals),
            "load_average_before": load_before, "load_average_after": load_average()}


# --- main ---------------------------------------------------------------------------------------------
def prepare(settings: Settings, embedder: Any, index_root: Path) -> Settings:
    """The bench index: the demo corpus and the held-out départements (own folder, never the product's)."""
    from indexing.pipeline import IngestionPipeline

    index_settings = bench_settings(index_root / "harmonisation", base=settings)
    store = open_store(index_settings)
    try:
        folders = [PROJECT_ROOT / "corpus", *sorted(p.parent for p in HELD_OUT_DIR.glob("*/manifest.yaml"))]
        report = IngestionPipeline(index_settings, embedder, store).run(folders, prune=True)
        if report.failed:
            raise RuntimeError(f"Échec de l'indexation : {report.failed[0].path} : {report.failed[0].error}")
    finally:
        store.close()
    return index_settings


def main(argv: list[str] | None = None) -> None:
    from assistant.harmonisation.matrix import MatrixOptions
    from assistant.harmonisation.referentiel import load_referentiel

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_output_arguments(parser, index_root_help="Dossier des index du banc (défaut : .cache/bench).")
    parser.add_argument("--no-national", action="store_true", help="Sans la matrice 12 × 101 départements.")
    args = parser.parse_args(argv)

    settings = Settings()
    embedder = load_embedder(settings)
    header = results_header(settings)
    referentiel = load_referentiel(settings.resolve(settings.harmonisation.referentiel))
    index_settings = prepare(settings, embedder, args.index_root)
    demo, held = demo_truth(), held_out_truth()
    demo_codes = sorted({k[1] for k in demo})
    held_codes = sorted({k[1] for k in held})
    codes = demo_codes + held_codes
    groups = tuple(f"dep-{c}" for c in codes)
    services = services_for(index_settings, embedder)
    try:
        print(f"Matrice {len(referentiel.questions)} questions × {len(codes)} territoires, {len(option_sets())} réglages…", flush=True)
        started = time.perf_counter()
        results = evaluate_grid(services.assistant.components, referentiel, codes, groups)
        grid_seconds = time.perf_counter() - started
        default = option_key(MatrixOptions.from_settings(settings.harmonisation))
        loto = leave_one_territory_out(results, demo, demo_codes, default)
        chosen_all = choose(results, demo, set(demo_codes), default)
        held_cells = {k: c for k, c in results[chosen_all].items() if k[1] in held_codes}
        # Time per cell, on the demo matrix with the shipped options, alone on the machine's cores.
        from assistant.harmonisation.matrix import MatrixBuilder

        builder = MatrixBuilder(services.assistant.components, MatrixOptions.from_settings(settings.harmonisation))
        load_before = load_average()
        matrix = builder.build(referentiel, territories=demo_codes, groups=groups)
        timing = {"cells": len(matrix.cells), "seconds": matrix.timings["total_s"],
                  "per_cell_ms": round(1000 * matrix.timings["per_cell_s"], 1),
                  "load_average_before": load_before, "load_average_after": load_average()}
    finally:
        services.close()
    national = None if args.no_national else national_scale(settings, embedder, referentiel,
                                                             bench_settings(args.index_root / "harmonisation", base=settings),
                                                             args.index_root)
    data = {
        **header,
        "parameters": {"referentiel": str(settings.harmonisation.referentiel), "questions": len(referentiel.questions),
                       "demo_territories": demo_codes, "held_out_territories": held_codes, "grid": GRID,
                       "shipped_options": default, "grid_seconds": round(grid_seconds, 1)},
        "leave_one_territory_out": {"folds": loto["folds"], "overall": loto["overall"]},
        "shipped_options_on_demo": score({k: c for k, c in results[default].items() if k[1] in demo_codes}, demo),
        "held_out": {"options": chosen_all, **score(held_cells, held), "roles": held_out_roles(),
                     "per_territory": {code: score({k: c for k, c in held_cells.items() if k[1] == code},
                                                   {k: v for k, v in held.items() if k[1] == code}) for code in held_codes}},
        "errors": {"loto": _errors(loto["cells"], demo), "held_out": _errors(held_cells, held)},
        "timing_demo": timing,
        "national_scale": national,
        "load_average_at_end": load_average(),
    }
    write_results("harmonisation", data, markdown(data), args.out_dir)


def _errors(cells: dict, truth: dict) -> list[dict[str, str]]:
    return [{"question": k[0], "territory": k[1], "expected": truth[k]["status"], "got": c.status, "reason": c.reason}
            for k, c in sorted(cells.items()) if c.status != truth[k]["status"]]


def markdown(data: dict[str, Any]) -> str:
    loto, held, p = data["leave_one_territory_out"], data["held_out"], data["parameters"]
    overall = loto["overall"]
    lines = report_head("matrice d'harmonisation", data)
    lines += ["", f"- Référentiel : {p['questions']} questions ({p['referentiel']}) ; territoires de démonstration "
                  f"{', '.join(p['demo_territories'])} ; départements de test écrits pour le banc : "
                  f"{', '.join(p['held_out_territories']) or 'aucun'}.",
              f"- Réglages livrés : {p['shipped_options']}.", "",
              "## Statuts, un territoire laissé de côté (réglages choisis sur les quatre autres)", "",
              md_table(["Territoire laissé de côté", "Réglages choisis sur les 4 autres", "Exactitude", "Rappel « contraire »"],
                       [[f["territory"], f["options"], f["accuracy"], f["per_status"]["contraire"]["recall"]] for f in loto["folds"]]),
              "",
              f"**Ensemble** : exactitude {fmt(overall['accuracy'])} sur {overall['cells']} cellules ; rappel « contraire » "
              f"{fmt(overall['per_status']['contraire']['recall'])} (précision {fmt(overall['per_status']['contraire']['precision'])}) ; "
              f"écarts signalés {overall['gaps_flagged']} ; cellules citant un passage de leur territoire "
              f"{fmt(overall['cites_own_territory'])} ; section attendue citée {fmt(overall['gold_section_cited'])}.", "",
              md_table(["Statut", "Attendus", "Prédits", "Rappel", "Précision"],
                       [[s, v["expected"], v["predicted"], v["recall"], v["precision"]] for s, v in overall["per_status"].items()]),
              "", "## Départements de test (hors corpus de démonstration, jamais vus par les réglages)", "",
              f"Réglages choisis sur les cinq territoires de démonstration : {held['options']}.", "",
              md_table(["Département", "Rôle vis-à-vis des règles", "Exactitude", "Écarts signalés", "Rappel « contraire »",
                        "Cite son territoire"],
                       [[code, held["roles"].get(code, ""), v["accuracy"], v["gaps_flagged"], v["per_status"]["contraire"]["recall"],
                         v["cites_own_territory"]] for code, v in held["per_territory"].items()]),
              "", "## Erreurs", ""]
    errors = data["errors"]["loto"] + data["errors"]["held_out"]
    lines += [md_table(["Question", "Territoire", "Attendu", "Obtenu", "Raison"],
                       [[e["question"], e["territory"], e["expected"], e["got"], e["reason"][:160].replace("|", "/")] for e in errors])
              if errors else "Aucune."]
    t = data["timing_demo"]
    lines += ["", "## Temps", "",
              f"- Matrice de démonstration ({t['cells']} cellules, réglages livrés) : {fmt(t['seconds'])} s, "
              f"{fmt(t['per_cell_ms'])} ms par cellule (charge {t['load_average_before']} → {t['load_average_after']})."]
    n = data["national_scale"]
    if n:
        lines += [f"- Matrice nationale synthétique ({n['questions']} questions × {n['territories']} départements = "
                  f"{n['cells']} cellules, index de {n['index_chunks']} passages) : {fmt(n['seconds'])} s "
                  f"({fmt(n['seconds'] / 60)} min), {fmt(n['per_cell_ms'])} ms par cellule "
                  f"(charge {n['load_average_before']} → {n['load_average_after']})."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
