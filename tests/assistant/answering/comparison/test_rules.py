"""The comparison rules on hand-written French sentence pairs (one group per status), figures written
every way, and the wordings the rules were not first written for."""

from __future__ import annotations

import pytest

from assistant.answering.comparison.rules import assess, extract_quantities, statements


def status_and_note(national: str, practice: str, national_context: str = "", topic: str = "") -> tuple[str, str]:
    result = assess(national, practice, national_context, topic)
    return result.status, result.note


# --- quantities ------------------------------------------------------------------------------------
def test_quantities_carry_unit_and_role():
    by_text = {q.text: q for q in extract_quantities(
        "La décision intervient dans un délai de 2 mois ; l'objectif interne est de six semaines. Le recours est formé "
        "dans les deux mois. Le tarif est de 24,10 € par heure, la participation de 10 %, environ 30 heures par mois, "
        "trois jours par semaine, pour les personnes âgées d'au moins 60 ans, versée le 10 du mois.")}
    assert (by_text["2 mois"].kind, by_text["2 mois"].value) == ("delai", 60)
    assert (by_text["six semaines"].kind, by_text["six semaines"].value) == ("delai", 42)
    assert by_text["deux mois"].kind == "delai_recours" and by_text["deux mois"].favourable == "higher"
    assert (by_text["24,10 € par heure"].kind, by_text["24,10 € par heure"].base) == ("montant", "heure")
    assert by_text["10 %"].favourable == "lower"  # a participation: lower is better for the person
    assert by_text["30 heures par mois"].kind == "heures" and by_text["30 heures par mois"].approx
    assert (by_text["trois jours par semaine"].kind, by_text["trois jours par semaine"].value) == ("frequence", 3)
    assert by_text["60 ans"].kind == "age"
    assert by_text["le 10 du mois"].kind == "echeance"


def test_durations_that_are_not_delays():
    kinds = {q.text: q.kind for q in extract_quantities(
        "Un justificatif de moins de trois mois. Le versement est maintenu pendant les quinze premiers jours. "
        "Le congé est pris dans la limite de 90 jours. Décision sous 48 heures.")}
    assert kinds == {"trois mois": "duree", "quinze premiers jours": "duree", "90 jours": "duree", "48 heures": "delai"}


def test_quantities_in_days_percent_and_euros():
    found = sorted((q.kind, q.value) for q in extract_quantities("sous 45 jours, ou 3 mois, 50 % et 24,10 €"))
    assert found == [("delai", 45.0), ("duree", 90.0), ("montant", 24.10), ("pourcentage", 50.0)]
    assert [(q.kind, q.value) for q in extract_quantities("un délai de deux mois")] == [("delai", 60.0)]


def test_clause_modalities():
    kinds = [s.kind for s in statements(
        "L'évaluation est obligatoire. Elle ne peut être remplacée par un appel. Pour les révisions, elle peut être "
        "remplacée par un appel. Aucun justificatif n'est exigé. L'aide n'est pas cumulable avec la PCH. "
        "Le cumul est possible avec l'aide au logement. Les dossiers sont transmis à la commission.")]
    assert kinds == ["obligation", "prohibition", "replacement", "not_required", "prohibition", "permission", None]


# --- conforme --------------------------------------------------------------------------------------
@pytest.mark.parametrize("national, practice", [
    ("La décision est notifiée dans un délai de deux mois à compter du dépôt du dossier complet.",
     "Le président du conseil départemental notifie sa décision dans les 2 mois suivant la réception du dossier complet."),
    ("L'aide au retour à domicile est versée dans la limite de 1 800 € par an.",
     "L'aide au retour à domicile est accordée dans la limite de 1 800 € par an, sur facture."),
    ("La présence d'un proche n'est pas exigée lors de l'évaluation.",
     "Aucune présence d'un proche n'est exigée lors de l'évaluation ; elle est toutefois recommandée."),
    ("La prestation n'est pas cumulable avec l'allocation compensatrice pour tierce personne.",
     "La prestation n'est pas cumulable avec l'allocation compensatrice pour tierce personne. "
     "Le cumul est possible avec les aides au logement."),
    ("Le forfait d'urgence est égal à 50 % du plafond, décidé sous 15 jours.",
     "En urgence, le forfait est égal à 50 % du plafond et la décision est prise sous quinze jours."),
    ("La visite à domicile est obligatoire. Pendant une hospitalisation, l'évaluation peut se faire à l'hôpital, "
     "puis une visite au domicile a lieu dans le mois suivant le retour.",
     "La visite à domicile est obligatoire ; si la personne est hospitalisée, l'évaluation peut avoir lieu à l'hôpital "
     "et la visite au domicile suit dans le mois suivant le retour."),
])
def test_restated_rule_is_conforme(national, practice):
    status, note = status_and_note(national, practice)
    assert status == "conforme", note


