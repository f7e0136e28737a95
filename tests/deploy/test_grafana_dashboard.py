"""The example Grafana dashboard: valid JSON, every panel queries Prometheus through the chosen source."""

from __future__ import annotations

import json
import re

import pytest

from assistant.settings import PROJECT_ROOT
from tests.deploy.conftest import DEPLOY

DASHBOARD = DEPLOY / "grafana" / "dashboard.json"
METRIC = re.compile(r"\b(autonomie_[a-z0-9_]+?)(?:_bucket|_count|_sum)?\b")


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def queries(dashboard: dict) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] if p["type"] != "row" for t in p["targets"]]


def test_panels_cover_the_assistant_vllm_and_qdrant(dashboard):
    assert dashboard["uid"] and {v["name"] for v in dashboard["templating"]["list"]} >= {"datasource"}
    exprs = " ".join(queries(dashboard))
    for metric in ("autonomie_http_requests_total", "vllm:num_requests_running", "vllm:generation_tokens_total",
                   "cluster_peers_total"):
        assert metric in exprs
    assert "histogram_quantile(0.95" in exprs


def test_every_query_uses_the_datasource_variable_and_is_balanced(dashboard):
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}" and panel["targets"], panel["title"]
        for target in panel["targets"]:
            expr = target["expr"]
            assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}"), expr


def test_assistant_metrics_match_what_the_server_exposes(dashboard):
    """The dashboard queries only metrics that the server defines (ui/metrics.py)."""
    sources = "\n".join(p.read_text(encoding="utf-8") for folder in ("assistant", "ui")
                        for p in (PROJECT_ROOT / folder).rglob("*.py"))
    defined = set(re.findall(r"(?:Counter|Histogram|Gauge|Summary)\(\s*[\"'](autonomie_[a-z0-9_]+)", sources))
    assert "autonomie_http_requests" in defined, defined
    used = {m for expr in queries(dashboard) for m in METRIC.findall(expr)}
    assert used <= defined | {f"{name}_total" for name in defined}, used - defined
