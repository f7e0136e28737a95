"""The Compose deployment: parses, every variable is documented, every setting exists in the tree."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.deploy.conftest import DEPLOY, unknown_settings

COMPOSE = DEPLOY / "compose" / "docker-compose.yml"
ENV_EXAMPLE = DEPLOY / "compose" / ".env.example"
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")
ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=", re.MULTILINE)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def env_example_lines() -> list[str]:
    return ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()


def test_services_profiles_and_restart_policy(compose):
    services = compose["services"]
    assert set(services) == {"qdrant", "vllm", "llamacpp", "embeddings", "assistant"}
    assert services["vllm"]["profiles"] == ["gpu"] and services["llamacpp"]["profiles"] == ["cpu"]
    for name, service in services.items():
        assert service["restart"] == "unless-stopped", name
        assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
    # Both LLM servers answer on the same alias, which the assistant uses.
    for name in ("vllm", "llamacpp"):
        assert services[name]["networks"]["default"]["aliases"] == ["llm"]
    assert services["assistant"]["environment"]["AUTONOMIE_LLM__BASE_URL"] == "http://llm:8000/v1"


def test_vllm_serves_with_tools_guided_decoding_limits_and_a_key(compose):
    vllm = compose["services"]["vllm"]
    command = vllm["command"]
    for flag in ("--enable-auto-tool-choice", "--tool-call-parser", "--structured-outputs-config.backend",
                 "--max-model-len", "--gpu-memory-utilization", "--api-key"):
        assert flag in command, flag
    assert "mistralai/Mistral-Small-3.1-24B-Instruct-2503" in command
    assert vllm["image"].startswith("${VLLM_IMAGE:-vllm/vllm-openai:")
    device = vllm["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]


def test_llamacpp_replaces_vllm_with_a_gguf_volume(compose):
    llamacpp = compose["services"]["llamacpp"]
    assert llamacpp["image"].startswith("${LLAMACPP_IMAGE:-ghcr.io/ggml-org/llama.cpp:server")
    assert any(volume.endswith(":/models:ro") for volume in llamacpp["volumes"])
    assert "--model /models/" in llamacpp["command"] and "--api-key" in llamacpp["command"]


def test_embedding_service_is_optional_and_wired_to_the_assistant(compose):
    embeddings, assistant = compose["services"]["embeddings"], compose["services"]["assistant"]
    assert embeddings["profiles"] == ["embeddings"] and "ports" not in embeddings
    assert embeddings["image"].startswith("${EMBEDDINGS_IMAGE:-michaelf34/infinity:")
    assert "--port 7997" in embeddings["command"] and "--served-model-name ${EMBEDDINGS_SERVED_NAME" in embeddings["command"]
    assert embeddings["environment"]["DO_NOT_TRACK"] == "1"
    env = assistant["environment"]
    assert env["AUTONOMIE_EMBEDDING__BACKEND"] == "${EMBEDDING_BACKEND:-local}"  # in-process unless asked
    assert env["AUTONOMIE_EMBEDDING__SERVICE__BASE_URL"] == "http://embeddings:7997"
    assert env["AUTONOMIE_EMBEDDING__SERVICE__MODEL"] == "${EMBEDDINGS_SERVED_NAME:-multilingual-e5-small}"
    assert assistant["depends_on"]["embeddings"] == {"condition": "service_healthy", "required": False}


def test_qdrant_has_a_volume_and_an_api_key(compose):
    qdrant = compose["services"]["qdrant"]
    assert "qdrant_storage:/qdrant/storage" in qdrant["volumes"]
    assert qdrant["environment"]["QDRANT__SERVICE__API_KEY"].startswith("${QDRANT_API_KEY:?")
    assert "ports" not in qdrant and "ports" not in compose["services"]["vllm"]  # reachable from the assistant only


def test_assistant_is_built_from_the_dockerfile_with_env_from_dotenv(compose):
    assistant = compose["services"]["assistant"]
    assert assistant["build"] == {"context": "../..", "dockerfile": "Dockerfile"}
    assert (COMPOSE.parent / assistant["build"]["context"] / "Dockerfile").is_file()
    assert assistant["env_file"] == ".env"
    assert assistant["depends_on"]["qdrant"]["condition"] == "service_healthy"
    assert assistant["environment"]["AUTONOMIE_PROFILES"] == "prod"


def test_every_variable_of_the_compose_file_is_in_env_example():
    used = set(INTERPOLATION.findall(COMPOSE.read_text(encoding="utf-8")))
    defined = set(ASSIGNMENT.findall(ENV_EXAMPLE.read_text(encoding="utf-8")))
    assert used - defined == set()
    assert "COMPOSE_PROFILES" in defined


def test_every_env_example_variable_is_commented_in_french():
    lines = env_example_lines()
    for index, line in enumerate(lines):
        if ASSIGNMENT.match(line):
            previous = lines[index - 1]
            assert previous.startswith("# ") and len(previous) > 12, f"{line.split('=')[0]} sans commentaire"
    assert "Ne jamais versionner" in ENV_EXAMPLE.read_text(encoding="utf-8")


def test_every_autonomie_variable_exists_in_the_settings_tree(compose, known_env_names):
    for path in (COMPOSE, ENV_EXAMPLE):
        assert unknown_settings(path.read_text(encoding="utf-8"), known_env_names) == set(), path.name
    assert unknown_settings("AUTONOMIE_QDRANT__URLS AUTONOMIE_LLM_BASE_URL", known_env_names) == {
        "AUTONOMIE_QDRANT__URLS", "AUTONOMIE_LLM_BASE_URL"}
