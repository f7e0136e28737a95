"""Who may claim an identity: the header mode trusts the TCP peer only, /metrics, /docs and /openapi.json
need authentication, /health shows no server path, ``autonomie serve`` stops cleanly on SIGTERM.

Real ``autonomie serve`` processes on loopback: the probes of issue 14 went through uvicorn's own
proxy-headers handling, which an in-process test client would not exercise."""

from __future__ import annotations

import json
import signal

import httpx
import pytest

from tests.security.conftest import serve

pytestmark = pytest.mark.slow

IDENTITY = {"X-Remote-User": "mallory", "X-Remote-Groups": "televersement,dep-59"}


@pytest.fixture(scope="module")
def remote_proxy_server(tmp_path_factory, project_root_module):
    """Header mode; the only trusted proxy is 10.9.9.9 (not this machine): a loopback client is never trusted."""
    with serve(tmp_path_factory.mktemp("proxy-distant"), project_root_module, AUTONOMIE_UI__AUTH="header",
               AUTONOMIE_UI__TRUSTED_PROXIES='["10.9.9.9"]') as served:
        yield served


@pytest.fixture(scope="module")
def local_proxy_server(tmp_path_factory, project_root_module):
    """Header mode behind a proxy on the same host (trusted network 127.0.0.0/8), a token for Prometheus."""
    with serve(tmp_path_factory.mktemp("proxy-local"), project_root_module, AUTONOMIE_UI__AUTH="header",
               AUTONOMIE_UI__TRUSTED_PROXIES='["127.0.0.0/8"]', AUTONOMIE_UI__METRICS_TOKEN="jeton-prometheus") as served:
        yield served


@pytest.fixture(scope="module")
def project_root_module():
    from assistant.settings import PROJECT_ROOT

    return PROJECT_ROOT


def test_forwarded_for_naming_the_proxy_does_not_make_a_client_trusted(remote_proxy_server):
    """Probe: a loopback client sending ``X-Forwarded-For: 10.9.9.9`` was taken for the trusted proxy."""
    url = remote_proxy_server.url
    for forwarded in ("10.9.9.9", "203.0.113.5, 10.9.9.9", "10.9.9.9, 10.9.9.9"):
        r = httpx.get(f"{url}/v1/models", headers={**IDENTITY, "X-Forwarded-For": forwarded})
        assert r.status_code == 403, (forwarded, r.text)
        assert "mandataire" in r.json()["detail"]
    r = httpx.get(f"{url}/api/feedback/export", headers={**IDENTITY, "X-Forwarded-For": "10.9.9.9"})
    assert r.status_code == 403


def test_identity_headers_from_an_untrusted_peer_open_neither_api_nor_chat(remote_proxy_server):
    """Header spoofing without a trusted peer, on the API and on the chat UI (Gradio's auth dependency)."""
    url = remote_proxy_server.url
    assert httpx.get(f"{url}/v1/models", headers=IDENTITY).status_code == 403
    for headers in (IDENTITY, {**IDENTITY, "X-Forwarded-For": "10.9.9.9"}):
        page = httpx.get(f"{url}/", headers=headers)
        assert page.status_code == 401, page.status_code
        config = httpx.get(f"{url}/config", headers=headers)
        assert config.status_code == 401, config.status_code


def test_metrics_and_api_description_need_authentication(remote_proxy_server):
    url = remote_proxy_server.url
    for path in ("/metrics", "/docs", "/openapi.json"):
        r = httpx.get(url + path)
        assert r.status_code in (401, 403), (path, r.status_code)
        assert set(r.json()) == {"detail"}
        spoofed = httpx.get(url + path, headers={**IDENTITY, "X-Forwarded-For": "10.9.9.9"})
        assert spoofed.status_code == 403, (path, spoofed.status_code)


def test_health_shows_no_server_path(remote_proxy_server):
    r = httpx.get(f"{remote_proxy_server.url}/health")
    assert r.status_code == 200
    text = r.text
    assert str(remote_proxy_server.folder) not in text and "/tmp/" not in text, text
    assert all(not str(v).startswith("/") for v in json.loads(text)["qdrant"].values()), text


def test_user_behind_a_proxy_on_the_same_host_keeps_access(local_proxy_server):
    """The proxy forwards the real client's address: the user must not get 403 (CIDR networks accepted)."""
    url = local_proxy_server.url
    r = httpx.get(f"{url}/v1/models", headers={**IDENTITY, "X-Forwarded-For": "203.0.113.5", "X-Forwarded-Proto": "https"})
    assert r.status_code == 200, r.text
    assert httpx.get(f"{url}/v1/models").status_code == 401  # the proxy forwarded no identity
    assert httpx.get(f"{url}/", headers={**IDENTITY, "X-Forwarded-For": "203.0.113.5"}).status_code == 200
    docs = httpx.get(f"{url}/openapi.json", headers=IDENTITY)
    assert docs.status_code == 200 and "/api/ask" in docs.json()["paths"]
    assert httpx.get(f"{url}/docs", headers=IDENTITY).status_code == 200
    assert httpx.get(f"{url}/metrics").status_code == 401
    metrics = httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer jeton-prometheus"})
    assert metrics.status_code == 200 and "autonomie_http_requests_total" in metrics.text
    assert httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer autre-jeton"}).status_code == 401
    # The chat's events (Gradio queue) resolve the user from the same TCP peer, not from X-Forwarded-For.
    from gradio_client import Client

    chat = Client(f"{url}/", headers={**IDENTITY, "X-Forwarded-For": "203.0.113.5"}, verbose=False)
    try:
        outputs = chat.predict(api_name="/refresh_documents")  # the Sources table, then the two filters' choices
    finally:
        chat.close()  # its heartbeat stream would hold the server's graceful shutdown
    assert "Aucun document indexé visible pour vous" in outputs[0]  # the event ran for the user (empty index), no refusal
    health = httpx.get(f"{url}/health", headers=IDENTITY).json()  # authenticated: the full report
    assert health["qdrant"]["location"].startswith(str(local_proxy_server.folder / "qdrant"))


def test_serve_exits_with_code_0_on_sigterm(local_proxy_server):
    """Probe: ``autonomie serve`` ended with 143 (killed by the signal) instead of shutting down cleanly.
    Runs last in this module: it stops the server the tests above used."""
    assert local_proxy_server.process.poll() is None
    local_proxy_server.process.send_signal(signal.SIGTERM)
    assert local_proxy_server.process.wait(timeout=120) == 0, local_proxy_server.output()
    # A stream still open (a chat tab's heartbeat) is cancelled after the 5-second graceful period: uvicorn
    # logs that cancellation, nothing else may fail.
    output = local_proxy_server.output()
    assert output.count("Traceback") == output.count("CancelledError: Task cancelled, timeout graceful shutdown exceeded"), output
