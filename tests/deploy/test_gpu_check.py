"""deploy/gpu-check.sh and its measuring helper (the GPU run itself needs a machine with an NVIDIA GPU)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.deploy.conftest import DEPLOY

SCRIPT = DEPLOY / "gpu-check.sh"


def load_bench():
    spec = importlib.util.spec_from_file_location("gpu_check_bench", DEPLOY / "gpu_check_bench.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


bench = load_bench()


def test_script_is_valid_bash_and_uses_the_documented_defaults():
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)
    text = SCRIPT.read_text(encoding="utf-8")
    assert "Qwen/Qwen2.5-0.5B-Instruct" in text and "eval/datasets/demo-questions.jsonl" in text
    assert '"ask"' not in text and "gpu_check_bench.py" in text
    assert "AUTONOMIE_LLM__BASE_URL" in text and "ingest corpus/" in text


def test_script_passes_shellcheck():
    if shutil.which("shellcheck") is None:
        if os.environ.get("AUTONOMIE_REQUIRE_SHELLCHECK") == "1":
            pytest.fail("shellcheck requis (AUTONOMIE_REQUIRE_SHELLCHECK=1) mais absent : bash deploy/local/install-test-tools.sh")
        pytest.skip("shellcheck absent (bash deploy/local/install-test-tools.sh)")
    proc = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="machine avec GPU")
def test_script_stops_with_a_french_message_without_a_gpu(tmp_path):
    env = {**os.environ, "GPU_CHECK_DIR": str(tmp_path / "travail")}
    proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2
    assert "demande un GPU NVIDIA" in proc.stderr
    assert not (tmp_path / "travail").exists()  # nothing installed before the GPU check


def test_percentile_interpolates_like_numpy():
    values = [4.0, 1.0, 3.0, 2.0, 10.0]
    assert bench.percentile(values, 50) == 3.0
    assert bench.percentile(values, 95) == pytest.approx(8.8)
    assert bench.percentile([7.0], 95) == 7.0
    with pytest.raises(ValueError):
        bench.percentile([], 50)


def test_load_questions_takes_the_first_n_and_rejects_records_without_question(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(json.dumps({"question": f"Question {i} ?", "id": i}) for i in range(30)) + "\n\n")
    assert bench.load_questions(path, 20) == [f"Question {i} ?" for i in range(20)]
    path.write_text(json.dumps({"question": "ok ?"}) + "\n" + json.dumps({"query": "x"}) + "\n")
    with pytest.raises(ValueError, match=":2"):
        bench.load_questions(path, 20)


def test_main_runs_each_question_through_the_command_and_reports(tmp_path, capsys):
    """A stand-in command records its arguments: the helper must call « ask --json --mode generatif »."""
    log = tmp_path / "appels.jsonl"
    fake = tmp_path / "autonomie_factice.py"
    fake.write_text(
        "import json, sys\n"
        f"open({str(log)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        "if 'échoue' in sys.argv[-1]:\n    sys.exit(3)\n"
        "print(json.dumps({'reponse': 'ok'}))\n"
    )
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(json.dumps({"question": q}) for q in ["Qu'est-ce que l'APA ?", "échoue", "PCH ?"]))
    out = tmp_path / "resultats.json"
    code = bench.main(["--questions", str(questions), "--commande", f"{sys.executable} {fake}", "--sortie", str(out)])
    assert code == 1  # one question failed
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert calls[0] == ["ask", "--json", "--mode", "generatif", "Qu'est-ce que l'APA ?"] and len(calls) == 3
    summary = json.loads(out.read_text())["resume"]
    assert (summary["questions"], summary["reussies"], summary["echecs"]) == (3, 2, 1)
    assert 0 < summary["latence_p50_s"] <= summary["latence_p95_s"] <= summary["latence_max_s"]
    printed = capsys.readouterr().out
    assert "débit" in printed and "p95" in printed and "ÉCHEC « échoue » : code 3" in printed


def test_generated_tokens_are_read_from_vllm_metrics(tmp_path):
    metrics = tmp_path / "metrics.txt"
    metrics.write_text(
        "# TYPE vllm:generation_tokens_total counter\n"
        'vllm:generation_tokens_total{model_name="gpu-check"} 1200.0\n'
        'vllm:generation_tokens_total{model_name="autre"} 34.0\n'
        "vllm:prompt_tokens_total 999.0\n"
    )
    assert bench.generated_tokens(metrics.as_uri()) == 1234.0
    assert bench.generated_tokens(None) is None
    assert bench.generated_tokens((tmp_path / "absent").as_uri()) is None
