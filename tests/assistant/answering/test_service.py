"""The assistant end to end on a real small index: extractive mode, abstention, follow-ups, PII,
prompt injection, LLM down, and the generative/tool-calling flows (unverifiable draft included) against a
scripted OpenAI stub."""

from __future__ import annotations

import json

import pytest

from assistant.answering.prompts import NO_ANSWER
from assistant.answering.schema import Turn
from assistant.answering.service import AssistantService
from assistant.answering.steps.verify import UNVERIFIED_DRAFT
from assistant.components.vector_store import SearchFilter
from tests.stub_llm import completion, streamed, stub  # noqa: F401


def service(services, settings, **llm_changes):
    """An AssistantService on the shared small index with its own LLM settings."""
    from assistant.answering.generative import GenerativeSteps
    from assistant.components.llm import LLMClient

    llm_settings = settings.llm.model_copy(update={"max_retries": 0, **llm_changes})
    return AssistantService(settings.answer, llm_settings, services.retriever, services.embedder,
                            GenerativeSteps(LLMClient(llm_settings)))


def test_extractive_answer_quotes_and_cites_the_right_article(small_index):
    settings, services = small_index
    response = service(services, settings).ask("Quelles personnes âgées ont droit à l'APA selon leur GIR ?", mode="extractif")
    assert response.mode == "extractif" and not response.abstained
    assert response.citations and response.citations[0].doc_id == "nat-apa"
    assert response.citations[0].article == "1"
    assert "GIR 1 à 4" in response.answer
    for c in response.citations:  # every quote is verbatim in its passage
        for part in (c.quote or "").split(" […] "):
            assert part in c.text
    assert response.verification.checked >= 1 and response.verification.all_supported
    assert "allocation personnalisée d'autonomie" in response.glossary_added
    assert {"retrieve", "select", "verify", "total"} <= set(response.timings)


@pytest.mark.parametrize("question", ["Comment obtenir un permis de construire ?",
                                      "Quel est le prix d'un billet de train entre Paris et Marseille ?"])
def test_abstains_when_the_corpus_does_not_answer(small_index, question):
    settings, services = small_index
    response = service(services, settings).ask(question, mode="extractif")
    assert response.abstained and response.citations == []
    assert response.answer.startswith("Le corpus ne permet pas de répondre")


def test_follow_up_question_is_resolved(small_index):
    settings, services = small_index
    history = [Turn(role="user", content="Quel est le délai de décision pour l'APA ?"),
               Turn(role="assistant", content="Deux mois [1].")]
    response = service(services, settings).ask("Et dans les Bouches-du-Rhône ?", history=history, mode="extractif")
    assert response.territories == ["13"]
    assert "délai" in response.standalone_question
    assert "dep13-rdas" in {c.doc_id for c in response.citations}


def test_personal_data_is_masked_before_the_llm_sees_it(small_index, stub):
    settings, services = small_index
    stub.script(streamed(["La visite à domicile est obligatoire avant toute proposition de plan d'aide [1]."]))
    assistant = service(services, settings, base_url=stub.base_url, model="stub-model")
    response = assistant.ask("Mme Martin, née le 02/05/1940, tél. 06 11 22 33 44 : la visite à domicile est-elle obligatoire ?",
                             mode="generatif")
    sent = json.dumps(stub.requests, ensure_ascii=False)
    assert "Martin" not in sent and "02/05/1940" not in sent and "06 11" not in sent
    assert set(response.pii_masked) == {"nom de personne", "date de naissance", "numéro de téléphone"}
    assert response.warnings[0].startswith("Données personnelles masquées")
    assert "Martin" not in response.question


def test_generative_answer_is_verified_and_unsupported_claim_removed(small_index, stub):
    settings, services = small_index
    stub.script(streamed([
        "La visite à domicile par un membre de l'équipe médico-sociale est obligatoire [1]. ",
        "Le département rembourse aussi 300 € de frais de taxi [1].",
    ]))
    response = service(services, settings, base_url=stub.base_url).ask("La visite à domicile est-elle obligatoire pour l'APA ?",
                                                                       mode="generatif")
    assert response.mode == "generatif" and not response.abstained
    assert "visite à domicile" in response.answer and "300 €" not in response.answer
    assert response.verification.removed and "300 €" in response.verification.removed[0]
    assert [c.doc_id for c in response.citations] == ["nat-apa"]
    prompt = stub.requests[0]["messages"]
    assert prompt[0]["role"] == "system" and "DONNÉES" in prompt[0]["content"]


