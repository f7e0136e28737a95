"""The référentiel of practice questions: what the harmonisation matrix asks every territory.

A YAML file (default ``corpus/referentiel-pratiques.yaml``, setting ``harmonisation.referentiel``)::

    questions:
      - id: Q1                                   # unique, letters, digits, '-' or '_'
        label: "Délai d'instruction d'une demande d'APA"   # short row title
        question: "Quel est le délai de traitement d'une demande d'APA à domicile ?"
        national:
          rule: "Décision notifiée dans les 2 mois…"        # the national rule, summarised
          doc_id: nat-apa-textes                           # optional: the national text that holds it
          section: "Article L. 232-14"                      # optional: its section or article

It is validated on load: an unknown field, a missing one, a duplicate id or a malformed value raises
:class:`ReferentielError`, whose French message names the file, the line and the field.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

_FIELD_NAMES = {"questions": "questions", "id": "identifiant", "label": "libellé", "question": "question",
                "national": "référence nationale", "rule": "règle", "doc_id": "document", "section": "section"}


class ReferentielError(ValueError):
    """A référentiel that cannot be used, with a French message naming the file, line and field."""


class NationalReference(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    rule: str = Field(min_length=3, max_length=2000, description="The national rule, in one or two sentences.")
    doc_id: str | None = Field(None, pattern=r"^[A-Za-z0-9._-]+$", description="National document that holds it.")
    section: str | None = Field(None, min_length=1, max_length=300, description="Its section or article.")

    @model_validator(mode="after")
    def _section_needs_document(self) -> "NationalReference":
        if self.section and not self.doc_id:
            raise ValueError("une section nationale doit être accompagnée de son document (doc_id)")
        return self


class PracticeQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")
    label: str = Field(min_length=3, max_length=200)
    question: str = Field(min_length=10, max_length=1000)
    national: NationalReference

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value


class Referentiel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    questions: list[PracticeQuestion] = Field(min_length=1)
    source: str = Field("", exclude=True)

    @model_validator(mode="after")
    def _unique_ids(self) -> "Referentiel":
        seen: set[str] = set()
        for index, q in enumerate(self.questions):
            if q.id in seen:
                raise ValueError(f"identifiant « {q.id} » en double (question n° {index + 1})")
            seen.add(q.id)
        return self

    def select(self, ids: list[str] | None) -> list[PracticeQuestion]:
        """The questions named by ``ids`` (all when empty), in the référentiel's order."""
        if not ids:
            return list(self.questions)
        known = {q.id: q for q in self.questions}
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise ReferentielError(f"Question(s) inconnue(s) du référentiel : {', '.join(unknown)} ; "
                                   f"identifiants possibles : {', '.join(known)}.")
        wanted = set(ids)
        return [q for q in self.questions if q.id in wanted]

    def fingerprint(self) -> str:
        """A hash of the questions (stored with each matrix run)."""
        return hashlib.sha256(self.model_dump_json(exclude={"source"}).encode()).hexdigest()[:16]


def load_referentiel(path: Path) -> Referentiel:
    """Reads and validates a référentiel file; raises :class:`ReferentielError` (French, with file and line)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ReferentielError(f"{path} : référentiel introuvable.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ReferentielError(f"{path} : lecture impossible ({exc}).") from exc
    return parse_referentiel(text, str(path))


def parse_referentiel(text: str, source: str = "<référentiel>") -> Referentiel:
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", ligne {mark.line + 1}" if mark else ""
        raise ReferentielError(f"{source}{where} : YAML invalide ({getattr(exc, 'problem', None) or exc}).") from exc
    if not isinstance(data, dict):
        raise ReferentielError(f"{source} : le référentiel doit être un dictionnaire YAML avec une clé « questions ».")
    try:
        referentiel = Referentiel.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        location = tuple(error["loc"])
        line = _line_of(node, location)
        where = f", ligne {line}" if line else ""
        field = _field_label(location)
        raise ReferentielError(f"{source}{where}, champ {field} : {_message(error)}"
                               + (f" ({len(exc.errors()) - 1} autre(s) erreur(s))" if len(exc.errors()) > 1 else "")
                               ) from exc
    referentiel.source = source
    return referentiel


def _field_label(location: tuple) -> str:
    parts = []
    for item in location:
        if isinstance(item, int):
            parts.append(f"n° {item + 1}")
        else:
            parts.append(_FIELD_NAMES.get(str(item), str(item)))
    return "« " + " › ".join(parts) + " »" if parts else "(racine)"


def _message(error: dict) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    match kind:
        case "missing":
            return "champ obligatoire manquant."
        case "extra_forbidden":
            return "champ inconnu (champs possibles : id, label, question, national › rule, doc_id, section)."
        case "string_too_short":
            return f"texte trop court (au moins {ctx.get('min_length')} caractères)."
        case "string_too_long":
            return f"texte trop long (au plus {ctx.get('max_length')} caractères)."
        case "string_pattern_mismatch":
            return "valeur mal formée (lettres, chiffres, « - » ou « _ », sans espace)."
        case "string_type":
            return "un texte est attendu."
        case "too_short":
            return "la liste est vide : ajoutez au moins une question."
        case "list_type":
            return "une liste est attendue."
        case "model_type" | "dict_type" | "model_attributes_type":
            return "un dictionnaire est attendu."
        case "value_error":
            return str(ctx.get("error", error["msg"])) + "."
    return error["msg"]


def _line_of(node: Any, location: tuple) -> int | None:
    """The 1-based line of the deepest YAML node on ``location`` (pydantic's error path)."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in location:
        if isinstance(node, yaml.MappingNode) and isinstance(key, str):
            child = next(((k, v) for k, v in node.value if getattr(k, "value", None) == key), None)
            if child is None:
                break
            line, node = child[0].start_mark.line + 1, child[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
    return line