# --- divergent -------------------------------------------------------------------------------------
@pytest.mark.parametrize("national, practice, words", [
    # a shorter delay than the national maximum
    ("La carte est délivrée dans un délai de quatre mois.", "Le département délivre la carte sous six semaines.",
     ["six semaines", "<", "quatre mois"]),
    # the national delay restated, plus an internal target
    ("Le plan d'aide est proposé dans un délai de 30 jours.",
     "Le plan d'aide est proposé dans les 30 jours ; l'objectif interne est de 20 jours.", ["20 jours", "supplémentaire"]),
    # a more favourable amount than the national floor
    ("Le forfait d'installation est au moins égal à 30 €.", "Le forfait d'installation est fixé à 45 €.",
     ["45 €", ">", "30 €", "favorable"]),
    # an additional step
    ("La demande est adressée au président du conseil départemental.",
     "La demande est adressée au président du conseil départemental ; un entretien complémentaire est proposé à l'aidant.",
     ["élément supplémentaire", "entretien complémentaire"]),
    # a local limit on something the national rule does not quantify
    ("Le plan d'aide peut financer l'hébergement temporaire.",
     "L'hébergement temporaire est financé dans la limite de 30 jours par an.", ["30 jours par an", "non chiffrée"]),
])
def test_compatible_difference_is_divergent(national, practice, words):
    status, note = status_and_note(national, practice)
    assert status == "divergent", note
    for word in words:
        assert word.lower() in note.lower()


# --- contraire -------------------------------------------------------------------------------------
@pytest.mark.parametrize("national, practice, words", [
    # a longer delay than the legal maximum
    ("Le département statue dans un délai de deux mois.", "Le département statue dans un délai de 3 mois.",
     ["délai local 3 mois > délai national deux mois"]),
    # a lower rate than the national one
    ("Le montant forfaitaire est égal à 50 % du plafond.", "Le montant forfaitaire est fixé à 30 % du plafond.",
     ["taux local 30 % < taux national 50 %"]),
    # an amount below the legal floor
    ("Le tarif ne peut être inférieur à 23 € par heure.", "Le tarif de référence est fixé à 21 € par heure.",
     ["21 €/heure", "<", "23 €/heure"]),
    # a shorter appeal delay than the person is entitled to
    ("Le recours est formé dans un délai de deux mois.", "Le recours doit être formé dans un délai d'un mois.",
     ["délai de recours local un mois < délai de recours national deux mois"]),
    # a mandatory step replaced
    ("L'entretien avec le proche aidant est obligatoire avant la révision du plan.",
     "Pour les révisions, l'entretien avec le proche aidant peut être remplacé par un questionnaire écrit.",
     ["remplacée", "questionnaire"]),
    # a mandatory step made optional
    ("La réunion de l'équipe pluridisciplinaire est obligatoire avant toute décision.",
     "La réunion de l'équipe pluridisciplinaire est facultative lorsque la situation est simple.", ["facultative"]),
    # something the rule excludes allowed
    ("La prestation n'est pas cumulable avec l'allocation compensatrice pour tierce personne.",
     "Par exception, la prestation peut être cumulée avec l'allocation compensatrice pour tierce personne pendant six mois.",
     ["exclut", "peut être cumulée"]),
    # a piece the rule does not require made mandatory
    ("Aucun justificatif de domicile n'est exigé pour la demande.",
     "Un justificatif de domicile est obligatoire pour que la demande soit recevable.", ["justificatif de domicile"]),
    # a right removed
    ("En l'absence de réponse dans le délai, l'aide est versée à titre provisoire.",
     "La décision intervient dans le délai, sans versement provisoire.", ["sans versement provisoire"]),
    # a right reserved to some GIR levels
    ("Le droit au répit est ouvert à tout proche aidant indispensable.",
     "Le droit au répit est réservé aux aidants de personnes classées en GIR 1 à 3.", ["GIR 1, 2, 3"]),
])
def test_contradiction_is_contraire(national, practice, words):
    status, note = status_and_note(national, practice)
    assert status == "contraire", note
    for word in words:
        assert word.lower() in note.lower()


