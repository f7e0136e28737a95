"""The citation verifier: supported sentences kept, a planted claim and unsupported sentences dropped, with
their reasons."""

from assistant.answering.schema import Citation
from assistant.answering.verification import CitationVerifier


def citation(marker, passage):
    return Citation(marker=marker, doc_id=f"d{marker}", title="t", doc_type="circulaire", territory="national", passage=passage)


def test_verifier_keeps_supported_sentences_and_drops_a_planted_claim():
    citations = [citation(1, "La décision est notifiée dans un délai de deux mois à compter du dépôt du dossier complet."),
                 citation(2, "La visite à domicile est obligatoire avant le plan d'aide.")]
    answer = ("La décision est notifiée dans un délai de deux mois à compter du dossier complet [1]. "
              "La visite à domicile est obligatoire [2]. "
              "Le département verse aussi une prime de 500 € à chaque demandeur [1]. "
              "Les recours sont jugés par la Cour de cassation en premier ressort. "
              "Le forfait est de « 40 % du plafond » [2]. "
              "Voir aussi [7].")
    kept, verification = CitationVerifier(0.6).run(answer, citations)
    assert "deux mois" in kept and "visite à domicile" in kept
    assert "500 €" not in kept and "Cour de cassation" not in kept and "40 %" not in kept
    reasons = {s.reason for s in verification.sentences if not s.supported}
    assert any(r.startswith("chiffres absents") for r in reasons)
    assert "aucune citation" in reasons and "citation entre guillemets absente du passage" in reasons
    assert verification.unknown_markers == [7]
    assert verification.supported == 2 and not verification.all_supported


def test_a_list_quoted_with_its_lead_in_is_one_claim():
    """The extractive answer quotes a list with its lead-in, one citation after the closing guillemet: every item
    is kept (they used to be read as uncited sentences and removed); an item the passage lacks still fails."""
    passage = ("L'APA est versée mensuellement. Trois modalités sont possibles :\n\n"
               "- le versement au bénéficiaire, qui rémunère lui-même les intervenants ;\n"
               "- le versement direct au service prestataire ;\n"
               "- le versement sous forme de CESU préfinancé.")
    answer = ("D'après les documents du corpus :\n"
              "- « Trois modalités sont possibles :\n"
              "- le versement au bénéficiaire, qui rémunère lui-même les intervenants ;\n"
              "- le versement direct au service prestataire ;\n"
              "- le versement sous forme de CESU préfinancé. » [1]")
    kept, verification = CitationVerifier(0.6).run(answer, [citation(1, passage)])
    assert kept == answer
    assert verification.checked == verification.supported == 1
    planted = answer.replace("service prestataire ;", "service prestataire, qui rembourse 500 € ;")
    kept, verification = CitationVerifier(0.6).run(planted, [citation(1, passage)])
    assert "500 €" not in kept and verification.supported == 0
