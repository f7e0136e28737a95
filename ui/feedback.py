"""User feedback (👍/👎) in SQLite, exportable as evaluation questions (CSV or JSONL).

Personal data (NIR, e-mail, phone, address… ``assistant/answering/pii.py``) is masked before anything is
stored: questions, comments and answers; rows written by an older version are masked when the store
opens, and exports mask again. Feedback older than ``ui.feedback_retention_days`` is deleted; ``purge``
and ``delete_user`` serve the RGPD rights (``autonomie purge``). Deleted rows are overwritten
(``secure_delete``) and the write-ahead log is truncated, so nothing deleted stays readable on disk.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sqlite3
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from assistant.answering.pii import mask_personal_data
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
);
CREATE INDEX IF NOT EXISTS feedback_created_at ON feedback (created_at);
CREATE INDEX IF NOT EXISTS feedback_user ON feedback (user)
"""
MASKED_COLUMNS = ("question", "comment", "answer")
REVIEW_PREFIX = "a-revoir-retour-"  # candidate evaluation questions a reviewer must check before use
PURGE_EVERY_S = 3600.0


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


def connect(path: Path) -> sqlite3.Connection:
    """The feedback database (feedback and usage events), rows by name; deleted and replaced content is
    overwritten, not left in free pages."""
    db = sqlite3.connect(path, timeout=10)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA secure_delete=ON")
    return db


class FeedbackStore:
    def __init__(self, path: Path, retention_days: int | None = None):
        self.path = path
        self.retention_days = retention_days
        self._purged_at = 0.0
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
        self.mask_stored()
        self.apply_retention()

    def _connect(self) -> sqlite3.Connection:
        return connect(self.path)

    def add(self, feedback: FeedbackIn, user: str) -> int:
        if feedback.rating == "negatif" and feedback.reason is None:
            raise ValueError("Indiquez la raison de l'avis négatif (réponse fausse, source erronée, incomplète, autre).")
        now = _now()
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO feedback (created_at, user, rating, reason, comment, question, answer, mode, abstained, "
                "citations) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (now.isoformat(timespec="seconds"), user, feedback.rating, feedback.reason, _mask(feedback.comment.strip()),
                 _mask(feedback.question), _mask(feedback.answer), feedback.mode, int(feedback.abstained),
                 json.dumps(feedback.citations, ensure_ascii=False)),
            )
            feedback_id = int(cursor.lastrowid)
        if now.timestamp() - self._purged_at > PURGE_EVERY_S:
            self.apply_retention()
        return feedback_id

    # --- personal data: masking, retention, RGPD rights ------------------------------------------------
    def mask_stored(self) -> int:
        """Masks the personal data of rows stored before masking existed; returns how many changed."""
        changed = 0
        with self._connect() as db:
            for row in db.execute(f"SELECT id, {', '.join(MASKED_COLUMNS)} FROM feedback").fetchall():
                masked = {c: _mask(row[c]) for c in MASKED_COLUMNS}
                if any(masked[c] != row[c] for c in MASKED_COLUMNS):
                    db.execute(f"UPDATE feedback SET {', '.join(f'{c} = ?' for c in MASKED_COLUMNS)} WHERE id = ?",
                               (*masked.values(), row["id"]))
                    changed += 1
        if changed:
            self._compact()
        return changed

    def apply_retention(self) -> int:
        """Deletes feedback older than the retention period (none when unset)."""
        self._purged_at = _now().timestamp()
        if self.retention_days is None:
            return 0
        return self.purge(before=_now() - dt.timedelta(days=self.retention_days))

    def purge(self, before: dt.datetime | dt.date | None = None, user: str | None = None, dry_run: bool = False) -> int:
        """Deletes the feedback created before ``before`` and/or given by ``user``; returns how many rows."""
        if before is None and user is None:
            raise ValueError("Indiquez une date (--avant) ou un utilisateur (--utilisateur).")
        clauses, params = [], []
        if before is not None:
            if not isinstance(before, dt.datetime):
                before = dt.datetime.combine(before, dt.time(), tzinfo=dt.timezone.utc)
            clauses.append("created_at < ?")
            params.append(before.astimezone(dt.timezone.utc).isoformat(timespec="seconds"))
        if user is not None:
            clauses.append("user = ?")
            params.append(user)
        where = " AND ".join(clauses)
        with self._connect() as db:
            if dry_run:
                return int(db.execute(f"SELECT COUNT(*) FROM feedback WHERE {where}", params).fetchone()[0])
            deleted = db.execute(f"DELETE FROM feedback WHERE {where}", params).rowcount
        if deleted:
            self._compact()
        return deleted

    def delete_user(self, user: str) -> int:
        """The right to erasure: every feedback ``user`` gave."""
        return self.purge(user=user)

    def _compact(self) -> None:
        """Moves the write-ahead log into the database and truncates it: old versions leave the disk."""
        with self._connect() as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

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

    def eval_candidates(self) -> list[dict]:
        """The 👎 feedback as candidate questions in the evaluation dataset schema (``eval/dataset.py``), masked,
        marked for review: ``qid`` ``a-revoir-retour-00012``, no reference answer, the cited documents as
        candidate gold sources (an abstention becomes an unanswerable ``hors_corpus`` candidate)."""
        candidates = []
        for row in self.rows():
            if row["rating"] != "negatif":
                continue
            cited = list(dict.fromkeys(c["doc_id"] for c in json.loads(row["citations"])))
            answerable = bool(cited) and not row["abstained"]
            candidates.append({
                "qid": f"{REVIEW_PREFIX}{row['id']:05d}",
                "question": _mask(row["question"]),
                "category": "factuel" if answerable else "hors_corpus",
                "reference_answer": None,
                "gold_sources": [{"doc_id": doc_id} for doc_id in cited] if answerable else [],
                "answerable": answerable,
            })
        return candidates

    def export(self, fmt: Literal["csv", "jsonl"]) -> str:
        records = [{**r, **{c: _mask(r[c]) for c in MASKED_COLUMNS}} for r in self.eval_records()]
        if fmt == "jsonl":
            return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS)
        writer.writeheader()
        for r in records:
            writer.writerow({**r, "gold_docs": " ; ".join(r["gold_docs"]), "cited_docs": " ; ".join(r["cited_docs"])})
        return out.getvalue()


def _mask(text: str) -> str:
    return mask_personal_data(text).text if text else text


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
