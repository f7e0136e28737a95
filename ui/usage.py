"""Usage and impact: one anonymous event per answer in the local SQLite database, and the figures a steering
committee reads (``autonomie usage``, the « Usage » tab).

An event holds the time, the caller's département (from a ``dep-XX`` group, else « autre »: never a user
name), channel, kind, mode, abstention, caution, latency, step timings, glossary terms and cited document
types. The question text is kept only when ``ui.usage_questions`` is on, and then masked
(``assistant/answering/pii.py``). Events follow the feedback's retention (``ui.feedback_retention_days``) and
``autonomie purge --avant``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sqlite3
import statistics
from html import escape
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.answering.pii import mask_personal_data
from assistant.answering.schema import AssistantResponse
from ui.auth import departements
from ui.feedback import FeedbackStore, connect

_SCHEMA = """
CREATE TABLE IF NOT EXISTS usage_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    departement TEXT NOT NULL,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    mode TEXT NOT NULL,
    abstained INTEGER NOT NULL,
    caution INTEGER NOT NULL,
    latency_ms INTEGER NOT NULL,
    steps TEXT NOT NULL,
    glossary TEXT NOT NULL,
    doc_types TEXT NOT NULL,
    question TEXT
);
CREATE INDEX IF NOT EXISTS usage_created_at ON usage_events (created_at)
"""
CSV_FIELDS = ("jour", "questions", "abstentions", "prudence", "latence_p50_ms", "avis_positifs", "avis_negatifs")


def departement_of(groups: tuple[str, ...] | list[str]) -> str:
    """« 59 » for a member of ``dep-59``; « autre » otherwise (a group name may identify a person)."""
    return ",".join(departements(groups)) or "autre"


class UsageStore:
    def __init__(self, path: Path, keep_questions: bool = False):
        self.path = path
        self.keep_questions = keep_questions
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return connect(self.path)

    def record(self, response: AssistantResponse, groups: tuple[str, ...], kind: str, channel: str,
               latency_s: float, at: dt.datetime | None = None) -> int:
        question = mask_personal_data(response.question).text if self.keep_questions else None
        steps = {k: round(v, 4) for k, v in response.timings.items()}
        types = sorted({c.doc_type for c in response.citations})
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO usage_events (created_at, departement, channel, kind, mode, abstained, caution, latency_ms, "
                "steps, glossary, doc_types, question) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ((at or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds"), departement_of(groups), channel,
                 kind, response.mode, int(response.abstained), int(response.confidence == "moyenne"),
                 int(round(latency_s * 1000)), json.dumps(steps), json.dumps(response.glossary_added, ensure_ascii=False),
                 json.dumps(types), question))
            return int(cursor.lastrowid)

    def events(self, since: dt.date | None = None) -> list[dict[str, Any]]:
        where, params = ("WHERE created_at >= ?", [since.isoformat()]) if since else ("", [])
        with self._connect() as db:
            rows = db.execute(f"SELECT * FROM usage_events {where} ORDER BY id", params).fetchall()
        return [dict(r) | {k: json.loads(r[k]) for k in ("steps", "glossary", "doc_types")} for r in rows]

    def purge(self, before: dt.datetime | dt.date) -> int:
        if not isinstance(before, dt.datetime):
            before = dt.datetime.combine(before, dt.time(), tzinfo=dt.timezone.utc)
        with self._connect() as db:
            deleted = db.execute("DELETE FROM usage_events WHERE created_at < ?",
                                 (before.astimezone(dt.timezone.utc).isoformat(timespec="seconds"),)).rowcount
        if deleted:  # deleted rows leave the disk: the write-ahead log is moved in and truncated
            with self._connect() as db:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return deleted


@dataclass
class UsageReport:
    """The events and feedback of a period and their figures: what ``autonomie usage`` and the « Usage » tab show."""

    figures: dict[str, Any]
    events: list[dict[str, Any]]
    feedback: list[dict[str, Any]]


def usage_report(path: Path, since: dt.date | None = None) -> UsageReport:
    """Reads the events and the feedback (both in the feedback database ``path``) since a day, and computes the
    figures: the one computation behind the command and the tab."""
    events = UsageStore(path).events(since)
    feedback = [f for f in FeedbackStore(path).rows() if since is None or f["created_at"][:10] >= since.isoformat()]
    return UsageReport(figures(events, feedback), events, feedback)


def figures(events: list[dict[str, Any]], feedback: list[dict[str, Any]]) -> dict[str, Any]:
    """Every figure of the usage report, computed from the events and the feedback rows (no personal data)."""
    total = len(events)
    latencies = [e["latency_ms"] for e in events]
    days: dict[str, dict[str, int]] = {}
    for e in events:
        day = days.setdefault(e["created_at"][:10], {"questions": 0, "abstentions": 0, "prudence": 0})
        day["questions"] += 1
        day["abstentions"] += e["abstained"]
        day["prudence"] += e["caution"]
    steps: dict[str, list[float]] = {}
    for e in events:
        for step, seconds in e["steps"].items():
            if step == "total":  # the latency, reported apart
                continue
            steps.setdefault(step, []).append(seconds)
    ratings = Counter(f["rating"] for f in feedback)
    return {
        "questions": total,
        "par_jour": dict(sorted(days.items())),
        "par_departement": dict(Counter(e["departement"] for e in events).most_common()),
        "par_mode": dict(Counter(e["mode"] for e in events).most_common()),
        "par_canal": dict(Counter(e["channel"] for e in events).most_common()),
        "taux_abstention": round(sum(e["abstained"] for e in events) / total, 4) if total else 0.0,
        "taux_prudence": round(sum(e["caution"] for e in events) / total, 4) if total else 0.0,
        "latence_p50_ms": int(statistics.median(latencies)) if latencies else 0,
        "latence_p95_ms": int(sorted(latencies)[max(0, -(-95 * total // 100) - 1)]) if latencies else 0,
        "termes_glossaire": dict(Counter(t for e in events for t in e["glossary"]).most_common(10)),
        "types_cites": dict(Counter(t for e in events for t in e["doc_types"]).most_common()),
        "etapes_lentes": dict(sorted(((s, round(statistics.mean(v), 3)) for s, v in steps.items()),
                                     key=lambda kv: -kv[1])[:5]),
        "avis": {"positif": ratings.get("positif", 0), "negatif": ratings.get("negatif", 0)},
        "raisons_avis_negatifs": dict(Counter(f["reason"] or "sans raison" for f in feedback
                                              if f["rating"] == "negatif").most_common()),
        "taux_satisfaction": round(ratings.get("positif", 0) / len(feedback), 4) if feedback else None,
    }


def report_csv(report: UsageReport) -> str:
    """One line per day: questions, abstentions, cautions, median latency, feedback."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_FIELDS)
    ratings = Counter((f["created_at"][:10], f["rating"]) for f in report.feedback)
    for day, counts in report.figures["par_jour"].items():
        latencies = [e["latency_ms"] for e in report.events if e["created_at"].startswith(day)]
        writer.writerow([day, counts["questions"], counts["abstentions"], counts["prudence"],
                         int(statistics.median(latencies)), ratings[(day, "positif")], ratings[(day, "negatif")]])
    return out.getvalue()


