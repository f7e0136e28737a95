"""Evaluation questions: the demo schema (validated line by line), the service-public and the CASF sets, and the
service-public questions off the demo corpus's and the CASF's domain."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from assistant.answering.schema import PracticeStatus, Turn

Category = Literal["factuel", "multi_documents", "geva", "pratique_territoriale", "comparaison", "suivi", "hors_corpus"]
CATEGORIES: tuple[str, ...] = Category.__args__  # type: ignore[attr-defined]


class DatasetError(ValueError):
    """A dataset that cannot be used (French message naming the file and the line)."""


class GoldSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    doc_id: str = Field(min_length=1)
    section: str | None = Field(None, description="« Article L. 232-14 » or a heading's text; None = whole document.")


class EvalQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    qid: str = Field(min_length=1)
    question: str = Field(min_length=1)
    category: Category
    reference_answer: str | None = None
    gold_sources: list[GoldSource] = Field(default_factory=list)
    territories: list[str] = Field(default_factory=list)
    history: list[Turn] = Field(default_factory=list)
    answerable: bool = True
    expected_status: dict[str, PracticeStatus] = Field(default_factory=dict,
                                                       description="comparaison: expected status per territory.")
    answer_patterns: list[str] = Field(default_factory=list,
                                       description="Short forms of the answer; an answer stating one of them is correct.")

    @field_validator("territories", mode="before")
    @classmethod
    def _codes_as_text(cls, value: Any) -> Any:
        return [str(v) for v in value] if isinstance(value, list) else value

    @model_validator(mode="after")
    def _consistent(self) -> "EvalQuestion":
        if self.category == "hors_corpus" and self.answerable:
            raise ValueError("une question « hors_corpus » doit avoir answerable = false")
        if not self.answerable and self.gold_sources:
            raise ValueError("une question sans réponse (answerable = false) ne peut pas avoir de gold_sources")
        if self.answerable and not self.gold_sources:
            raise ValueError("une question avec réponse doit citer au moins une source dans gold_sources")
        if self.category == "suivi" and not self.history:
            raise ValueError("une question « suivi » doit avoir un historique (history)")
        if self.category == "comparaison" and len(self.territories) < 2:
            raise ValueError("une question « comparaison » doit viser au moins deux territoires")
        if unknown := sorted(set(self.expected_status) - set(self.territories)):
            raise ValueError(f"expected_status cite des territoires absents de territories : {', '.join(unknown)}")
        return self

    @property
    def gold_doc_ids(self) -> list[str]:
        return list(dict.fromkeys(s.doc_id for s in self.gold_sources))


_MESSAGES = {
    "missing": "champ obligatoire manquant",
    "extra_forbidden": "champ inconnu",
    "string_type": "texte attendu",
    "string_too_short": "texte vide",
    "bool_type": "booléen attendu (true ou false)",
    "bool_parsing": "booléen attendu (true ou false)",
    "list_type": "liste attendue",
    "dict_type": "objet attendu",
    "model_type": "objet attendu",
}


def _french(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"])
        kind = item["type"]
        if kind == "literal_error":
            message = f"valeur non autorisée (attendu : {item['ctx']['expected']})"
        elif kind == "value_error":
            message = str(item["ctx"]["error"])
        else:
            message = _MESSAGES.get(kind, item["msg"])
        parts.append(f"{where} : {message}" if where else message)
    return " ; ".join(parts)


def _from_service_public(record: dict[str, Any]) -> dict[str, Any]:
    """service-public ``{"qid", "question", "gold_doc"}``: one gold fiche, no reference answer."""
    return {"qid": record.get("qid"), "question": record.get("question"), "category": "factuel",
            "gold_sources": [{"doc_id": record.get("gold_doc")}], "answerable": True}


def _from_casf(record: dict[str, Any]) -> dict[str, Any]:
    """CASF ``{"qid", "question", "gold_docs", "category", "reference_answer", "answer_patterns", "notes"}``:
    gold articles, a short reference answer and its patterns."""
    return {"qid": record.get("qid"), "question": record.get("question"), "category": "factuel",
            "gold_sources": [{"doc_id": doc} for doc in record.get("gold_docs") or []],
            "reference_answer": record.get("reference_answer"), "answer_patterns": record.get("answer_patterns") or [],
            "answerable": True}


def load_dataset(path: Path) -> list[EvalQuestion]:
    """Every line validated; the first bad line stops the load with its number and the reason."""
    if not path.exists():
        raise DatasetError(f"Jeu de questions introuvable : {path}")
    questions: list[EvalQuestion] = []
    seen: dict[str, int] = {}
    for number, record in _records(path):
        if "gold_doc" in record:
            record = _from_service_public(record)
        elif "gold_docs" in record:
            record = _from_casf(record)
        try:
            question = EvalQuestion.model_validate(record)
        except ValidationError as exc:
            raise DatasetError(f"{path}, ligne {number} (qid {record.get('qid', '?')}) : {_french(exc)}.") from exc
        if question.qid in seen:
            raise DatasetError(f"{path}, ligne {number} : qid « {question.qid} » déjà utilisé ligne {seen[question.qid]}.")
        seen[question.qid] = number
        questions.append(question)
    if not questions:
        raise DatasetError(f"{path} : aucune question.")
    return questions


# Words of a service-public question or of its gold fiche that may touch what the demo corpus (autonomy) or the
# CASF (social action) answer. Deliberately broad: a question kept must be one neither corpus answers, and a few
# off-domain questions lost cost nothing.
RELATED_TO_SOCIAL_ACTION = re.compile(
    r"handicap|autonomie|\bAPA\b|\bAAH\b|personnes? âgées?|Ehpad|dépendance|aidant|tutelle|curatelle|MDPH|invalidit"
    r"|aide sociale|accueil|AGGIR|\bAspa\b|retraite|RQTH|domicile|\bPCH\b|vieillesse|soins|santé|allocation|enfan"
    r"|famil|logement|\bRSA\b|insertion|adoption|hébergement|pauvreté|précarité|social|solidarit|mineur|protection",
    re.IGNORECASE)


def off_domain_questions(questions: list[EvalQuestion], fiches: dict[str, str]) -> list[EvalQuestion]:
    """The service-public ``questions`` on other public services (passport, co-ownership, driving licence…):
    neither their words nor their gold fiche (``fiches``: id → text) relate to social action or autonomy
    (:data:`RELATED_TO_SOCIAL_ACTION`). Asked of the demo corpus or of the CASF, which answer none of them, they
    come back as « hors_corpus » questions: the assistant should abstain."""
    return [EvalQuestion(qid=q.qid, question=q.question, category="hors_corpus", answerable=False) for q in questions
            if not RELATED_TO_SOCIAL_ACTION.search(q.question)
            and not any(RELATED_TO_SOCIAL_ACTION.search(fiches.get(doc, "")) for doc in q.gold_doc_ids)]


def load_texts(path: Path) -> dict[str, str]:
    """``{"id", "text"}`` lines of a JSONL corpus (service-public's fiches), by id."""
    if not path.exists():
        raise DatasetError(f"Fiches introuvables : {path}")
    texts: dict[str, str] = {}
    for number, record in _records(path):
        if "id" not in record:
            raise DatasetError(f"{path}, ligne {number} : champ « id » manquant.")
        texts[str(record["id"])] = str(record.get("text", ""))
    return texts


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of each non-empty line of a JSONL file; a French error names a bad line."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}, ligne {number} : JSON invalide ({exc.msg}, colonne {exc.colno}).") from exc
        if not isinstance(record, dict):
            raise DatasetError(f"{path}, ligne {number} : un objet JSON est attendu.")
        yield number, record
