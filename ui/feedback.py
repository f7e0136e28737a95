"""User feedback (👍/👎) in SQLite, exportable as evaluation questions (CSV or JSONL)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sqlite3
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from assistant.answering.schema import AssistantResponse

Rating = Literal["positif", "negatif"]
Reason = Literal["reponse_fausse", "source_erronee", "incomplete", "autre"]
REASON_LABELS: dict[str, str] = {
    "reponse_fausse": "Réponse fausse",
    "source_erronee": "Source erronée",
    "incomplete": "Incomplète",
    "autre": "Autre",
}
EXPORT_FIELDS = ("qid", "question", "reference_answer", "gold_docs", "category", "rating", "reason", "comment",
                 "answer", "mode", "abstained", "cited_docs", "user", "created_at")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    user TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('positif', 'negatif')),
    reason TEXT,
    comment TEXT NOT NULL DEFAULT '',
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    mode TEXT NOT NULL,
    abstained INTEGER NOT NULL,
    citations TEXT NOT NULL
)
"""


class FeedbackIn(BaseModel):
    """What the chat (or an API client) sends about one answer."""

    rating: Rating
    reason: Reason | None = None
    comment: str = Field("", max_length=4000)
    question: str = Field(min_length=1, max_length=4000)
    answer: str = Field(max_length=20000)
    mode: str = ""
    abstained: bool = False
    citations: list[dict] = Field(default_factory=list, description="Citation objects of the answer (doc_id, title…).")

    @classmethod
    def from_response(cls, response: AssistantResponse, rating: Rating, reason: Reason | None = None,
                      comment: str = "") -> "FeedbackIn":
        return cls(rating=rating, reason=reason, comment=comment, question=response.question, answer=response.answer,
                   mode=response.mode, abstained=response.abstained,
                   citations=[c.model_dump(include={"marker", "doc_id", "title", "territory", "section_path", "page"})
                              for c in response.citations])


class FeedbackStore:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10)
        db.row_factory = sqlite3.Row
        return db

    def add(self, feedback: FeedbackIn, user: str) -> int:
        if feedback.rating == "negatif" and feedback.reason is None:
            raise ValueError("Indiquez la raison de l'avis négatif (réponse fausse, source erronée, incomplète, autre).")
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO feedback (created_at, user, rating, reason, comment, question, answer, mode, abstained, "
                "citations) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (now, user, feedback.rating, feedback.reason, feedback.comment.strip(), feedback.question,
                 feedback.answer, feedback.mode, int(feedback.abstained),
                 json.dumps(feedback.citations, ensure_ascii=False)),
            )
            return int(cursor.lastrowid)

    def rows(self) -> list[dict]:
        with self._connect() as db:
            return [dict(r) for r in db.execute("SELECT * FROM feedback ORDER BY id")]

    def eval_records(self) -> list[dict]:
        """One evaluation question per feedback: gold sources are the cited documents when the answer was
        approved (👍), empty otherwise; the reference answer is left for a reviewer to write."""
        records = []
        for row in self.rows():
            cited = list(dict.fromkeys(c["doc_id"] for c in json.loads(row["citations"])))
            records.append({
                "qid": f"retour-{row['id']:05d}",
                "question": row["question"],
                "reference_answer": "",
                "gold_docs": cited if row["rating"] == "positif" else [],
                "category": "retour_utilisateur",
                "rating": row["rating"],
                "reason": row["reason"] or "",
                "comment": row["comment"],
                "answer": row["answer"],
                "mode": row["mode"],
                "abstained": bool(row["abstained"]),
                "cited_docs": cited,
                "user": row["user"],
                "created_at": row["created_at"],
            })
        return records

    def export(self, fmt: Literal["csv", "jsonl"]) -> str:
        records = self.eval_records()
        if fmt == "jsonl":
            return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS)
        writer.writeheader()
        for r in records:
            writer.writerow({**r, "gold_docs": " ; ".join(r["gold_docs"]), "cited_docs": " ; ".join(r["cited_docs"])})
        return out.getvalue()
