"""The deterministic question analysis: follow-ups, comparison intent, sources."""

import pytest

from assistant.answering.schema import Turn
from assistant.answering.steps.analyse import analyse, condense


def test_follow_up_borrows_the_previous_question():
    history = [Turn(role="user", content="Quel est le délai d'instruction de l'APA ?"),
               Turn(role="assistant", content="Deux mois [1].")]
    assert condense("Et dans le Nord ?", history).startswith("Quel est le délai d'instruction de l'APA")
    analysis = analyse("Et dans le Nord ?", history)
    assert analysis.territories == ["59"] and "délai d'instruction" in analysis.standalone
    assert condense("Quels documents faut-il fournir pour une demande de PCH à la MDPH ?", history).startswith("Quels documents")


def test_comparison_intent_and_sources():
    analysis = analyse("Comparer le délai APA entre le Nord, la Gironde et le Rhône", [])
    assert analysis.compare and analysis.territories == ["59", "33", "69"]
    assert analyse("Qui remplit le volet 5 du GEVA ?", []).search_geva


@pytest.mark.parametrize(("question", "compare"), [
    ("APA et aide ménagère de la caisse de retraite : cumul possible dans les Bouches-du-Rhône et dans le Nord ?", True),
    ("Téléassistance pour les bénéficiaires de l'APA : comment font le Nord, l'Ille-et-Vilaine et la Gironde ?", True),
    ("Délai de l'APA d'urgence en Gironde par rapport au national ?", True),
    ("Délai de l'APA d'urgence dans les départements 59 et 13 ?", True),
    ("Délai de l'APA d'urgence en Gironde ?", False),
    ("Une personne âgée de la Creuse part en EHPAD dans le Cher : quel département paie son ASH ?", False),
    ("Délai de l'APA d'urgence par rapport au national ?", False),
])
def test_several_territories_or_one_against_the_national_rule_is_a_comparison(question, compare):
    assert analyse(question, []).compare is compare