def test_approximate_values_are_never_enough_for_contraire():
    status, note = status_and_note("Le tarif journalier est en moyenne de 40 € par jour.",
                                    "Le tarif journalier est d'environ 30 € par jour.")
    assert status == "divergent" and "approximative" in note


def test_relaxed_condition_and_conditional_sans_are_not_removals():
    national = "L'aide est versée à titre provisoire. Le répit est financé au-delà du plafond."
    assert status_and_note(national, "Le répit est financé au-delà du plafond, sans condition de GIR.")[0] == "conforme"
    assert status_and_note(national, "Sans décision dans ce délai, l'aide est versée à titre provisoire.")[0] == "conforme"


def test_no_practice_is_non_trouve():
    assert status_and_note("La décision est notifiée dans un délai de deux mois.", "  ") == (
        "non_trouve", "Aucune pratique trouvée dans les documents de ce territoire.")


# --- wording the rules were not written for -------------------------------------------------------------
def test_numbers_in_words_fractions_and_units_every_way():
    by_text = {q.text: q for q in extract_quantities(
        "Réponse sous soixante jours ; aide égale à la moitié du plafond ; 22,80 euros de l'heure ; deux journées "
        "hebdomadaires ; un mois et demi ; 15 j ; quarante-cinq jours ; 300 € mensuels.")}
    assert by_text["soixante jours"].value == 60
    assert (by_text["la moitié"].kind, by_text["la moitié"].value) == ("pourcentage", 50)
    assert (by_text["22,80 euros de l'heure"].kind, by_text["22,80 euros de l'heure"].base) == ("montant", "heure")
    assert (by_text["deux journées hebdomadaires"].kind, by_text["deux journées hebdomadaires"].base) == ("frequence", "semaine")
    assert by_text["un mois et demi"].value == 45
    assert by_text["15 j"].value == 15 and by_text["quarante-cinq jours"].value == 45
    assert by_text["300 € mensuels"].base == "mois"


def test_ranges_compare_their_least_favourable_bound():
    [q] = extract_quantities("La visite a lieu entre 10 et 20 jours après le dépôt.")
    assert (q.value, q.low) == (20, 10)
    national = "La visite a lieu dans un délai de 15 jours à compter du dépôt."
    assert status_and_note(national, "La visite a lieu dans un délai de 10 à 20 jours à compter du dépôt.")[0] == "contraire"
    assert status_and_note(national, "La visite a lieu dans un délai de 8 à 12 jours à compter du dépôt.")[0] == "divergent"


@pytest.mark.parametrize("national, practice, expected", [
    # restated in words and other units
    ("Le président notifie sa décision dans un délai de 2 mois à compter du dossier complet ; à défaut, l'APA est "
     "accordée à titre provisoire pour 50 % du plafond du GIR 1.",
     "Nous vous répondons au plus tard soixante jours après que votre dossier est complet. Passé ce délai, vous "
     "percevez une aide provisoire égale à la moitié du plafond du GIR 1.", "conforme"),
    # quicker than the rule, in weeks
    ("La décision est prise dans un délai de 15 jours.", "La décision est prise en une semaine au plus.", "divergent"),
    # slower than the rule, in words
    ("La décision est prise dans un délai de 15 jours.", "La décision est prise dans un délai de trois semaines.", "contraire"),
    # a tariff under the national floor, written "euros de l'heure"
    ("Ce tarif ne peut être inférieur au tarif plancher national, fixé à 23,50 € par heure.",
     "Les heures prestataires sont valorisées à 22,80 euros de l'heure.", "contraire"),
])
def test_figures_written_differently(national, practice, expected):
    status, note = status_and_note(national, practice)
    assert status == expected, note