def test_unverifiable_draft_falls_back_to_the_extractive_answer(small_index, stub):
    settings, services = small_index
    draft = ["Le département rembourse 300 € de frais de taxi [1]. ", "Un chèque cadeau est offert chaque année [2]."]
    stub.script(streamed(draft))
    items = list(service(services, settings, base_url=stub.base_url).stream("La visite à domicile est-elle obligatoire pour l'APA ?",
                                                                          mode="generatif"))
    response = items[-1]
    assert response.mode == "extractif" and not response.abstained
    assert UNVERIFIED_DRAFT in response.warnings
    assert "300 €" not in response.answer and "visite à domicile" in response.answer
    assert response.citations and response.verification.all_supported
    for c in response.citations:  # the quotes are exact again
        for part in (c.quote or "").split(" […] "):
            assert part in c.text
    # the draft was streamed as it came, then the answer that replaces it
    assert items[:-1] == [*draft, "\n\n" + response.answer]
    assert {"analyse", "retrieve", "select", "generate", "verify", "total"} <= set(response.timings)


def test_model_saying_it_cannot_answer_still_abstains(small_index, stub):
    settings, services = small_index
    stub.script(streamed([NO_ANSWER]))
    response = service(services, settings, base_url=stub.base_url).ask("La visite à domicile est-elle obligatoire pour l'APA ?",
                                                                       mode="generatif")
    assert response.abstained and response.mode == "generatif" and response.citations == []
    assert response.abstention_reason.startswith("Le modèle a jugé")
    assert UNVERIFIED_DRAFT not in response.warnings


def test_prompt_injection_in_a_document_changes_nothing(small_index, stub):
    settings, services = small_index
    extractive = service(services, settings).ask("Que permet la téléassistance à domicile ?", mode="extractif")
    assert "PWNED" not in extractive.answer and "Ignore" not in extractive.answer
    assert "piege" in {c.doc_id for c in extractive.citations}
    stub.script(streamed(["La téléassistance permet d'alerter un plateau d'écoute 24 heures sur 24 [1]."]))
    generative = service(services, settings, base_url=stub.base_url).ask("Que permet la téléassistance à domicile ?", mode="generatif")
    sent = json.dumps(stub.requests, ensure_ascii=False)
    assert "PWNED" not in sent and "Ignore les consignes" not in sent
    assert stub.requests[0]["messages"][0]["content"].startswith("Tu es l'Assistant Autonomie")
    assert "PWNED" not in generative.answer


def test_llm_down_falls_back_to_extractive_and_says_so(small_index):
    settings, services = small_index
    assistant = service(services, settings, base_url="http://127.0.0.1:9/v1", connect_timeout_s=0.5)
    for mode in ("auto", "generatif"):
        response = assistant.ask("La visite à domicile est-elle obligatoire ?", mode=mode)
        assert response.mode == "extractif" and not response.abstained
        assert any("indisponible" in w for w in response.warnings)


def test_tool_calls_drive_retrieval_when_the_model_supports_them(small_index, stub):
    settings, services = small_index
    call = {"id": "call_1", "type": "function",
            "function": {"name": "rechercher_pratiques", "arguments": json.dumps({"requete": "délai d'instruction APA", "territoires": ["13"]})}}
    stub.script(completion("", tool_calls=[call]), completion("PRÊT"),
                streamed(["Dans les Bouches-du-Rhône, la décision d'APA est notifiée dans un délai de trois mois à compter du dépôt [1]."]))
    assistant = service(services, settings, base_url=stub.base_url, supports_tools=True)
    response = assistant.ask("Quel délai d'instruction de l'APA dans les Bouches-du-Rhône ?", mode="generatif")
    assert response.tool_calls and response.tool_calls[0].startswith("rechercher_pratiques")
    assert stub.requests[0]["tools"][0]["function"]["name"] == "rechercher_textes_nationaux"
    assert response.citations and response.citations[0].doc_id == "dep13-rdas"
    assert "trois mois" in response.answer


def test_comparison_per_territory_against_the_national_rule(small_index):
    settings, services = small_index
    response = service(services, settings).compare("Délai de décision d'une demande d'APA", ["13", "59"], groups=("dep-59",))
    comparison = response.comparison
    assert comparison is not None and "deux mois" in comparison.national_rule
    rows = {row.territory: row for row in comparison.territories}
    assert rows["13"].status == "contraire" and "trois mois" in rows["13"].note  # longer than the legal delay
    assert rows["13"].citations[0].doc_id == "dep13-rdas"
    assert rows["59"].status == "divergent" and rows["59"].citations[0].doc_id == "dep59-guide"
    hidden = service(services, settings).compare("Délai de décision d'une demande d'APA", ["59"])
    assert hidden.comparison.territories[0].status == "non_trouve"  # restricted guide invisible without dep-59


