"""The Helm chart, rendered by Helm's own engine: the ``helm`` binary when installed, else the Helm Go SDK
through ``helm-python-sdk`` (no cluster is contacted)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable

import pytest
import yaml

from tests.deploy.conftest import DEPLOY, unknown_settings

CHART = DEPLOY / "helm" / "assistant-autonomie"
RELEASE, NAMESPACE = "autonomie", "autonomie"
PREFIX = f"{RELEASE}-assistant-autonomie"
WORKLOADS = ("Deployment", "StatefulSet", "Job")


class RenderError(Exception):
    pass


def render(values: dict | None = None, tmp_path=None) -> list[dict]:
    """Every rendered document (hooks included), each checked to parse as a Kubernetes object."""
    values = values or {}
    if shutil.which("helm"):
        values_file = tmp_path / "values.yaml"
        values_file.write_text(yaml.safe_dump(values), encoding="utf-8")
        proc = subprocess.run(["helm", "template", RELEASE, str(CHART), "-n", NAMESPACE, "-f", str(values_file)],
                              capture_output=True, text=True)
        if proc.returncode:
            raise RenderError(proc.stderr)
        texts = [proc.stdout]
    else:
        helm = pytest.importorskip("helm_python", reason="ni « helm » ni « helm-python-sdk » : rendu impossible")
        with helm.Chart.load(str(CHART)) as chart:
            try:
                rendered = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
            except helm.HelmError as exc:
                raise RenderError(str(exc)) from exc
        texts = [text for path, text in sorted(rendered.items()) if not path.endswith("NOTES.txt")]
    docs = [doc for text in texts for doc in yaml.safe_load_all(text) if doc]
    for doc in docs:
        assert doc.get("apiVersion") and doc.get("kind") and doc["metadata"].get("name"), doc
    return docs


def find(docs: Iterable[dict], kind: str, name: str | None = None) -> dict:
    matches = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(matches) == 1, (kind, name, [d["metadata"]["name"] for d in matches])
    return matches[0]


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def containers(workload: dict) -> list[dict]:
    spec = pod_spec(workload)
    return spec.get("initContainers", []) + spec["containers"]


def effective_env(docs: list[dict], container: dict) -> dict[str, str]:
    """Environment of a container: its ConfigMaps (envFrom), then its own ``env`` (values or refs)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(find(docs, "ConfigMap", source["configMapRef"]["name"])["data"])
    for item in container.get("env", []):
        env[item["name"]] = item.get("value", item.get("valueFrom"))
    return env


