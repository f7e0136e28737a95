"""The HTTP API against a real small index (real embeddings, embedded Qdrant, extractive answers)."""

from __future__ import annotations

import base64
import json
import re
import sqlite3

import pytest

from tests.ui.conftest import API_KEY, PASSWORDS
from tests.ui.corpus import RESTRICTED_DOC, RESTRICTED_WORDS

APA_QUESTION = "Quel est le délai de notification de la décision d'APA ?"
NORD_QUESTION = "Quelle cellule suit les dossiers urgents d'APA dans le Nord ?"


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def proxy(user: str, groups: str) -> dict[str, str]:
    return {"X-Remote-User": user, "X-Remote-Groups": groups}


def test_ask_answers_with_citations(client):
    r = client.post("/api/ask", json={"question": APA_QUESTION, "mode": "extractif"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["mode"] == "extractif" and not body["abstained"]
    assert "deux mois" in body["answer"]
    assert body["citations"][0]["doc_id"] == "nat-circulaire-apa"
    markers = {int(m) for m in re.findall(r"\[(\d+)\]", body["answer"])}
    assert markers and markers <= {c["marker"] for c in body["citations"]}


def test_ask_filters_by_territory_and_type(client):
    r = client.post("/api/ask", json={"question": APA_QUESTION, "mode": "extractif", "territoires": ["13"],
                                      "types": ["pratique_territoriale"]})
    assert r.status_code == 200, r.text
    cited = {c["doc_id"] for c in r.json()["citations"]}
    assert cited == {"dep13-rdas"}


def test_ask_follow_up_uses_history(client):
    first = client.post("/api/ask", json={"question": "Quels sont les éléments de la PCH ?", "mode": "extractif"}).json()
    history = [{"role": "user", "content": first["question"]}, {"role": "assistant", "content": first["answer"]}]
    r = client.post("/api/ask", json={"question": "Où dépose-t-on la demande ?", "history": history, "mode": "extractif"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["standalone_question"] != body["question"]  # condensed with the conversation
    assert "nat-fiche-pch" in {c["doc_id"] for c in body["citations"]}


@pytest.mark.parametrize("payload, fragment", [
    ({"question": "   "}, "vide"),
    ({"question": APA_QUESTION, "territoires": ["999"]}, "Département inconnu"),
    ({"question": APA_QUESTION, "types": ["roman"]}, "Type de document inconnu"),
])
def test_ask_refuses_bad_requests_in_french(client, payload, fragment):
    r = client.post("/api/ask", json=payload)
    assert r.status_code == 422
    assert fragment in r.json()["detail"]


def test_compare_flags_each_territory(client):
    r = client.post("/api/compare", json={"question": APA_QUESTION, "territoires": ["13", "59"]})
    assert r.status_code == 200, r.text
    comparison = r.json()["comparison"]
    assert "deux mois" in comparison["national_rule"]
    rows = {row["territory"]: row for row in comparison["territories"]}
    assert rows["13"]["status"] == "conforme" and rows["13"]["citations"][0]["doc_id"] == "dep13-rdas"
    assert rows["59"]["status"] == "non_trouve"  # the Nord's document is restricted to dep-59


def test_health_when_llm_is_down(client):
    r = client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["llm"]["configured"] is True and body["llm"]["available"] is False
    assert body["qdrant"]["ok"] is True and body["qdrant"]["points"] == 5
    assert body["index"]["documents"] == 4
    assert body["index"]["passages_by_type"]["pratique_territoriale"] == 2


def test_metrics_count_requests_steps_and_modes(client):
    client.post("/api/ask", json={"question": APA_QUESTION, "mode": "extractif"})
    client.post("/api/ask", json={"question": "Quelle est la couleur préférée du ministre ?", "mode": "extractif"})
    text = client.get("/metrics").text
    assert 'autonomie_http_requests_total{endpoint="/api/ask",method="POST",status="200"} 2.0' in text
    assert 'autonomie_answers_total{channel="api",kind="question",mode="extractif"} 2.0' in text
    assert 'autonomie_abstentions_total{channel="api",kind="question"} 1.0' in text
    assert re.search(r'autonomie_answer_step_seconds_count\{step="retrieve"\} 2\.0', text)
    assert 'autonomie_http_request_duration_seconds_bucket{endpoint="/api/ask"' in text


def test_documents_list_and_reading_order(client):
    docs = client.get("/api/documents").json()
    assert docs["total"] == 3 and RESTRICTED_DOC not in {d["doc_id"] for d in docs["documents"]}
    apa = next(d for d in docs["documents"] if d["doc_id"] == "nat-circulaire-apa")
    assert (apa["doc_type"], apa["territory"], apa["date"], apa["validity"], apa["passages"]) == (
        "circulaire", "national", "2024-03-15", "en_vigueur", 2)
    passages = client.get("/api/documents/nat-circulaire-apa").json()["passages"]
    assert [p["chunk_index"] for p in passages] == [0, 1]
    assert "Délai de notification" in passages[0]["section_path"] and "Visite" in passages[1]["section_path"]


def test_restricted_document_never_reaches_another_group(make_client):
    client = make_client(auth="header", trusted_proxies=["192.0.2.10"], client_address="192.0.2.10")
    answers = {}
    for user, groups in (("bruno", "dep-13"), ("alice", "dep-59")):
        headers = proxy(user, groups)
        ask = client.post("/api/ask", headers=headers, json={"question": NORD_QUESTION, "mode": "extractif",
                                                            "territoires": ["59"]})
        compare = client.post("/api/compare", headers=headers, json={"question": APA_QUESTION, "territoires": ["59"]})
        listing = client.get("/api/documents", headers=headers).json()
        opened = client.get(f"/api/documents/{RESTRICTED_DOC}", headers=headers)
        answers[groups] = (ask.json(), compare.json(), listing, opened)
    ask, compare, listing, opened = answers["dep-13"]
    assert RESTRICTED_DOC not in {c["doc_id"] for c in ask["citations"]}
    assert RESTRICTED_WORDS not in json.dumps(ask, ensure_ascii=False)
    assert compare["comparison"]["territories"][0]["status"] == "non_trouve"
    assert RESTRICTED_WORDS not in json.dumps(compare, ensure_ascii=False)
    assert RESTRICTED_DOC not in {d["doc_id"] for d in listing["documents"]}
    assert opened.status_code == 404
    # The same requests from the group dep-59 do see it: the checks above can fail.
    ask, compare, listing, opened = answers["dep-59"]
    assert RESTRICTED_DOC in {c["doc_id"] for c in ask["citations"]}
    assert compare["comparison"]["territories"][0]["citations"][0]["doc_id"] == RESTRICTED_DOC
    assert RESTRICTED_DOC in {d["doc_id"] for d in listing["documents"]}
    assert opened.status_code == 200 and RESTRICTED_WORDS in opened.json()["passages"][0]["text"]


def test_login_required_when_configured(make_client, users_file):
    client = make_client(auth="gradio", users_file=users_file)
    for r in (client.post("/api/ask", json={"question": APA_QUESTION}), client.get("/api/documents"),
              client.get("/v1/models")):
        assert r.status_code == 401, r.url
        assert r.headers["WWW-Authenticate"].startswith("Basic")
    assert client.get("/api/documents", headers=basic("alice", "mauvais")).status_code == 401
    assert client.get("/api/documents", headers={"Authorization": "Bearer aa-fausse-cle"}).status_code == 401
    alice = client.get("/api/documents", headers=basic("alice", PASSWORDS["alice"]))
    assert alice.status_code == 200 and RESTRICTED_DOC in {d["doc_id"] for d in alice.json()["documents"]}
    bruno = client.get("/api/documents", headers=basic("bruno", PASSWORDS["bruno"]))
    assert bruno.status_code == 200 and RESTRICTED_DOC not in {d["doc_id"] for d in bruno.json()["documents"]}
    assert client.get("/v1/models", headers={"Authorization": f"Bearer {API_KEY}"}).status_code == 200
    # bruno is not in an upload group: uploads and the feedback export are refused.
    files = {"files": ("note.md", b"# Note\n\nTexte.", "text/markdown")}
    assert client.post("/api/documents", headers=basic("bruno", PASSWORDS["bruno"]), files=files).status_code == 403
    assert client.get("/api/feedback/export", headers=basic("bruno", PASSWORDS["bruno"])).status_code == 403
    # The chat UI itself asks for a login.
    assert client.get("/config").status_code == 401


def test_proxy_headers_trusted_only_from_the_proxy(make_client):
    client = make_client(auth="header", client_address="192.0.2.10")  # trusted proxies: 127.0.0.1 and ::1
    assert client.get("/api/documents", headers=proxy("alice", "dep-59")).status_code == 403
    client = make_client(auth="header", trusted_proxies=["192.0.2.0/24"], client_address="192.0.2.10")
    assert client.get("/api/documents").status_code == 401
    assert client.get("/api/documents", headers=proxy("alice", "dep-59")).status_code == 200


def test_feedback_stored_and_exported_as_eval_questions(make_client):
    client = make_client()
    answer = client.post("/api/ask", json={"question": APA_QUESTION, "mode": "extractif"}).json()
    common = {"question": answer["question"], "answer": answer["answer"], "mode": answer["mode"],
              "citations": answer["citations"]}
    assert client.post("/api/feedback", json={**common, "rating": "positif"}).status_code == 200
    refused = client.post("/api/feedback", json={**common, "rating": "negatif"})
    assert refused.status_code == 422 and "raison" in refused.json()["detail"]
    r = client.post("/api/feedback", json={**common, "rating": "negatif", "reason": "incomplete", "comment": "Manque le délai d'urgence."})
    assert r.status_code == 200
    db_path = client.app.state.backend.feedback.path
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT rating, reason, comment, question, mode, citations FROM feedback ORDER BY id").fetchall()
    assert [(r[0], r[1]) for r in rows] == [("positif", None), ("negatif", "incomplete")]
    assert rows[1][2] == "Manque le délai d'urgence." and rows[1][3] == APA_QUESTION and rows[1][4] == "extractif"
    assert json.loads(rows[0][5])[0]["doc_id"] == "nat-circulaire-apa"

    lines = client.get("/api/feedback/export?format=jsonl").text.splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["gold_docs"] for r in records] == [["nat-circulaire-apa"], []]
    assert all(r["question"] == APA_QUESTION and r["reference_answer"] == "" and r["qid"] for r in records)
    csv_text = client.get("/api/feedback/export?format=csv")
    assert csv_text.headers["content-type"].startswith("text/csv")
    header, first = csv_text.text.splitlines()[:2]
    assert header.startswith("qid,question,reference_answer,gold_docs")
    assert "nat-circulaire-apa" in first
