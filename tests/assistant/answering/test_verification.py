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
