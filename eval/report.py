"""Report files: results.json, questions.csv, export.jsonl, report.html (self-contained) and a Markdown summary."""

from __future__ import annotations

import csv
import html
import json
from pathlib import Path
from typing import Any

from eval import plots
from eval.judge import MEASURED
from eval.summary import CATEGORY_METRICS, METRICS

CSV_METRICS = ("recall@5", "mrr@10", "ndcg@10", "section_hit@10", "citation_precision", "citation_recall",
               "support_rate", "comparison_status_accuracy", "rougeL", "chrf")


def fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}".replace(".", ",")


def write_all(report_dir: Path, meta: dict[str, Any], summary: dict[str, Any], records: list[dict[str, Any]],
              previous: dict[str, Any] | None) -> None:
    results = {"meta": meta, "summary": summary, "questions": records}
    (report_dir / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    _write_csv(report_dir / "questions.csv", records)
    _write_export(report_dir / "export.jsonl", records)
    (report_dir / "report.html").write_text(render_html(meta, summary, records, previous), encoding="utf-8")


def _write_csv(path: Path, records: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["qid", "categorie", "avec_reponse", "mode", "abstention", "latence_s", *CSV_METRICS,
                         "erreur", "question", "reponse"])
        for r in records:
            response = r.get("response") or {}
            writer.writerow([r["qid"], r["category"], r["answerable"], response.get("mode", ""),
                             response.get("abstained", ""), _num(r.get("latency_s")),
                             *(_num(r["metrics"].get(n)) for n in CSV_METRICS), r.get("error") or "",
                             r["question"], response.get("answer", "")])


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _write_export(path: Path, records: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for r in records:
            line = {"qid": r["qid"], "category": r["category"], "query": r.get("retrieval", {}).get("query", r["question"]),
                    "answer": (r.get("response") or {}).get("answer"),
                    "contexts": [p["text"] for p in r.get("retrieval", {}).get("passages", [])],
                    "cited_contexts": r.get("cited_contexts", []), "reference": r.get("reference_answer"),
                    "metrics": {**r["metrics"], **{k: v["value"] for k, v in r.get("judge", {}).items()}},
                    "error": r.get("error")}
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")


def markdown(meta: dict[str, Any], summary: dict[str, Any]) -> str:
    lines = [f"## Évaluation « {meta['dataset_name']} » — {meta['created']}", "",
             f"{summary['questions']} questions, mode demandé « {meta['mode']} », corpus « {meta['corpus_name']} », "
             f"k = {meta['retrieval_k']}, erreurs : {len(summary['errors'])}.", "",
             "| Métrique | Valeur | n | Statut |", "|---|---|---|---|"]
    for info in METRICS:
        entry = summary["metrics"][info.name]
        status = "mesuré" if entry["status"] == MEASURED else f"non mesuré ({entry['reason']})"
        lines.append(f"| {info.label} (`{info.name}`) | {fmt(entry['value'])} | {entry['n']} | {status} |")
    lines += ["", "| Catégorie | Questions | " + " | ".join(CATEGORY_METRICS) + " |",
              "|---|---|" + "---|" * len(CATEGORY_METRICS)]
    for category, row in sorted(summary["per_category"].items()):
        lines.append(f"| {category} | {row['questions']} | " + " | ".join(fmt(row.get(n)) for n in CATEGORY_METRICS) + " |")
    steps = ", ".join(f"{step} {fmt(seconds, 2)} s" for step, seconds in sorted(summary["steps"].items()))
    lines += ["", f"Temps moyen par étape : {steps}."]
    return "\n".join(lines)


_CSS = """
body{font-family:DejaVu Sans,Arial,sans-serif;margin:24px;color:#1d2733;max-width:1280px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;font-size:13px;margin:8px 0}td,th{border:1px solid #d0d7de;padding:3px 7px;text-align:left}
th{background:#f0f3f6}.nm{color:#9a6700}.num{text-align:right}.err{color:#b42318}
img{max-width:100%;margin:6px 0}.wide{overflow-x:auto}.wide table{font-size:12px}.small{font-size:12px;color:#57606a}
"""


def render_html(meta: dict[str, Any], summary: dict[str, Any], records: list[dict[str, Any]],
                previous: dict[str, Any] | None) -> str:
    e = html.escape
    parts = [f"<!doctype html><html lang='fr'><head><meta charset='utf-8'><title>Évaluation — {e(meta['dataset_name'])}</title>"
             f"<style>{_CSS}</style></head><body>",
             f"<h1>Évaluation de l'Assistant Autonomie — {e(meta['dataset_name'])}</h1>",
             f"<p class='small'>{e(meta['created'])} · {summary['questions']} questions · mode demandé « {e(meta['mode'])} » "
             f"(modes obtenus : {e(json.dumps(summary['modes'], ensure_ascii=False))}) · corpus « {e(meta['corpus_name'])} » "
             f"({meta['documents']} documents, {meta['chunks']} fragments) · k = {meta['retrieval_k']} · juge : "
             f"{e(meta['judge'] or 'aucun')} · erreurs : {len(summary['errors'])} · code : {e(str(meta.get('git_commit')))}"
             f"{' (modifié)' if meta.get('git_dirty') else ''} · index : {e(str(meta.get('index')))}</p>",
             "<h2>Métriques</h2><table><tr><th>Groupe</th><th>Métrique</th><th>Valeur</th><th>n</th><th>Statut</th></tr>"]
    for info in METRICS:
        entry = summary["metrics"][info.name]
        status = "mesuré" if entry["status"] == MEASURED else f"<span class='nm'>non mesuré — {e(entry['reason'])}</span>"
        parts.append(f"<tr><td>{e(info.group)}</td><td>{e(info.label)} <code>{e(info.name)}</code></td>"
                     f"<td class='num'>{fmt(entry['value'])}</td><td class='num'>{entry['n']}</td><td>{status}</td></tr>")
    parts.append("</table>")
    parts.append(f"<img alt='métriques' src='data:image/png;base64,{plots.metric_bars(summary)}'>")
    parts.append("<h2>Par catégorie</h2><div class='wide'><table><tr><th>Catégorie</th><th>Questions</th>"
                 + "".join(f"<th>{e(n)}</th>" for n in (*CATEGORY_METRICS, "abstention_rate", "latency_mean_s")) + "</tr>")
    for category, row in sorted(summary["per_category"].items()):
        parts.append(f"<tr><td>{e(category)}</td><td class='num'>{row['questions']}</td>"
                     + "".join(f"<td class='num'>{fmt(row.get(n))}</td>"
                               for n in (*CATEGORY_METRICS, "abstention_rate", "latency_mean_s")) + "</tr>")
    parts.append("</table></div>")
    if summary["per_category"]:
        parts.append(f"<img alt='par catégorie' src='data:image/png;base64,{plots.category_breakdown(summary)}'>")
    parts.append("<h2>Coût</h2><table><tr><th>Étape</th><th>Temps moyen (s)</th></tr>"
                 + "".join(f"<tr><td>{e(step)}</td><td class='num'>{fmt(seconds, 2)}</td></tr>"
                           for step, seconds in sorted(summary["steps"].items())) + "</table>")
    latencies = [r["latency_s"] for r in records if not r.get("error")]
    if latencies:
        parts.append(f"<img alt='latence' src='data:image/png;base64,{plots.latency_histogram(latencies)}'>")
    parts.append("<h2>Comparaison avec le run précédent</h2>")
    if previous:
        parts.append(f"<p class='small'>Run précédent : {e(previous['meta']['created'])} "
                     f"({previous['summary']['questions']} questions).</p>")
        figure = plots.previous_comparison(summary, previous["summary"])
        parts.append(f"<img alt='comparaison' src='data:image/png;base64,{figure}'>")
        parts.append(_delta_table(summary, previous["summary"]))
    else:
        parts.append("<p>Aucun run précédent comparable (même jeu de questions, même corpus, même mode).</p>")
    parts.append(_question_table(records))
    parts.append("</body></html>")
    return "".join(parts)


def _delta_table(summary: dict[str, Any], previous: dict[str, Any]) -> str:
    rows = ["<table><tr><th>Métrique</th><th>Précédent</th><th>Ce run</th><th>Écart</th></tr>"]
    for info in METRICS:
        now, before = summary["metrics"][info.name], previous["metrics"].get(info.name, {})
        if now["status"] == MEASURED and before.get("status") == MEASURED:
            rows.append(f"<tr><td>{html.escape(info.name)}</td><td class='num'>{fmt(before['value'])}</td>"
                        f"<td class='num'>{fmt(now['value'])}</td>"
                        f"<td class='num'>{fmt(now['value'] - before['value'])}</td></tr>")
    return "".join(rows) + "</table>"


def _question_table(records: list[dict[str, Any]]) -> str:
    e = html.escape
    rows = ["<h2>Questions</h2><table><tr><th>qid</th><th>Catégorie</th><th>Question</th><th>Abst.</th>"
            "<th>R@5</th><th>MRR</th><th>Section</th><th>Cit. P</th><th>Cit. R</th><th>ROUGE-L</th><th>s</th>"
            "<th>Réponse (début)</th></tr>"]
    for r in records:
        response = r.get("response") or {}
        answer = e((response.get("answer") or "")[:220])
        error = f"<span class='err'>{e(r['error'])}</span>" if r.get("error") else answer
        mets = r["metrics"]
        rows.append(f"<tr><td>{e(r['qid'])}</td><td>{e(r['category'])}</td><td>{e(r['question'])}</td>"
                    f"<td>{'oui' if response.get('abstained') else ''}</td>"
                    + "".join(f"<td class='num'>{fmt(mets.get(n), 2)}</td>" for n in
                              ("recall@5", "mrr@10", "section_hit@10", "citation_precision", "citation_recall", "rougeL"))
                    + f"<td class='num'>{fmt(r.get('latency_s'), 1)}</td><td>{error}</td></tr>")
    return "".join(rows) + "</table>"
