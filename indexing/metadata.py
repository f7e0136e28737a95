"""Document metadata: the payload contract of every chunk, and where it comes from.

Priority: command-line overrides > the corpus manifest (``manifest.yaml`` beside the files) or the
JSONL record's own fields > inference from the file (ids like ``CASF:L232-1``, ``F10009``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from assistant.settings import DocType

Validity = Literal["en_vigueur", "abroge"]


class DocMetadata(BaseModel):
    """Everything a chunk's citation, filters and access control need, stored in its payload."""

    doc_id: str
    title: str
    doc_type: DocType = "fiche"
    territory: str = "national"
    date: dt.date | None = None
    validity: Validity = "en_vigueur"
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    replaced_by: str | None = None
    visibility: list[str] = Field(default_factory=lambda: ["public"])
    audience: list[str] = Field(default_factory=list)
    source_file: str = ""
    source_url: str | None = None

    @field_validator("visibility", "audience", mode="before")
    @classmethod
    def _as_list(cls, value: Any) -> Any:
        if value is None:
            return ["public"]
        return [value] if isinstance(value, str) else value

    @field_validator("territory", mode="before")
    @classmethod
    def _territory_text(cls, value: Any) -> Any:
        return str(value).strip() if value is not None else "national"

    def payload(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        # Qdrant's datetime filters want RFC 3339 timestamps.
        for key in ("valid_from", "valid_until"):
            if data[key]:
                data[key] = f"{data[key]}T00:00:00Z"
        return data


class ManifestEntry(BaseModel):
    id: str
    file: str
    title: str
    doc_type: DocType
    territory: str = "national"
    date: dt.date | None = None
    validity: Validity = "en_vigueur"
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    replaced_by: str | None = None
    audience: list[str] = Field(default_factory=list)
    visibility: list[str] | str = "public"
    format: str | None = None
    source: str | None = None
    pages: int | None = None
    note: str | None = None

    @field_validator("territory", mode="before")
    @classmethod
    def _territory_text(cls, value: Any) -> Any:
        return str(value)


class ManifestError(ValueError):
    pass


def load_manifest(folder: Path) -> dict[Path, ManifestEntry] | None:
    """Entries of ``folder/manifest.yaml`` and of the fragments ``folder/manifest.d/*.yaml``, keyed by
    absolute file path; None when the folder has neither."""
    files = [folder / "manifest.yaml"] if (folder / "manifest.yaml").exists() else []
    files += sorted((folder / "manifest.d").glob("*.yaml")) if (folder / "manifest.d").is_dir() else []
    if not files:
        return None
    entries: dict[Path, ManifestEntry] = {}
    seen_ids: set[str] = set()
    for manifest_file in files:
        raw = yaml.safe_load(manifest_file.read_text(encoding="utf-8")) or []
        items = raw.get("documents", []) if isinstance(raw, dict) else raw
        if not isinstance(items, list):
            raise ManifestError(f"{manifest_file} : liste de documents attendue.")
        for position, item in enumerate(items, start=1):
            try:
                entry = ManifestEntry.model_validate(item)
            except ValidationError as exc:
                raise ManifestError(f"{manifest_file}, entrée n° {position} invalide : {exc}") from exc
            if entry.id in seen_ids:
                raise ManifestError(f"{manifest_file} : identifiant en double « {entry.id} ».")
            seen_ids.add(entry.id)
            entries[(folder / entry.file).resolve()] = entry
    return entries


def infer_doc_type(doc_id: str) -> DocType:
    if doc_id.upper().startswith(("CASF:", "CSS:", "LEGI")):
        return "loi_reglement"
    return "fiche"


def build_metadata(
    *,
    doc_id: str,
    title: str,
    source_file: str,
    manifest_entry: ManifestEntry | None = None,
    record_fields: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
) -> DocMetadata:
    values: dict[str, Any] = {"doc_id": doc_id, "title": title, "source_file": source_file,
                              "doc_type": infer_doc_type(doc_id)}
    if manifest_entry is not None:
        entry = manifest_entry.model_dump(exclude={"id", "file", "format", "source", "pages", "note"})
        values.update({k: v for k, v in entry.items() if v is not None})
        values["doc_id"] = manifest_entry.id
    values.update({k: v for k, v in (record_fields or {}).items() if v is not None})
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    if values.get("valid_from") is None and values.get("date") is not None:
        values["valid_from"] = values["date"]
    return DocMetadata.model_validate(values)