def test_payment_schedule_less_frequent_than_monthly_is_contraire():
    national = "L'APA à domicile est versée mensuellement au bénéficiaire."
    status, note = status_and_note(national, "L'allocation vous est versée une fois par trimestre, à terme échu.")
    assert status == "contraire" and "trimestre" in note
    assert status_and_note(national, "L'allocation est versée chaque mois au bénéficiaire.")[0] == "conforme"
    # a local payment day on a point the national text leaves open: a local choice
    assert status_and_note(national, "L'APA est versée mensuellement, le 5 de chaque mois.")[0] == "divergent"


def test_local_control_frequency_is_divergent():
    national = "Les services procèdent à des contrôles d'effectivité par échantillonnage."
    status, note = status_and_note(national, "Un contrôle semestriel porte sur les bulletins de salaire.", topic="Contrôle d'effectivité")
    assert status == "divergent" and "semestriel" in note


@pytest.mark.parametrize("practice", [
    "Le Département prend aussi à sa charge deux nuits par an d'hébergement temporaire pour chaque aidant.",
    "Le Département met à votre disposition son propre service de téléassistance, « Veille 44 ».",
    "L'installation et l'abonnement sont gratuits pour les bénéficiaires de l'APA.",
    "En outre, chaque bénéficiaire en emploi direct reçoit une fois par an la visite d'un contrôleur du Département.",
])
def test_services_funding_or_controls_added_on_top_are_divergent_not_conforme(practice):
    national = "La téléassistance et le répit peuvent être financés par le plan d'aide ; contrôles par échantillonnage."
    status, note = status_and_note(national, practice)
    assert status == "divergent", note


def test_extra_funding_is_not_read_as_a_lower_national_amount():
    national = "Le plan d'aide peut être majoré, au-delà du plafond, d'un montant annuel d'environ 580 € pour le répit."
    practice = ("Le module répit d'environ 580 € par an s'applique. Le Département y ajoute un fonds de répit de 300 € par "
                "an et par aidant.")
    status, note = status_and_note(national, practice, topic="Répit des proches aidants")
    assert status == "divergent", note


def test_mandatory_home_visit_done_remotely_is_contraire():
    national = ("L'évaluation donne lieu à une visite à domicile obligatoire. La visite ne peut être remplacée par un "
                "entretien téléphonique.")
    status, note = status_and_note(national, "Pour un renouvellement, l'entretien d'évaluation se tient en visioconférence, "
                                              "sans déplacement à votre domicile.")
    assert status == "contraire" and "distance" in note
    # a phone call that prepares the visit does not replace it
    assert status_and_note(national, "La visite à domicile est obligatoire. Un échange téléphonique peut préparer la "
                                      "visite, mais ne la remplace pas.")[0] == "conforme"


def test_piece_added_to_a_closed_national_list():
    national = ("Le dossier comprend le formulaire, une pièce d'identité, l'avis d'imposition et un RIB. Aucune autre pièce "
                "ne peut être exigée.")
    status, note = status_and_note(national, "Une attestation de votre médecin traitant doit également accompagner la "
                                              "demande : sans elle, votre dossier reste incomplet.")
    assert status == "contraire" and "limitative" in note
    # an optional extra piece: a local addition, not a contradiction
    assert status_and_note(national, "En plus, le demandeur est invité à joindre un justificatif de domicile ; son absence "
                                      "ne rend pas le dossier incomplet.")[0] == "divergent"
    assert status_and_note(national, "La demande doit être accompagnée d'une pièce d'identité, de l'avis d'imposition et "
                                      "d'un RIB.")[0] == "conforme"


def test_exception_added_to_an_unconditional_obligation_is_contraire():
    national = "La visite à domicile est obligatoire pour toute demande d'APA."
    status, note = status_and_note(national, "La visite à domicile est obligatoire, sauf pour les renouvellements des "
                                              "personnes en GIR 4.")
    assert status == "contraire" and "exception" in note


