"""Dataset loading: clear French errors naming the line, and the demo question set's integrity."""

import json
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from eval.dataset import DatasetError, load_dataset, load_texts, off_domain_questions
from eval.metrics import _section_pattern, normalise_section

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "eval" / "datasets" / "demo-questions.jsonl"
CORPUS = ROOT / "corpus"
GOOD = {"qid": "q1", "question": "Quel délai ?", "category": "factuel", "reference_answer": "Deux mois.",
        "gold_sources": [{"doc_id": "nat-apa-textes", "section": "Article L. 232-14"}], "answerable": True}


def _write(tmp_path: Path, *records) -> Path:
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records) + "\n",
                    encoding="utf-8")
    return path


@pytest.mark.parametrize("bad, expected", [
    ("{not json", r"ligne 2 : JSON invalide"),
    ({**GOOD, "qid": "q2", "question": None}, r"ligne 2 \(qid q2\) : question : texte attendu"),
    ({k: v for k, v in {**GOOD, "qid": "q2"}.items() if k != "category"}, r"ligne 2 .*category : champ obligatoire manquant"),
    ({**GOOD, "qid": "q2", "category": "divers"}, r"ligne 2 .*category : valeur non autorisée \(attendu : 'factuel'"),
    ({**GOOD, "qid": "q2", "answerable": "peut-être"}, r"ligne 2 .*answerable : booléen attendu"),
    ({**GOOD, "qid": "q2", "categorie": "factuel"}, r"ligne 2 .*categorie : champ inconnu"),
    ({**GOOD, "qid": "q2", "category": "hors_corpus"}, r"ligne 2 .*doit avoir answerable = false"),
    ({**GOOD, "qid": "q2", "gold_sources": []}, r"ligne 2 .*au moins une source"),
    ({**GOOD, "qid": "q2", "category": "suivi"}, r"ligne 2 .*historique"),
    ({**GOOD, "qid": "q2", "category": "comparaison", "territories": ["59"]}, r"ligne 2 .*au moins deux territoires"),
    ({**GOOD, "qid": "q2", "gold_sources": [{"doc_id": ""}]}, r"ligne 2 .*gold_sources.0.doc_id : texte vide"),
    ({**GOOD, "qid": "q1"}, r"ligne 2 : qid « q1 » déjà utilisé ligne 1"),
])
def test_bad_line_is_reported_with_its_number(tmp_path, bad, expected):
    path = _write(tmp_path, GOOD, bad)
    with pytest.raises(DatasetError, match=expected):
        load_dataset(path)


def test_missing_file_and_empty_file(tmp_path):
    with pytest.raises(DatasetError, match="introuvable"):
        load_dataset(tmp_path / "absent.jsonl")
    (tmp_path / "vide.jsonl").write_text("\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="aucune question"):
        load_dataset(tmp_path / "vide.jsonl")


def test_service_public_format_maps_gold_doc(tmp_path):
    path = _write(tmp_path, {"qid": "F1", "question": "Comment faire ?", "gold_doc": "F1"})
    (question,) = load_dataset(path)
    assert question.gold_doc_ids == ["F1"]
    assert question.reference_answer is None and question.answerable and question.category == "factuel"


def test_casf_format_maps_gold_docs_reference_and_patterns(tmp_path):
    path = _write(tmp_path, {"qid": "casf-001", "question": "À partir de quel âge ?", "gold_docs": ["CASF:R232-1"],
                             "category": "chiffre", "notes": "Age 60.", "reference_answer": "Dès 60 ans.",
                             "answer_patterns": ["60 ans"]})
    (question,) = load_dataset(path)
    assert question.gold_doc_ids == ["CASF:R232-1"] and question.answerable and question.category == "factuel"
    assert question.reference_answer == "Dès 60 ans." and question.answer_patterns == ["60 ans"]


def test_off_domain_questions_are_those_on_other_public_services(tmp_path):
    questions = tmp_path / "questions.jsonl"
    questions.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"qid": "F1", "question": "Comment renouveler un passeport ?", "gold_doc": "F1"},
        {"qid": "F2", "question": "Qui peut bénéficier de l'APA ?", "gold_doc": "F2"},  # the question is on autonomy
        {"qid": "F3", "question": "Quelles sont les règles ?", "gold_doc": "F3"},  # its fiche is on disability
        {"qid": "F9", "question": "Comment contester une amende ?", "gold_doc": "F9"},  # no fiche: judged on its words
    ]), encoding="utf-8")
    fiches = tmp_path / "fiches.jsonl"
    fiches.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"id": "F1", "text": "Le passeport est délivré par la mairie."}, {"id": "F2", "text": "L'APA aide les personnes âgées."},
        {"id": "F3", "text": "La carte mobilité inclusion des personnes en situation de handicap."}]), encoding="utf-8")
    kept = off_domain_questions(load_dataset(questions), load_texts(fiches))
    assert [q.qid for q in kept] == ["F1", "F9"]
    assert all(q.category == "hors_corpus" and not q.answerable and not q.gold_sources for q in kept)
    with pytest.raises(DatasetError, match="Fiches introuvables"):
        load_texts(tmp_path / "absent.jsonl")
    fiches.write_text('{"id": "F1", "text": "…"}\n{"text": "sans identifiant"}\n', encoding="utf-8")
    with pytest.raises(DatasetError, match="ligne 2 : champ « id » manquant"):
        load_texts(fiches)



