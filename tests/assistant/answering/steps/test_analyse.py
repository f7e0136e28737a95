"""The deterministic question analysis: follow-ups, comparison intent, sources."""

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
