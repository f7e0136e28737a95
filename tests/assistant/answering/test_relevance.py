"""The features and the fitted models of assistant/answering/relevance.py."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assistant.answering.relevance import (
    JUDGE_FILE,
    PASSAGE_FEATURES,
    LogisticModel,
    RelevanceJudge,
    answer_types,
    question_profile,
    stated_types,
    type_match,
)
from assistant.text.glossary import default_glossary


def _uniform(words):
    return dict.fromkeys(words, 1.0)


@pytest.mark.parametrize("question, kinds", [
    ("À partir de quel âge peut-on demander l'APA ?", {"age"}),
    ("Dans quel délai le président doit-il notifier sa décision ?", {"delay"}),
    ("Quel est le montant maximal du plan d'aide en GIR 1 ?", {"amount"}),
    ("Qui décide de l'attribution de la PCH ?", {"body"}),
    ("Qu'est-ce que le GEVA ?", {"definition"}),
    ("Une personne en GIR 5 peut-elle toucher l'APA ?", set()),
])
def test_what_a_question_asks(question, kinds):
    assert answer_types(question) == frozenset(kinds)


def test_what_a_text_states_counts_numbers_in_words():
    assert "age" in stated_types("L'âge à partir duquel est ouvert le droit est fixé à soixante ans.")
    assert "delay" in stated_types("La décision est notifiée dans un délai de deux mois.")
    assert "amount" in stated_types("Le plafond est fixé à 1 807,89 € par mois.")
    assert type_match(frozenset({"age"}), "fixé à soixante ans") == 1.0
    assert type_match(frozenset({"age"}), "Le dossier est déposé en mairie.") == 0.0


def test_an_acronym_is_present_where_its_full_wording_is():
    profile = question_profile("Quel âge pour l'APA ?", default_glossary(), _uniform)
    legal = set(__import__("assistant.text.french", fromlist=["terms"]).terms(
        "L'âge à partir duquel est ouvert le droit à l'allocation personnalisée d'autonomie est fixé à soixante ans."))
    assert profile.coverage(legal) == 1.0
    unrelated = set(__import__("assistant.text.french", fromlist=["terms"]).terms("L'âge légal de départ à la retraite."))
    assert profile.coverage(unrelated) == pytest.approx(0.5)


def test_the_full_wording_in_the_question_counts_where_the_acronym_is():
    from assistant.text.french import terms

    profile = question_profile("Qui verse l'allocation personnalisée d'autonomie ?", default_glossary(), _uniform)
    assert profile.coverage(set(terms("L'APA est versée par le département."))) > profile.coverage(set(terms("Le département.")))


def test_logistic_model_matches_its_formula_and_rejects_inconsistent_sizes():
    model = LogisticModel(("a", "b"), np.array([1.0, 0.0]), np.array([2.0, 1.0]), np.array([0.5, -1.0]), 0.25)
    z = ((3.0 - 1.0) / 2.0) * 0.5 + (2.0 - 0.0) * -1.0 + 0.25
    assert model.probabilities(np.array([[3.0, 2.0]]))[0] == pytest.approx(1 / (1 + np.exp(-z)))
    assert LogisticModel.from_dict(model.to_dict()).probabilities(np.array([[3.0, 2.0]]))[0] == pytest.approx(1 / (1 + np.exp(-z)))
    with pytest.raises(ValueError):
        LogisticModel.from_dict({"features": ["a"], "mean": [0, 1], "scale": [1], "coef": [1], "intercept": 0})


def test_the_packaged_judge_loads_and_names_the_current_features():
    judge = RelevanceJudge.load()
    assert judge.passage.features == PASSAGE_FEATURES
    assert 0 < judge.answer_threshold <= judge.caution_threshold < 1 and 0 < judge.sentence_threshold < 1


def test_a_judge_fitted_on_other_features_is_refused_with_a_french_message(tmp_path):
    data = json.loads(JUDGE_FILE.read_text(encoding="utf-8"))
    data["passage"]["features"][0] = "ancienne_variable"
    stale = tmp_path / "judge.json"
    stale.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="make train-judge"):
        RelevanceJudge.load(stale)
    with pytest.raises(ValueError, match="illisible"):
        RelevanceJudge.load(tmp_path / "absent.json")
