"""Consistency of the territorial documents with the divergence ground truth (corpus/divergences.yaml)."""

import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
import yaml
from bs4 import BeautifulSoup

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
TERRITORIES = {"13", "59", "69", "33", "35"}
STATUSES = {"conforme", "divergent", "contraire"}
FORMATS = {"md", "html", "docx", "pdf"}
ARTICLE_LINE = re.compile(r"^(?:Article|Art\.|Annexe)\s+(?:[LRD]\.?\s*)?[\w.\-]+(?:\s+[—–-]\s+.{1,150})?$")


def normalize(text: str) -> str:
    text = text.replace("**", "").replace("\u00a0", " ").replace("\u202f", " ").replace("’", "'")
    return re.sub(r"\s+", " ", text).strip()


@cache
def manifest() -> dict[str, dict]:
    """All manifest entries by id: the merged manifest.yaml and the manifest.d fragments."""
    files = [CORPUS / "manifest.yaml", *sorted((CORPUS / "manifest.d").glob("*.yaml"))]
    entries: dict[str, dict] = {}
    for path in files:
        if path.is_file():
            for entry in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
                entries[entry["id"]] = entry
    return entries


def territorial_entries() -> list[dict]:
    return [e for e in manifest().values() if e.get("doc_type") == "pratique_territoriale"]


@cache
def divergences() -> dict:
    return yaml.safe_load((CORPUS / "divergences.yaml").read_text(encoding="utf-8"))


def cells() -> list[tuple[str, str, dict]]:
    return [(q["id"], code, cell) for q in divergences()["questions"] for code, cell in q["territories"].items()]


@cache
def blocks(doc_id: str) -> list[tuple[bool, str]]:
    """The document's text as (is_heading, text) blocks, read from its Markdown source or HTML file."""
    entry = manifest()[doc_id]
    path = CORPUS / (entry.get("source") or entry["file"])
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".html":
        soup = BeautifulSoup(text, "html.parser")
        tags = soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "tr"])
        return [(t.name[0] == "h" and t.name[1:].isdigit(), normalize(t.get_text(" "))) for t in tags]
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#"):
            out.append((True, normalize(line.lstrip("#"))))
        elif ARTICLE_LINE.match(line):
            out.append((True, normalize(line)))
        elif line:
            out.append((False, normalize(line.lstrip(">-| "))))
    return out


def section_bodies(doc_id: str, section: str) -> list[str]:
    """Body text of every heading that starts with `section` (so "Article 4-1" never matches "Article 4-12")."""
    pattern = re.compile(re.escape(normalize(section)) + r"(?![\d]|[.\-]\d)")
    bodies: list[str] = []
    current: list[str] | None = None
    for is_heading, text in blocks(doc_id):
        if is_heading:
            if current is not None:
                bodies.append(" ".join(current))
            current = [] if pattern.match(text) else None
        elif current is not None:
            current.append(text)
    if current is not None:
        bodies.append(" ".join(current))
    return bodies


def generated_text(entry: dict) -> str:
    path = CORPUS / entry["file"]
    if entry["format"] == "pdf":
        from pypdf import PdfReader

        return normalize(" ".join(page.extract_text() for page in PdfReader(path).pages))
    from docx import Document

    return normalize(" ".join(p.text for p in Document(path).paragraphs))


# --------------------------------------------------------------------------- ground truth


def test_questions_are_complete():
    data = divergences()
    assert set(data["territories"]) == TERRITORIES
    ids = [q["id"] for q in data["questions"]]
    assert len(ids) >= 10 and len(set(ids)) == len(ids)
    for q in data["questions"]:
        assert re.fullmatch(r"Q\d+", q["id"])
        for key in ("label", "question", "national_rule"):
            assert q[key].strip(), (q["id"], key)
        assert set(q["territories"]) == TERRITORIES, q["id"]


@pytest.mark.parametrize("qid,code,cell", cells(), ids=lambda v: v if isinstance(v, str) else "")
def test_cell_is_grounded_in_its_document(qid, code, cell):
    assert cell["status"] in STATUSES
    assert cell["answer"].strip()
    entry = manifest().get(cell["doc_id"])
    assert entry is not None, f"{qid}/{code}: {cell['doc_id']} absent du manifeste"
    assert entry["territory"] == code and entry["doc_type"] == "pratique_territoriale"
    bodies = section_bodies(cell["doc_id"], cell["section"])
    assert len(bodies) == 1, f"{qid}/{code}: section {cell['section']!r} trouvée {len(bodies)} fois"
    assert normalize(cell["excerpt"]) in bodies[0], f"{qid}/{code}: extrait absent de {cell['section']}"


