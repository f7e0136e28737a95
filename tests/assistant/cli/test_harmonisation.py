"""``autonomie harmoniser`` as a real process on a real small index: exports, stored runs, changes, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from openpyxl import load_workbook

from tests.assistant.harmonisation.test_matrix import _build


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory, embedder):
    folder = tmp_path_factory.mktemp("cli-harmonisation")
    services, _ = _build(folder, embedder)
    services.close()  # the CLI process opens the embedded index itself
    return folder, {**os.environ, "HF_HUB_OFFLINE": "1", "AUTONOMIE_QDRANT__PATH": str(folder / "qdrant"),
                    "AUTONOMIE_QDRANT__COLLECTION": "test", "AUTONOMIE_LLM__BASE_URL": "",
                    "AUTONOMIE_LLM__ENDPOINT_FILE": str(folder / "no-endpoint.yaml"),
                    "AUTONOMIE_HARMONISATION__RUNS_DB": str(folder / "runs.sqlite3"),
                    "AUTONOMIE_HARMONISATION__REFERENTIEL": str(folder / "ref.yaml")}


def _cli(env, *args, cwd):
    return subprocess.run([sys.executable, "-m", "assistant.cli", "harmoniser", *args], cwd=cwd, env=env,
                          capture_output=True, timeout=600)


def test_xlsx_export_then_json_on_stdout_and_the_run_list(cli_env, project_root):
    folder, env = cli_env
    out = folder / "matrice.xlsx"
    first = _cli(env, "--groupes", "dep-59", "--format", "xlsx", "--sortie", str(out), cwd=project_root)
    text = " ".join(first.stdout.decode().split())
    assert first.returncode == 0, first.stdout.decode() + first.stderr.decode()
    assert "Fichier écrit" in text and "exécution n° 1" in text
    book = load_workbook(out)
    assert book["Matrice"]["C2"].value.startswith("Contraire")  # D1 × Bouches-du-Rhône: trois mois
    second = _cli(env, "--groupes", "dep-59", "--format", "json", "--sortie", "-", "--statut", "contraire", cwd=project_root)
    assert second.returncode == 0, second.stderr.decode()
    data = json.loads(second.stdout)
    assert data["run_id"] == 2 and {c["status"] for c in data["cells"]} == {"contraire"}
    assert data["changes"]["before"] == 1 and data["changes"]["changes"] == []
    listed = _cli(env, "--executions", cwd=project_root)
    assert "Exécutions de la matrice" in listed.stdout.decode() and listed.returncode == 0
    again = _cli(env, "--execution", "1", "--groupes", "dep-59", "--format", "html", "--sortie", str(folder / "r.html"),
                 cwd=project_root)
    assert again.returncode == 0 and "<table>" in (folder / "r.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("args, message", [
    (["--format", "pdf"], "format inconnu « pdf »"),
    (["--questions", "Z9"], "Question(s) inconnue(s) du référentiel : Z9"),
    (["--territoires", "999"], "département inconnu « 999 »"),
    (["--depuis", "77"], "Exécution n° 77 inconnue"),
    (["--statut", "faux"], "statut inconnu « faux »"),
])
def test_errors_are_french_with_exit_code_2(cli_env, project_root, args, message):
    _, env = cli_env
    result = _cli(env, *args, cwd=project_root)
    assert result.returncode == 2
    assert message in " ".join((result.stdout + result.stderr).decode().split())


def test_a_run_made_with_wider_rights_is_not_exported_to_a_narrower_reader(cli_env, project_root):
    folder, env = cli_env
    made = _cli(env, "--groupes", "dep-59", "--format", "json", "--sortie", str(folder / "x.json"), cwd=project_root)
    assert made.returncode == 0, made.stderr.decode()
    run_id = json.loads((folder / "x.json").read_text(encoding="utf-8"))["run_id"]
    refused = _cli(env, "--execution", str(run_id), "--format", "json", "--sortie", "-", cwd=project_root)
    assert refused.returncode == 2 and "droits de lecture plus larges" in " ".join(refused.stderr.decode().split())