def selects(selector: dict, labels: dict) -> bool:
    """Kubernetes label selector semantics (matchLabels and matchExpressions)."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        present, value = expr["key"] in labels, labels.get(expr["key"])
        ok = {"In": present and value in expr.get("values", []),
              "NotIn": not present or value not in expr.get("values", []),
              "Exists": present, "DoesNotExist": not present}[expr["operator"]]
        if not ok:
            return False
    return True


@pytest.fixture(scope="module")
def docs(tmp_path_factory) -> list[dict]:
    return render({"qdrant": {"replicas": 3, "cluster": {"enabled": True}}}, tmp_path_factory.mktemp("helm"))


def test_every_component_is_rendered(docs):
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for kind, suffix in [("Deployment", "assistant"), ("Service", "assistant"), ("HorizontalPodAutoscaler", "assistant"),
                         ("Deployment", "vllm"), ("Service", "vllm"), ("StatefulSet", "qdrant"),
                         ("Service", "qdrant"), ("Service", "qdrant-headless"), ("Job", "ingest"),
                         ("ConfigMap", "settings"), ("Secret", "secrets"), ("NetworkPolicy", "qdrant"),
                         ("NetworkPolicy", "vllm"), ("PodDisruptionBudget", "qdrant")]:
        assert (kind, f"{PREFIX}-{suffix}") in kinds
    assert ("Ingress", PREFIX) in kinds


def test_qdrant_is_a_three_node_cluster_bootstrapped_from_pod_zero(docs):
    sts = find(docs, "StatefulSet", f"{PREFIX}-qdrant")
    headless = find(docs, "Service", f"{PREFIX}-qdrant-headless")
    assert sts["spec"]["replicas"] == 3 and sts["spec"]["serviceName"] == headless["metadata"]["name"]
    assert headless["spec"]["clusterIP"] == "None" and headless["spec"]["publishNotReadyAddresses"] is True
    assert {p["port"] for p in headless["spec"]["ports"]} == {6333, 6334, 6335}
    (qdrant,) = containers(sts)
    env = effective_env(docs, qdrant)
    assert env["QDRANT__CLUSTER__ENABLED"] == "true" and env["QDRANT__CLUSTER__P2P__PORT"] == "6335"
    assert env["QDRANT__SERVICE__API_KEY"]["secretKeyRef"]["key"] == "qdrant-api-key"
    assert {"name": "p2p", "containerPort": 6335} in qdrant["ports"]
    script = qdrant["args"][0]
    domain = f"{headless['metadata']['name']}.{NAMESPACE}.svc.cluster.local"
    assert f'--bootstrap "http://{PREFIX}-qdrant-0.{domain}:6335"' in script
    assert f'--uri "$self"' in script and f'self="http://${{HOSTNAME}}.{domain}:6335"' in script
    assert [c["metadata"]["name"] for c in sts["spec"]["volumeClaimTemplates"]] == ["storage", "snapshots"]
    assert {m["mountPath"] for m in qdrant["volumeMounts"]} == {"/qdrant/storage", "/qdrant/snapshots"}
    assert qdrant["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_ingest_job_is_a_post_install_hook_creating_a_sharded_replicated_collection(docs):
    job = find(docs, "Job", f"{PREFIX}-ingest")
    assert set(job["metadata"]["annotations"]["helm.sh/hook"].split(",")) == {"post-install", "post-upgrade"}
    wait, ingest = containers(job)
    assert ingest["args"] == ["ingest", "/app/corpus"]
    env = effective_env(docs, ingest)
    assert env["AUTONOMIE_QDRANT__SHARD_NUMBER"] == "6" and env["AUTONOMIE_QDRANT__REPLICATION_FACTOR"] == "2"
    assert env["AUTONOMIE_QDRANT__URL"] == f"http://{PREFIX}-qdrant:6333"
    assert effective_env(docs, wait)["QDRANT_PEERS"] == "3"
    compile(wait["args"][0], "attente-qdrant", "exec")  # the wait script is valid Python


def test_network_policies_let_only_the_assistant_reach_qdrant_and_vllm(docs):
    workloads = {d["metadata"]["labels"]["app.kubernetes.io/component"]: d["spec"]["template"]["metadata"]["labels"]
                 for d in docs if d["kind"] in WORKLOADS}
    assert set(workloads) == {"assistant", "vllm", "qdrant", "ingest"}

    def allowed(component: str) -> dict[str, set[int]]:
        policy = find(docs, "NetworkPolicy", f"{PREFIX}-{component}")
        assert selects(policy["spec"]["podSelector"], workloads[component])
        assert not any(selects(policy["spec"]["podSelector"], labels)
                       for other, labels in workloads.items() if other != component)
        reach: dict[str, set[int]] = {}
        for rule in policy["spec"]["ingress"]:
            for peer in rule["from"]:
                if "podSelector" not in peer:
                    continue
                for other, labels in workloads.items():
                    if selects(peer["podSelector"], labels):
                        reach.setdefault(other, set()).update(p["port"] for p in rule["ports"])
        return reach

    assert allowed("qdrant") == {"assistant": {6333, 6334}, "ingest": {6333, 6334}, "qdrant": {6333, 6334, 6335}}
    assert allowed("vllm") == {"assistant": {8000}}


def test_assistant_deployment_probes_config_and_autoscaling(docs):
    deployment = find(docs, "Deployment", f"{PREFIX}-assistant")
    (assistant,) = containers(deployment)
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert assistant[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert assistant["args"] == ["serve", "--host", "0.0.0.0", "--port", "8000"]
    assert assistant["resources"]["requests"] and assistant["resources"]["limits"]
    env = effective_env(docs, assistant)
    assert env["AUTONOMIE_PROFILES"] == "prod" and env["AUTONOMIE_LLM__BASE_URL"] == f"http://{PREFIX}-vllm:8000/v1"
    assert env["AUTONOMIE_LLM__API_KEY"]["secretKeyRef"]["key"] == "llm-api-key"
    assert pod_spec(deployment)["securityContext"]["runAsNonRoot"] is True
    assert "replicas" not in deployment["spec"]  # the HPA owns it

    hpa = find(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert {m["type"] for m in hpa["spec"]["metrics"]} == {"Resource", "Pods"}
    service = find(docs, "Service", f"{PREFIX}-assistant")
    assert selects({"matchLabels": service["spec"]["selector"]}, deployment["spec"]["template"]["metadata"]["labels"])
    ingress = find(docs, "Ingress")
    assert ingress["spec"]["tls"][0]["hosts"] == [ingress["spec"]["rules"][0]["host"]]
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == service["metadata"]["name"]


def test_vllm_requests_a_gpu_and_serves_with_tools_and_guided_decoding(docs):
    (vllm,) = containers(find(docs, "Deployment", f"{PREFIX}-vllm"))
    assert vllm["resources"]["limits"]["nvidia.com/gpu"] == 1 == vllm["resources"]["requests"]["nvidia.com/gpu"]
    args = vllm["args"]
    assert args[args.index("--model") + 1] == "mistralai/Mistral-Small-3.1-24B-Instruct-2503"
    assert args[args.index("--tool-call-parser") + 1] == "mistral" and "--enable-auto-tool-choice" in args
    assert args[args.index("--api-key") + 1] == "$(VLLM_API_KEY)"
    assert "--structured-outputs-config.backend" in args and "--max-model-len" in args
    assert effective_env(docs, vllm)["VLLM_API_KEY"]["secretKeyRef"]["key"] == "llm-api-key"


def test_embedding_service_when_enabled_serves_the_assistant_and_the_ingest_job(tmp_path):
    docs = render({"embeddings": {"enabled": True}}, tmp_path)
    (server,) = containers(find(docs, "Deployment", f"{PREFIX}-embeddings"))
    assert server["args"][:3] == ["v2", "--model-id", "intfloat/multilingual-e5-small"]
    assert "--port" in server["args"] and "7997" in server["args"] and "cpu" in server["args"]
    assert find(docs, "Service", f"{PREFIX}-embeddings")["spec"]["ports"][0]["port"] == 7997
    settings = find(docs, "ConfigMap", f"{PREFIX}-settings")["data"]
    assert settings["AUTONOMIE_EMBEDDING__BACKEND"] == "service"
    assert settings["AUTONOMIE_EMBEDDING__SERVICE__BASE_URL"] == f"http://{PREFIX}-embeddings:7997"
    assert settings["AUTONOMIE_EMBEDDING__SERVICE__MODEL"] == "multilingual-e5-small"
    policy = find(docs, "NetworkPolicy", f"{PREFIX}-embeddings")
    assert policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchExpressions"][0]["values"] == ["assistant", "ingest"]
    assert [p["port"] for p in policy["spec"]["ingress"][0]["ports"]] == [7997]


def test_embedding_service_is_off_by_default(docs):
    assert not [d for d in docs if d["metadata"]["name"].endswith("-embeddings")]
    assert "AUTONOMIE_EMBEDDING__BACKEND" not in find(docs, "ConfigMap", f"{PREFIX}-settings")["data"]


def test_every_secret_and_configmap_reference_resolves(docs):
    secret = find(docs, "Secret")
    for workload in (d for d in docs if d["kind"] in WORKLOADS):
        for container in containers(workload):
            for item in container.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref and not ref.get("optional"):
                    assert ref["name"] == secret["metadata"]["name"] and ref["key"] in secret["data"], item
            for source in container.get("envFrom", []):
                find(docs, "ConfigMap", source["configMapRef"]["name"])
    assert len(secret["data"]["qdrant-api-key"]) >= 48  # a generated key, base64


def test_every_autonomie_variable_rendered_exists_in_the_settings_tree(docs, known_env_names):
    names = set(find(docs, "ConfigMap")["data"])
    for workload in (d for d in docs if d["kind"] in WORKLOADS):
        names |= {item["name"] for c in containers(workload) for item in c.get("env", [])}
    autonomie = {n for n in names if n.startswith("AUTONOMIE_")}
    assert len(autonomie) >= 10
    assert unknown_settings(" ".join(autonomie), known_env_names) == set()


def test_values_that_cannot_work_stop_the_rendering(tmp_path):
    with pytest.raises(RenderError, match="replicationFactor"):
        render({"qdrant": {"replicationFactor": 4}}, tmp_path)
    with pytest.raises(RenderError, match="cluster.enabled"):
        render({"qdrant": {"cluster": {"enabled": False}}}, tmp_path)
    with pytest.raises(RenderError, match="externalBaseUrl"):
        render({"vllm": {"enabled": False}}, tmp_path)


def test_single_node_qdrant_external_llm_and_existing_secret(tmp_path):
    docs = render({
        "qdrant": {"replicas": 1, "replicationFactor": 1, "shardNumber": 1, "cluster": {"enabled": False}},
        "vllm": {"enabled": False}, "llm": {"externalBaseUrl": "https://llm.interne/v1"},
        "secrets": {"existingSecret": "cles-autonomie"},
    }, tmp_path)
    assert not [d for d in docs if d["kind"] == "Secret" or d["metadata"]["name"].endswith("-vllm")]
    (qdrant,) = containers(find(docs, "StatefulSet"))
    assert "--bootstrap" not in qdrant["args"][0] and effective_env(docs, qdrant)["QDRANT__CLUSTER__ENABLED"] == "false"
    assert find(docs, "ConfigMap")["data"]["AUTONOMIE_LLM__BASE_URL"] == "https://llm.interne/v1"
    refs = {item["valueFrom"]["secretKeyRef"]["name"] for c in containers(find(docs, "Deployment"))
            for item in c["env"] if "valueFrom" in item}
    assert refs == {"cles-autonomie"}


def test_chart_passes_helm_lint():
    if shutil.which("helm"):
        proc = subprocess.run(["helm", "lint", str(CHART)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return
    helm = pytest.importorskip("helm_python", reason="ni « helm » ni « helm-python-sdk »")
    result = helm.lint(str(CHART))
    assert result["errors"] == [] and all(m["severity"] < 2 for m in result["messages"]), result
