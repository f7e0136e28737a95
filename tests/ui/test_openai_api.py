"""The OpenAI-compatible endpoint, driven by the official ``openai`` client against a real server."""

from __future__ import annotations

import openai
import pytest

from ui.openai_compat import MODEL_ID

QUESTION = "Quel est le délai de notification de la décision d'APA ?"


@pytest.fixture
def oai(live_server) -> openai.OpenAI:
    url, _ = live_server
    return openai.OpenAI(base_url=f"{url}/v1", api_key="inutile-en-mode-ouvert", max_retries=0, timeout=120)


def test_streaming_chat_completion(oai):
    stream = oai.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": QUESTION}],
                                         stream=True, extra_body={"mode": "extractif"})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert "deux mois" in text and "[1]" in text
    assert "\n\nSources :\n[1] Circulaire APA" in text
    citations = chunks[-1].model_extra["citations"]
    assert citations[0]["doc_id"] == "nat-circulaire-apa" and citations[0]["marker"] == 1
    assert all("citations" not in c.model_extra for c in chunks[:-1])


def test_non_streaming_chat_completion_with_history(oai):
    completion = oai.chat.completions.create(
        model=MODEL_ID,
        messages=[{"role": "system", "content": "Réponds en français."},
                  {"role": "user", "content": "Quels sont les éléments de la PCH ?"},
                  {"role": "assistant", "content": "Cinq éléments [1]."},
                  {"role": "user", "content": "Où dépose-t-on la demande ?"}],
        extra_body={"mode": "extractif"},
    )
    content = completion.choices[0].message.content
    assert "MDPH" in content and "Sources :" in content
    assert "nat-fiche-pch" in {c["doc_id"] for c in completion.model_extra["citations"]}
    assert completion.model_extra["autonomie"]["mode"] == "extractif"
    assert completion.usage is None  # no LLM ran: no token count is made up


def test_models_and_refusals(oai):
    assert [m.id for m in oai.models.list()] == [MODEL_ID]
    with pytest.raises(openai.UnprocessableEntityError):
        oai.chat.completions.create(model=MODEL_ID, messages=[{"role": "assistant", "content": "Bonjour"}])
    with pytest.raises(openai.UnprocessableEntityError):
        oai.chat.completions.create(model=MODEL_ID, stream=True, messages=[{"role": "user", "content": " "}])
