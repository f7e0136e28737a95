"""``autonomie serve``: the real server process owns the embedded index; binding rules."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import typer
from typer.testing import CliRunner

from tests.ui.conftest import free_port
from ui.auth import UserDirectory, hash_api_key
from assistant.cli.server import is_loopback, mot_de_passe, serve

SERVE = "import typer; from assistant.cli.server import serve; typer.run(serve)"


def test_cli_on_the_same_index_is_refused_while_the_server_runs(tmp_path, project_root):
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "AUTONOMIE_QDRANT__PATH": str(tmp_path / "qdrant"),
           "AUTONOMIE_QDRANT__COLLECTION": "verrou", "AUTONOMIE_UI__FEEDBACK_DB": str(tmp_path / "avis.sqlite3"),
           "AUTONOMIE_LLM__BASE_URL": f"http://127.0.0.1:{free_port()}/v1"}
    server = subprocess.Popen([sys.executable, "-c", SERVE, "--port", str(port)], cwd=project_root, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, server.stdout.read()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "le serveur n'a pas démarré"
            time.sleep(0.5)
        cli = subprocess.run([sys.executable, "-m", "assistant.cli", "status"], cwd=project_root, env=env,
                             capture_output=True, text=True, timeout=120)
        assert cli.returncode == 2, cli.stdout + cli.stderr
        message = " ".join((cli.stdout + cli.stderr).split())
        assert "déjà ouvert par un autre processus" in message and "autonomie serve" in message
    finally:
        server.terminate()
        server.wait(timeout=120)
    # Once the server is stopped, the same command works.
    cli = subprocess.run([sys.executable, "-m", "assistant.cli", "status"], cwd=project_root, env=env,
                         capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stdout + cli.stderr


def test_refuses_open_address_without_auth():
    app = typer.Typer()
    app.command()(serve)
    result = CliRunner().invoke(app, ["--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "sans authentification" in " ".join(result.output.split())


def test_loopback_addresses():
    assert all(is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "127.0.0.2"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.10", "::", "exemple.fr"))


def test_mot_de_passe_writes_a_users_file_entry(tmp_path):
    app = typer.Typer()
    app.command()(mot_de_passe)
    result = CliRunner().invoke(app, ["alice", "--groupes", "dep-59, televersement", "--cle-api"],
                                input="s3cret-é\ns3cret-é\n")
    assert result.exit_code == 0, result.output
    yaml_text = result.stdout[result.stdout.index("users:"):]
    (tmp_path / "users.yaml").write_text(yaml_text, encoding="utf-8")
    directory = UserDirectory.load(tmp_path / "users.yaml")
    assert directory.check_password("alice", "s3cret-é") and not directory.check_password("alice", "s3cret")
    assert directory.groups("alice") == ("dep-59", "televersement")
    key = next(word for word in result.output.split() if word.startswith("aa-"))
    assert directory.users["alice"].api_key_hash == hash_api_key(key)