def test_exclusion_written_as_a_verb_and_a_local_cumulation():
    national = ("L'APA exclut le versement simultané de l'aide ménagère (aide sociale départementale ou caisse de retraite), "
                "de la majoration pour tierce personne et de la PCH.")
    assert status_and_note(national, "L'APA peut être cumulée avec l'aide ménagère servie par la caisse de retraite.")[0] == "contraire"
    assert status_and_note(national, "Vous ne pouvez pas percevoir en même temps l'APA et la PCH, ni l'aide ménagère de "
                                      "votre caisse de retraite.")[0] == "conforme"


def test_other_appeal_authority_is_contraire_unless_the_mandatory_appeal_is_kept():
    national = ("Le demandeur forme un recours administratif préalable obligatoire (RAPO) auprès du président du conseil "
                "départemental dans un délai de 2 mois.")
    assert status_and_note(national, "La décision peut être contestée dans les deux mois devant la commission "
                                      "départementale d'aide sociale.")[0] == "contraire"
    assert status_and_note(national, "Le RAPO, adressé au président dans les deux mois, est examiné par une commission "
                                      "interne de recours.")[0] == "divergent"


def test_a_figure_of_another_article_is_not_compared():
    national = "Toute décision peut faire l'objet d'un recours administratif préalable dans un délai de 2 mois."
    practice = ("Vous avez deux mois pour adresser un recours administratif préalable au président. Pour mémoire, votre "
                "demande de révision est traitée sous trois mois.")
    status, note = status_and_note(national, practice, topic="Recours contre une décision")
    assert status == "conforme", note


def test_reason_states_the_values_compared():
    result = assess("La décision est notifiée dans un délai de deux mois.", "La décision est notifiée dans un délai de 45 jours.")
    assert result.status == "divergent" and result.reason.startswith("45 jours contre deux mois")
    assert assess("Le délai est de deux mois.", "Le délai est de 2 mois.").reason == "mêmes valeurs : 2 mois"


def test_a_negation_elsewhere_in_the_clause_does_not_deny_a_remote_evaluation():
    national = "La visite à domicile est obligatoire. Elle ne peut être remplacée par un entretien téléphonique."
    assert status_and_note(national, "Si votre situation n'a pas changé, l'entretien d'évaluation se tient en "
                                      "visioconférence, sans déplacement.")[0] == "contraire"
    assert status_and_note(national, "Visite à domicile systématique. Aucune évaluation sur dossier ou par téléphone.")[0] == "conforme"


def test_no_false_gap_on_places_pronouns_and_other_orders_of_magnitude():
    visit = "L'évaluation donne lieu à une visite à domicile obligatoire."
    # a person without a home is visited where she lives: not an evaluation moved out of the home
    assert status_and_note(visit, "La visite a lieu au lieu de vie habituel ou dans les locaux de l'organisme de "
                                   "domiciliation.")[0] == "conforme"
    # offered as an alternative, it is
    assert status_and_note(visit, "À sa demande, l'évaluation peut se dérouler dans les locaux de la maison de "
                                   "l'autonomie.")[0] == "contraire"
    # "il finance…" restating what the national module finances is no local offer
    national = "Le module répit finance l'accueil de jour, l'hébergement temporaire ou le relais à domicile."
    assert status_and_note(national, "Il finance de l'accueil de jour, de l'hébergement temporaire ou du relais à "
                                      "domicile.")[0] == "conforme"
    # a restated hourly tariff and monthly ceilings of a table: no extra tariff
    assert status_and_note("Ce tarif ne peut être inférieur au tarif plancher national de 23,50 € par heure.",
                            "Le tarif est égal au tarif plancher national, soit 23,50 € par heure. GIR 3 1 195,67 € "
                            "50 heures")[0] == "conforme"


def test_practice_status_of_a_delay():
    national = "La décision est notifiée dans un délai de deux mois."
    assert status_and_note(national, "Décision notifiée sous 3 mois.")[0] == "contraire"  # longer than the legal maximum
    assert status_and_note(national, "Décision notifiée sous 45 jours.")[0] == "divergent"  # shorter: compatible
    assert status_and_note(national, "La décision est notifiée dans les 2 mois.")[0] == "conforme"
    assert status_and_note(national, "")[0] == "non_trouve"