STEP_LABELS = {"analyse": "Analyse de la question", "retrieve": "Recherche", "select": "Choix des passages",
               "generate": "Génération (LLM)", "verify": "Vérification", "compare": "Comparaison", "answer": "Réponse"}


def report_html(data: dict[str, Any], since: dt.date | None = None, standalone: bool = True) -> str:
    """The committee's page (all in French): key rates, then each breakdown as a plot and its table: answers per day
    (time series), départements, topics (glossary terms, cited document types), feedback reasons, slowest steps.
    ``standalone=False`` gives the fragment the « Usage » tab shows."""
    from assistant.settings import DOC_TYPE_LABELS
    from ui.feedback import REASON_LABELS

    def pct(value: float | None) -> str:
        return "—" if value is None else f"{100 * value:.1f} %".replace(".", ",")

    period = f"depuis le {since.isoformat()}" if since else "toute la période conservée"
    kpis = (f"<ul class='usage-kpis'><li><strong>{data['questions']}</strong> réponses</li>"
            f"<li>Abstention : <strong>{pct(data['taux_abstention'])}</strong></li>"
            f"<li>Prudence (confiance moyenne) : <strong>{pct(data['taux_prudence'])}</strong></li>"
            f"<li>Latence médiane : <strong>{data['latence_p50_ms']} ms</strong> (p95 {data['latence_p95_ms']} ms)</li>"
            f"<li>Avis 👍 / 👎 : <strong>{data['avis']['positif']} / {data['avis']['negatif']}</strong> "
            f"(satisfaction {pct(data['taux_satisfaction'])})</li></ul>")
    seconds = {STEP_LABELS.get(k, k): v for k, v in data["etapes_lentes"].items()}
    panels = [
        _panel("Réponses par département", data["par_departement"]),
        _panel("Mode de réponse", {_MODE_LABELS.get(k, k): v for k, v in data["par_mode"].items()}),
        _panel("Canal", {_CHANNEL_LABELS.get(k, k): v for k, v in data["par_canal"].items()}),
        _panel("Sujets : termes du glossaire", data["termes_glossaire"]),
        _panel("Types de documents cités", {DOC_TYPE_LABELS.get(k, k): v for k, v in data["types_cites"].items()}),
        _panel("Raisons des avis négatifs", {REASON_LABELS.get(k, k): v for k, v in data["raisons_avis_negatifs"].items()}),
        _panel("Étapes les plus lentes", seconds, "Durée moyenne (s)",
               {k: f"{v:.3f} s".replace(".", ",") for k, v in seconds.items()}),
    ]
    body = (f"<section class='usage'><h2>Usage de l'assistant ({escape(period)})</h2>"
            "<p>Événements anonymes : ni identifiant d'utilisateur, ni texte des questions (sauf réglage "
            "ui.usage_questions, et alors masqué).</p>"
            f"{kpis}{_per_day_svg(data['par_jour'])}<div class='usage-grid'>{''.join(panels)}</div></section>")
    if not standalone:
        return body
    return (f"<!DOCTYPE html><html lang='fr'><head><meta charset='utf-8'><title>Usage — Assistant Autonomie</title>"
            f"<style>{_PAGE_CSS}\n{USAGE_CSS}</style></head><body>{body}</body></html>")


