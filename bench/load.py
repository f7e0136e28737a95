"""Load test of the server → ``bench/results/load.{json,md}``.

A real ``autonomie serve`` process on loopback, over the demo corpus index (``.cache/bench/demo``,
shared with the answer bench), receives 20 concurrent sessions × 10 questions through ``POST /api/ask``
in extractive mode; each session carries its conversation history like the chat does. Bounded: every
request has a timeout and the whole run a deadline; any error or timeout is counted and fails the run.

    python -m bench.load
    python -m bench.load --sessions 20 --questions 10 --deadline 1800
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from assistant.settings import PROJECT_ROOT, Settings
from bench.answer import demo_questions
from bench.common import (
    BENCH_CACHE,
    COLLECTION,
    RESULTS_DIR,
    add_output_arguments,
    bench_settings,
    latency_summary,
    load_embedder,
    machine_info,
    machine_markdown,
    md_table,
    models_info,
    write_results,
)

SERVE = "import typer; from assistant.cli.server import serve; typer.run(serve)"
HISTORY_TURNS = 4  # question/answer pairs sent back, as the chat does for a running conversation


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_server_index(settings: Settings, corpus: Path) -> int:
    """Indexes ``corpus`` through the product's ``Services`` (so into the very engine the server opens;
    idempotent), then closes the index for the server to take it. Returns the number of passages."""
    from assistant.components.vector_store import StoreError
    from assistant.services import Services

    services = Services(settings)
    services.__dict__["embedder"] = load_embedder(settings)
    try:
        report = services.ingestion_pipeline().run([corpus], prune=True)
        if report.failed:
            raise SystemExit(f"Échec de l'indexation de {corpus} : {report.failed[0].path} : {report.failed[0].error}")
        services.store.optimize()
        return services.store.count()
    except StoreError as exc:
        raise SystemExit(f"Index du test de charge indisponible : {exc}") from exc
    finally:
        services.close()


def start_server(settings: Settings, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1",
           "AUTONOMIE_QDRANT__PATH": str(settings.qdrant.path), "AUTONOMIE_QDRANT__COLLECTION": COLLECTION,
           "AUTONOMIE_QDRANT__EMBEDDED_ENGINE": settings.qdrant.embedded_engine,
           "AUTONOMIE_LLM__ENDPOINT_FILE": str(settings.llm.endpoint_file),
           "AUTONOMIE_UI__FEEDBACK_DB": str(log.parent / "load-feedback.sqlite3")}
    env.pop("AUTONOMIE_LLM__BASE_URL", None)
    return subprocess.Popen([sys.executable, "-c", SERVE, "--port", str(port)], cwd=PROJECT_ROOT, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)


def wait_healthy(url: str, server: subprocess.Popen, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"le serveur s'est arrêté au démarrage (code {server.returncode})")
        try:
            response = httpx.get(f"{url}/health", timeout=10)
            if response.status_code == 200:
                return response.json()
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"le serveur n'a pas répondu sur {url}/health en {timeout_s:.0f} s")


def session(url: str, questions: list[str], timeout_s: float, deadline: float, results: list[dict[str, Any]]) -> None:
    """One user: asks its questions in turn, sending back the conversation so far."""
    history: list[dict[str, str]] = []
    with httpx.Client(base_url=url, timeout=timeout_s) as client:
        for question in questions:
            if time.monotonic() > deadline:
                results.append({"ok": False, "error": "échéance globale dépassée"})
                return
            started = time.perf_counter()
            try:
                response = client.post("/api/ask", json={"question": question, "mode": "extractif",
                                                         "history": history[-2 * HISTORY_TURNS:]})
                seconds = time.perf_counter() - started
                if response.status_code != 200:
                    results.append({"ok": False, "seconds": seconds, "error": f"HTTP {response.status_code}"})
                    continue
                body = response.json()
            except httpx.HTTPError as exc:
                results.append({"ok": False, "seconds": time.perf_counter() - started, "error": type(exc).__name__})
                continue
            history += [{"role": "user", "content": question}, {"role": "assistant", "content": body["answer"]}]
            results.append({"ok": True, "seconds": seconds, "server_seconds": body["timings"].get("total"),
                            "abstained": body["abstained"], "mode": body["mode"], "citations": len(body["citations"])})


def rss_mib(pid: int) -> dict[str, float | None]:
    values: dict[str, float | None] = {"rss_mib": None, "peak_rss_mib": None}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                values["rss_mib"] = round(int(line.split()[1]) / 1024, 1)
            elif line.startswith("VmHWM:"):
                values["peak_rss_mib"] = round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return values


def run(sessions: int, per_session: int, timeout_s: float, deadline_s: float, corpus: Path | None,
        out_dir: Path = RESULTS_DIR, index_root: Path = BENCH_CACHE) -> dict[str, Any]:
    base = Settings()
    settings = bench_settings(index_root / "demo", base)
    corpus = corpus or base.resolve(base.data.corpus_dir)
    source, questions = demo_questions(None)
    if not questions:
        raise SystemExit("Aucune question d'évaluation disponible (eval/datasets).")
    chunks = ensure_server_index(settings, corpus)
    print(f"Index : {chunks} passages ({settings.qdrant.path}).", flush=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = index_root / "load-server.log"
    server = start_server(settings, port, log)
    try:
        health = wait_healthy(url, server, timeout_s=300)
        results: list[dict[str, Any]] = []
        machine = machine_info()  # load average just before the sessions start
        plan = [[questions[(s * per_session + k) % len(questions)] for k in range(per_session)] for s in range(sessions)]
        deadline = time.monotonic() + deadline_s
        threads = [threading.Thread(target=session, args=(url, plan[s], timeout_s, deadline, results)) for s in range(sessions)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()) + timeout_s)
        wall = time.perf_counter() - started
        memory = rss_mib(server.pid)
        metrics_text = httpx.get(f"{url}/metrics", timeout=30).text
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    ok = [r for r in results if r["ok"]]
    errors = Counter(r["error"] for r in results if not r["ok"])
    expected = sessions * per_session
    data = {
        "machine": machine,
        "models": models_info(settings) | {"qdrant_engine": health["qdrant"].get("engine")},
        "setup": {"sessions": sessions, "questions_per_session": per_session, "requests_expected": expected,
                  "mode": "extractif", "endpoint": "POST /api/ask", "history_turns": HISTORY_TURNS,
                  "request_timeout_s": timeout_s, "deadline_s": deadline_s, "questions_source": source,
                  "index_chunks": chunks, "llm_available": health["llm"]["available"],
                  "server_qdrant_engine": health["qdrant"].get("engine")},
        "results": {
            "requests": len(results), "ok": len(ok), "errors": dict(errors), "wall_s": round(wall, 1),
            "throughput_rps": round(len(ok) / wall, 2) if wall else None,
            "latency_client": latency_summary(r["seconds"] for r in ok) | {
                "max_ms": round(max((r["seconds"] for r in ok), default=0) * 1000, 1)},
            "latency_server_total": latency_summary(r["server_seconds"] for r in ok if r["server_seconds"] is not None),
            "abstentions": sum(r["abstained"] for r in ok),
            "modes": dict(Counter(r["mode"] for r in ok)),
            "server_memory": memory,
            "metrics_requests_counted": _counted(metrics_text),
        },
    }
    write_results("load", data, markdown(data), out_dir)
    if errors or len(ok) != expected:
        raise SystemExit(f"Test de charge en échec : {len(ok)}/{expected} réponses, erreurs {dict(errors)}.")
    return data


def _counted(metrics_text: str) -> int:
    """Successful /api/ask requests the server itself counted (cross-check of the client's count)."""
    prefix = 'autonomie_http_requests_total{endpoint="/api/ask",method="POST",status="200"} '
    return next((int(float(line[len(prefix):])) for line in metrics_text.splitlines() if line.startswith(prefix)), 0)


def markdown(data: dict[str, Any]) -> str:
    s, r = data["setup"], data["results"]
    rows = [
        ["Réponses correctes / attendues", f"{r['ok']} / {s['requests_expected']}"],
        ["Erreurs", ", ".join(f"{k} × {v}" for k, v in r["errors"].items()) or "aucune"],
        ["Durée totale (s)", r["wall_s"]],
        ["Débit (réponses/s)", r["throughput_rps"]],
        ["Latence client p50 (ms)", r["latency_client"]["p50_ms"]],
        ["Latence client p95 (ms)", r["latency_client"]["p95_ms"]],
        ["Latence client max (ms)", r["latency_client"]["max_ms"]],
        ["Temps serveur p50 / p95 (ms)", f"{r['latency_server_total']['p50_ms']} / {r['latency_server_total']['p95_ms']}"],
        ["Abstentions", r["abstentions"]],
        ["Mémoire du serveur (RSS / pic, Mio)", f"{r['server_memory']['rss_mib']} / {r['server_memory']['peak_rss_mib']}"],
        ["Requêtes comptées par /metrics", r["metrics_requests_counted"]],
    ]
    return (
        "# Test de charge du serveur\n\n"
        f"{s['sessions']} sessions simultanées × {s['questions_per_session']} questions ({s['endpoint']}, mode "
        f"{s['mode']}, historique de conversation renvoyé : {s['history_turns']} échanges au plus), serveur réel "
        f"`autonomie serve` sur 127.0.0.1, index du corpus de démonstration ({s['index_chunks']} passages). Questions : "
        f"`{s['questions_source']}`. Délai par requête {s['request_timeout_s']:.0f} s, échéance globale "
        f"{s['deadline_s']:.0f} s. La latence client inclut l'attente derrière les autres sessions.\n\n"
        f"{machine_markdown(data['machine'], data['models'])}\n\n"
        + md_table(["Mesure", "Valeur"], rows)
        + "\n\nReproduire : `python -m bench.load` (résultats dans `bench/results/load.{json,md}`).\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Test de charge du serveur (chat + API).")
    parser.add_argument("--sessions", type=int, default=20, help="sessions simultanées")
    parser.add_argument("--questions", type=int, default=10, help="questions par session")
    parser.add_argument("--timeout", type=float, default=300.0, help="délai maximal d'une requête (s)")
    parser.add_argument("--deadline", type=float, default=1800.0, help="échéance de tout le test (s)")
    add_output_arguments(parser, corpus_help="corpus indexé (défaut : corpus de démonstration)",
                         index_root_help="dossier des index de banc (défaut : .cache/bench, index « demo » partagé avec "
                                         "bench.answer)")
    args = parser.parse_args()
    run(args.sessions, args.questions, args.timeout, args.deadline, args.corpus, args.out_dir, args.index_root)


if __name__ == "__main__":
    main()