# --- the demo set ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo():
    return load_dataset(DEMO)


@pytest.fixture(scope="module")
def manifest():
    entries = {}
    for fragment in sorted((CORPUS / "manifest.d").glob("*.yaml")):
        for entry in yaml.safe_load(fragment.read_text(encoding="utf-8")):
            entries[entry["id"]] = entry
    return entries


def _document_text(entry) -> str:
    path = CORPUS / (entry.get("source") or entry["file"])
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".html":
        from bs4 import BeautifulSoup

        text = BeautifulSoup(text, "html.parser").get_text("\n")
    return text


def test_demo_set_size_and_categories(demo):
    counts = Counter(q.category for q in demo)
    assert len(demo) >= 110
    minimum = {"hors_corpus": 15, "comparaison": 10, "suivi": 8, "pratique_territoriale": 15, "geva": 10,
               "multi_documents": 10}
    for category, least in minimum.items():
        assert counts[category] >= least, f"{category}: {counts[category]} < {least}"
    assert all(not q.answerable for q in demo if q.category == "hors_corpus")
    assert all(q.reference_answer for q in demo)


def test_demo_gold_sources_exist_in_the_corpus(demo, manifest):
    texts = {doc_id: normalise_section(_document_text(entry)) for doc_id, entry in manifest.items()}
    for q in demo:
        for source in q.gold_sources:
            assert source.doc_id in manifest, f"{q.qid}: unknown document {source.doc_id}"
            if source.section:
                assert _section_pattern(source.section).search(texts[source.doc_id]), \
                    f"{q.qid}: section « {source.section} » not in {source.doc_id}"


def test_demo_territories_match_the_documents(demo, manifest):
    for q in demo:
        territorial = {manifest[s.doc_id]["territory"] for s in q.gold_sources} - {"national"}
        assert territorial <= set(q.territories), f"{q.qid}: gold territories {territorial} not in {q.territories}"


def test_demo_comparisons_agree_with_the_divergence_table(demo):
    table = yaml.safe_load((CORPUS / "divergences.yaml").read_text(encoding="utf-8"))
    truth = [(code, row["doc_id"], row["section"], row["status"])
             for item in table["questions"] for code, row in item["territories"].items()]
    for q in (q for q in demo if q.category == "comparaison"):
        assert set(q.expected_status) == set(q.territories), q.qid
        for code, status in q.expected_status.items():
            assert any(c == code and s == status and source.doc_id == doc and _section_pattern(section).search(
                           normalise_section(source.section or ""))
                       for c, doc, section, s in truth for source in q.gold_sources), \
                f"{q.qid}: {code} {status} not in divergences.yaml"


def test_demo_questions_are_not_copied_from_their_sources(demo, manifest):
    def words(text):
        return re.findall(r"\w+", text.lower())

    for q in demo:
        question = words(q.question)
        runs = {" ".join(question[i:i + 10]) for i in range(len(question) - 9)}
        for doc_id in q.gold_doc_ids:
            text = " ".join(words(_document_text(manifest[doc_id])))
            assert not any(run in text for run in runs), f"{q.qid} copies 10 words of {doc_id}"
