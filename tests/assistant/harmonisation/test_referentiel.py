"""The référentiel of practice questions: the shipped file, and French errors naming file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from assistant.harmonisation.referentiel import ReferentielError, load_referentiel, parse_referentiel
from assistant.settings import Settings

CORPUS = Path(__file__).resolve().parents[3] / "corpus"

VALID = """questions:
  - id: Q1
    label: "Délai de décision"
    question: "Quel est le délai de décision pour l'APA ?"
    national:
      rule: "Deux mois."
      doc_id: nat-apa
      section: "Article 2"
"""


def test_shipped_referentiel_has_the_divergence_questions_and_existing_national_sections():
    referentiel = load_referentiel(Settings().resolve(Settings().harmonisation.referentiel))
    truth = yaml.safe_load((CORPUS / "divergences.yaml").read_text(encoding="utf-8"))
    assert [q.id for q in referentiel.questions] == [q["id"] for q in truth["questions"]]
    by_id = {q["id"]: q for q in truth["questions"]}
    manifest = {}
    for path in sorted((CORPUS / "manifest.d").glob("*.yaml")):
        manifest |= {e["id"]: e for e in yaml.safe_load(path.read_text(encoding="utf-8"))}
    for q in referentiel.questions:
        assert q.label == by_id[q.id]["label"]
        assert (q.national.doc_id, q.national.section) == (by_id[q.id]["national_doc"], by_id[q.id]["national_section"])
        assert manifest[q.national.doc_id]["territory"] == "national"
    assert len(referentiel.fingerprint()) == 16


def test_a_user_adds_a_question_without_code(tmp_path):
    path = tmp_path / "ref.yaml"
    path.write_text(VALID + """  - id: accueil-nuit
    label: "Accueil de nuit"
    question: "L'accueil de nuit est-il financé par le plan d'aide ?"
    national:
      rule: "Finançable par le plan d'aide."
""", encoding="utf-8")
    referentiel = load_referentiel(path)
    assert [q.id for q in referentiel.select(["accueil-nuit"])] == ["accueil-nuit"]
    assert referentiel.questions[1].national.doc_id is None
    with pytest.raises(ReferentielError, match="Question\\(s\\) inconnue\\(s\\) du référentiel : Q9"):
        referentiel.select(["Q9"])


@pytest.mark.parametrize("text, message", [
    (VALID.replace('    label: "Délai de décision"\n', ""), r"ref\.yaml, ligne 2, champ « questions › n° 1 › libellé » : champ obligatoire manquant"),
    (VALID.replace("      section:", "      page: 3\n      section:"), r"ligne 8, champ « questions › n° 1 › référence nationale › page » : champ inconnu"),
    (VALID.replace("id: Q1", "id: Q 1"), r"ligne 2, champ « questions › n° 1 › identifiant » : valeur mal formée"),
    (VALID + VALID.split("questions:\n")[1], r"identifiant « Q1 » en double"),
    ("questions: []\n", r"ligne 1, champ « questions » : la liste est vide"),
    (VALID.replace("      doc_id: nat-apa\n", ""), r"une section nationale doit être accompagnée de son document"),
    ("questions:\n  - id: [\n", r"ref\.yaml, ligne \d+ : YAML invalide"),
    ("- une liste\n", r"le référentiel doit être un dictionnaire YAML"),
])
def test_invalid_referentiel_errors_name_file_line_and_field(tmp_path, text, message):
    path = tmp_path / "ref.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ReferentielError, match=message):
        load_referentiel(path)


def test_missing_file_is_a_french_error(tmp_path):
    with pytest.raises(ReferentielError, match="référentiel introuvable"):
        load_referentiel(tmp_path / "absent.yaml")


def test_numeric_ids_are_read_as_text():
    assert parse_referentiel(VALID.replace("id: Q1", "id: 7")).questions[0].id == "7"