def test_comparison_statuses_come_from_the_llm_only_in_generative_mode(small_index, stub):
    import json

    settings, services = small_index
    assistant = service(services, settings, base_url=stub.base_url)
    verdict = completion(json.dumps({"statut": "conforme", "justification": "Même délai que la règle nationale."}))
    stub.script(verdict, verdict)
    generative = assistant.compare("Délai de décision d'une demande d'APA", ["13", "59"], groups=("dep-59",), mode="generatif")
    assert len(stub.requests) == 2 and generative.mode == "generatif"
    assert {row.status for row in generative.comparison.territories} == {"conforme"}
    extractive = assistant.compare("Délai de décision d'une demande d'APA", ["13", "59"], groups=("dep-59",), mode="extractif")
    assert len(stub.requests) == 2 and extractive.mode == "extractif"  # the rules decided, no LLM call
    assert {row.territory: row.status for row in extractive.comparison.territories} == {"13": "contraire", "59": "divergent"}


def test_restricted_documents_never_cited_outside_their_group(small_index):
    settings, services = small_index
    response = service(services, settings).ask("objectif interne de notification APA Nord 45 jours", mode="extractif",
                                                search_filter=SearchFilter(groups=("dep-13",)))
    assert "dep59-guide" not in {c.doc_id for c in response.citations}


def test_index_statistics_are_read_once_per_step_not_per_word(small_index, monkeypatch):
    settings, services = small_index
    assistant = service(services, settings)
    store = services.retriever.store
    calls = []
    original = store.count
    monkeypatch.setattr(store, "count", lambda *args, **kwargs: calls.append(1) or original(*args, **kwargs))
    response = assistant.ask("Quelles personnes âgées ont droit à l'APA selon leur GIR dans le Nord ?", mode="extractif")
    assert not response.abstained
    assert len(calls) <= 2  # territories in analysis, IDF weights in selection


NAMED_PLACES_CORPUS = {
    "nat-urgence.md": ("nat-urgence", "circulaire", "national", "public", "en_vigueur", """# Instruction relative à l'APA d'urgence

## 3.2 Délai de décision

En cas d'urgence médicale ou sociale, le président du conseil départemental attribue l'APA à titre provisoire dans un délai de quinze jours, pour un montant forfaitaire égal à 50 % du plafond du plan d'aide du GIR 1.
"""),
    "nat-bilan.md": ("nat-bilan", "circulaire", "national", "public", "en_vigueur", """# Bilan national des remontées des départements

## 1. Données

La Gironde, le Rhône et le Nord ont transmis leurs données annuelles sur l'APA d'urgence.

## 2. Tableaux de bord

Le Rhône, la Gironde et le Nord ont présenté au comité de suivi leurs tableaux de bord de l'APA d'urgence.

## 3. Enquête

Le Nord, la Gironde et le Rhône ont répondu à l'enquête nationale sur l'accueil des demandeurs de l'APA d'urgence.

## 4. Calendrier

Le rapport sur l'APA d'urgence consacré à la Gironde, au Rhône et au Nord sera publié en juin.

## 5. Contacts

Les référents APA d'urgence de la Gironde, du Rhône et du Nord sont joignables par la messagerie nationale.
"""),
    "dep33.md": ("dep33-rdas", "pratique_territoriale", "33", "public", "en_vigueur", """# Règlement départemental d'aide sociale de la Gironde

## Article 27 — APA d'urgence

En Gironde, la décision d'APA d'urgence est prise dans un délai de trente jours pour un forfait de 40 % du plafond du GIR 1.
"""),
}


def test_comparison_searches_the_national_rule_without_the_territories_names(tmp_path, embedder):
    """The départements named in a comparison question are not the national rule's subject: a national text
    that names them in every paragraph must not take the rule's place."""
    from assistant.services import Services
    from tests.conftest import make_settings
    from tests.fixture_index import build_corpus

    settings = make_settings(tmp_path)
    services = Services(settings)
    services.__dict__["embedder"] = embedder
    try:
        assert not services.ingestion_pipeline().run([build_corpus(tmp_path / "corpus", NAMED_PLACES_CORPUS)]).failed
        response = service(services, settings).ask(
            "APA d'urgence : délai et montant en Gironde, dans le Rhône et dans le Nord par rapport au national ?", mode="extractif")
    finally:
        services.close()
    comparison = response.comparison
    assert comparison is not None and "quinze jours" in comparison.national_rule
    assert comparison.national_citations[0].doc_id == "nat-urgence"
    assert {row.territory: row.status for row in comparison.territories}["33"] == "contraire"
