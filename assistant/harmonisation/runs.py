"""Stored matrix runs (SQLite, like the feedback store) and what changed between two of them.

Each run keeps its whole matrix (JSON) and the content hash of every document it read. Comparing two runs
(:func:`diff`) lists the cells whose status or quoted practice changed — with both versions — the cells
that appeared or disappeared, and the documents whose content changed in between.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from assistant.harmonisation.matrix import HarmonisationMatrix, MatrixCell

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    user TEXT NOT NULL DEFAULT '',
    groups TEXT NOT NULL,
    mode TEXT NOT NULL,
    territories TEXT NOT NULL,
    questions TEXT NOT NULL,
    referentiel_hash TEXT NOT NULL,
    documents TEXT NOT NULL,
    matrix TEXT NOT NULL
)
"""


class RunNotFound(LookupError):
    """A run number the store does not hold (French message)."""


class RunSummary(BaseModel):
    id: int
    created_at: str
    user: str
    groups: list[str]
    mode: str
    territories: list[str]
    questions: list[str]


class CellChange(BaseModel):
    question_id: str
    label: str
    territory: str
    kind: str = Field(description="statut, extrait, nouvelle or disparue")
    before: MatrixCell | None = None
    after: MatrixCell | None = None
    documents: list[str] = Field(default_factory=list, description="Changed documents the cell cites (before or after).")


class RunDiff(BaseModel):
    before: int | None
    after: int | None
    changes: list[CellChange] = Field(default_factory=list)
    changed_documents: dict[str, tuple[str | None, str | None]] = Field(
        default_factory=dict, description="doc_id → (hash before, hash after); None: not read by that run.")

    @property
    def statuses_changed(self) -> int:
        return sum(c.kind == "statut" for c in self.changes)


class RunStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10)
        db.row_factory = sqlite3.Row
        return db

    def save(self, matrix: HarmonisationMatrix) -> int:
        """Stores ``matrix`` and returns its run number (also set on the matrix)."""
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO runs (created_at, user, groups, mode, territories, questions, referentiel_hash, documents, "
                "matrix) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (matrix.created_at, matrix.user, json.dumps(sorted(matrix.groups)), matrix.mode,
                 json.dumps(matrix.territories), json.dumps([r.id for r in matrix.rows]), matrix.referentiel_hash,
                 json.dumps(matrix.documents), "{}"),
            )
            run_id = int(cursor.lastrowid)
            matrix.run_id = run_id
            db.execute("UPDATE runs SET matrix = ? WHERE id = ?", (matrix.model_dump_json(), run_id))
        return run_id

    def get(self, run_id: int) -> HarmonisationMatrix:
        with self._connect() as db:
            row = db.execute("SELECT matrix FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFound(f"Exécution n° {run_id} inconnue (voir « autonomie harmoniser --executions »).")
        return HarmonisationMatrix.model_validate_json(row["matrix"])

    def runs(self, limit: int = 50) -> list[RunSummary]:
        with self._connect() as db:
            rows = db.execute("SELECT id, created_at, user, groups, mode, territories, questions FROM runs "
                              "ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [RunSummary(id=r["id"], created_at=r["created_at"], user=r["user"], groups=json.loads(r["groups"]),
                           mode=r["mode"], territories=json.loads(r["territories"]), questions=json.loads(r["questions"]))
                for r in rows]

    def previous(self, matrix: HarmonisationMatrix) -> HarmonisationMatrix | None:
        """The latest stored run before ``matrix`` seen with the same groups (what the same readers saw)."""
        with self._connect() as db:
            row = db.execute("SELECT id FROM runs WHERE groups = ? AND id < ? ORDER BY id DESC LIMIT 1",
                             (json.dumps(sorted(matrix.groups)), matrix.run_id or 2**62)).fetchone()
        return self.get(int(row["id"])) if row else None


def diff(before: HarmonisationMatrix, after: HarmonisationMatrix) -> RunDiff:
    """Cells of ``after`` whose status or quote differ from ``before`` (both versions), cells only in one of
    them, and documents whose content hash changed."""
    old = {(c.question_id, c.territory): c for c in before.cells}
    new = {(c.question_id, c.territory): c for c in after.cells}
    labels = {r.id: r.label for r in [*before.rows, *after.rows]}
    changed_docs = {doc: (before.documents.get(doc), after.documents.get(doc))
                    for doc in sorted(set(before.documents) | set(after.documents))
                    if before.documents.get(doc) != after.documents.get(doc)
                    and before.documents.get(doc) is not None and after.documents.get(doc) is not None}
    changes: list[CellChange] = []
    order = [r.id for r in after.rows] + [r.id for r in before.rows if r.id not in {x.id for x in after.rows}]
    territories = list(dict.fromkeys([*after.territories, *before.territories]))
    for qid in order:
        for code in territories:
            a, b = old.get((qid, code)), new.get((qid, code))
            if a is None and b is None:
                continue
            if a is None:
                kind = "nouvelle"
            elif b is None:
                kind = "disparue"
            elif a.status != b.status:
                kind = "statut"
            elif _normal(a.quote) != _normal(b.quote):
                kind = "extrait"
            else:
                continue
            cited = {c.doc_id for cell in (a, b) if cell for c in cell.citations}
            changes.append(CellChange(question_id=qid, label=labels.get(qid, qid), territory=code, kind=kind, before=a,
                                      after=b, documents=sorted(cited & set(changed_docs))))
    return RunDiff(before=before.run_id, after=after.run_id, changes=changes, changed_documents=changed_docs)


def _normal(text: str) -> str:
    return " ".join(text.split())


def diff_summary(result: RunDiff) -> dict[str, Any]:
    kinds: dict[str, int] = {}
    for c in result.changes:
        kinds[c.kind] = kinds.get(c.kind, 0) + 1
    return {"avant": result.before, "apres": result.after, "changements": kinds,
            "documents_modifies": list(result.changed_documents)}