_MODE_LABELS = {"generatif": "Génératif", "extractif": "Extractif"}
_CHANNEL_LABELS = {"interface": "Interface", "api": "API", "openai": "API compatible OpenAI"}
USAGE_CSS = """.usage-table { border-collapse: collapse; margin-bottom: 1rem; }
.usage-table th, .usage-table td { border: 1px solid #c4c7c5; padding: .3rem .6rem; text-align: left; }
.usage-kpis { display: flex; flex-wrap: wrap; gap: 1.2rem; list-style: none; padding: 0; }
.usage svg { max-width: 100%; height: auto; } .usage figure { margin: 0 0 .5rem 0; }
.usage-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(22rem, 1fr)); gap: 0 1.5rem; }"""  # page and tab
_PAGE_CSS = """body { font-family: ui-sans-serif, system-ui, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif;
margin: 1.5rem; color: #202124; }"""


def _panel(title: str, values: dict[str, Any], head: str = "Nombre", shown: dict[str, str] | None = None) -> str:
    """A breakdown: its title, a horizontal bar plot and the table of the exact values."""
    if not values:
        return f"<div class='usage-panel'><h3>{escape(title)}</h3><p>Aucune donnée.</p></div>"
    rows = "".join(f"<tr><th scope='row'>{escape(str(k))}</th><td>{escape(str((shown or values)[k]))}</td></tr>"
                   for k in values)
    return (f"<div class='usage-panel'><h3>{escape(title)}</h3>{_bars_svg(values, counts=shown is None)}"
            f"<table class='usage-table'><thead><tr><th scope='col'>{escape(title)}</th>"
            f"<th scope='col'>{escape(head)}</th></tr></thead><tbody>{rows}</tbody></table></div>")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _svg(figure: Any, caption: str | None) -> str:
    """The figure as inline SVG with its text kept as text (drawn in the page's font); ``caption`` None: the
    panel's heading names it."""
    plt = _pyplot()
    out = io.StringIO()
    with plt.rc_context({"svg.fonttype": "none"}):
        figure.savefig(out, format="svg")
    plt.close(figure)
    svg = out.getvalue()
    head = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return f"<figure aria-hidden='{'false' if caption else 'true'}'>{head}{svg[svg.index('<svg'):]}</figure>"


def _per_day_svg(per_day: dict[str, dict[str, int]]) -> str:
    """The time series: answers, abstentions and cautions per day (matplotlib, inline SVG)."""
    if not per_day:
        return ""
    plt = _pyplot()
    days = list(per_day)
    figure, axis = plt.subplots(figsize=(8, 2.8), dpi=100)
    axis.bar(days, [v["questions"] for v in per_day.values()], color="#1a3e8c", label="Réponses")
    axis.bar(days, [v["abstentions"] for v in per_day.values()], color="#b45309", label="dont abstentions")
    axis.plot(days, [v["prudence"] for v in per_day.values()], color="#14532d", marker="o", label="dont prudence")
    axis.set_ylabel("Par jour")
    axis.yaxis.get_major_locator().set_params(integer=True)
    axis.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False)
    axis.tick_params(axis="x", labelrotation=45, labelsize=8)
    figure.tight_layout()
    return _svg(figure, "Réponses par jour")


def _bars_svg(values: dict[str, Any], counts: bool = True) -> str:
    """Horizontal bars, largest on top (the table below the plot gives the exact values)."""
    plt = _pyplot()
    labels, numbers = list(values)[::-1], [float(v) for v in values.values()][::-1]
    figure, axis = plt.subplots(figsize=(4.2, 0.45 * len(labels) + 0.7), dpi=100)
    axis.barh(labels, numbers, color="#1a3e8c")
    if counts:
        axis.xaxis.get_major_locator().set_params(integer=True)
    axis.tick_params(axis="y", labelsize=9)
    axis.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    return _svg(figure, None)