def test_contradictions_are_numerous_and_spread():
    contraires = [(qid, code) for qid, code, cell in cells() if cell["status"] == "contraire"]
    assert len(contraires) >= 5
    assert len({code for _, code in contraires}) >= 3
    # every status occurs, so the ground truth cannot be satisfied by a constant answer
    assert {cell["status"] for _, _, cell in cells()} == STATUSES


def test_every_territory_answers_from_both_of_its_documents():
    used = {(code, cell["doc_id"]) for _, code, cell in cells()}
    for code in TERRITORIES:
        docs = {e["id"] for e in territorial_entries() if e["territory"] == code and e["validity"] == "en_vigueur"}
        assert {d for c, d in used if c == code} == docs, code


def test_national_references_resolve():
    national = {i: e for i, e in manifest().items() if i.startswith("nat-")}
    for q in divergences()["questions"]:
        doc_id = q.get("national_doc")
        if doc_id is None:
            continue
        if not national:
            pytest.skip("manifeste national absent")
        assert doc_id in national, q["id"]
        section = q.get("national_section")
        if section:
            assert section_bodies(doc_id, section), f"{q['id']}: {section!r} absent de {doc_id}"


def test_rendered_table_lists_every_answer():
    rendered = normalize((CORPUS / "DIVERGENCES.md").read_text(encoding="utf-8"))
    for q in divergences()["questions"]:
        assert normalize(q["label"]) in rendered, q["id"]
        for code, cell in q["territories"].items():
            assert normalize(cell["answer"]) in rendered, f"{q['id']}/{code}"


# --------------------------------------------------------------------------- manifest fragment


def test_territorial_manifest_entries():
    entries = territorial_entries()
    assert len(entries) >= 10
    assert Counter(e["territory"] for e in entries).keys() == TERRITORIES
    assert all(n >= 2 for n in Counter(e["territory"] for e in entries).values())
    formats = Counter(e["format"] for e in entries)
    assert formats["md"] >= 3 and formats["html"] >= 2 and formats["docx"] >= 2 and formats["pdf"] >= 2
    for e in entries:
        assert re.fullmatch(r"dep(13|59|69|33|35)-[a-z0-9-]+", e["id"])
        assert e["format"] in FORMATS and e["file"].endswith("." + e["format"])
        assert (CORPUS / e["file"]).is_file(), e["file"]
        assert bool(e.get("source")) == (e["format"] in ("docx", "pdf")), e["id"]
        if e.get("source"):
            assert (CORPUS / e["source"]).is_file(), e["source"]
        assert e["validity"] in ("en_vigueur", "abroge")
        assert "professionnels" in e["audience"]
        assert isinstance(e["pages"], int) and e["pages"] >= 1


def test_exactly_two_restricted_internal_guides():
    restricted = {e["id"]: e["visibility"] for e in territorial_entries() if e["visibility"] != "public"}
    assert sorted(map(tuple, restricted.values())) == [("dep-13",), ("dep-59",)]
    for doc_id, groups in restricted.items():
        assert manifest()[doc_id]["territory"] == groups[0].removeprefix("dep-")


@pytest.mark.parametrize("doc_id", [e["id"] for e in territorial_entries()])
def test_document_opens_with_demo_notice(doc_id):
    head = " ".join(text for _, text in blocks(doc_id)[:4])
    assert "Corpus de démonstration" in head


@pytest.mark.parametrize("doc_id", [e["id"] for e in territorial_entries() if e["format"] in ("docx", "pdf")])
def test_generated_file_matches_source(doc_id):
    entry = manifest()[doc_id]
    text = generated_text(entry)
    for _, code, cell in cells():
        if cell["doc_id"] == doc_id:
            assert normalize(cell["section"]) in text, f"{cell['section']} absent de {entry['file']} : relancer corpus/build.py"
    if entry["format"] == "pdf":
        from pypdf import PdfReader

        assert len(PdfReader(CORPUS / entry["file"]).pages) == entry["pages"]
