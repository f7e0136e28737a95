"""Asks N questions through ``autonomie ask --json --mode generatif``, one after the other, and prints the
throughput and the latency percentiles (French output). Used by ``deploy/gpu-check.sh``.

    python deploy/gpu_check_bench.py --questions eval/datasets/demo-questions.jsonl --limit 20 \
        --commande .venv/bin/autonomie --metrics-url http://127.0.0.1:8100/metrics
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shlex
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

GENERATED_TOKENS = re.compile(r"^vllm:generation_tokens_total(?:\{[^}]*\})?\s+([0-9.eE+-]+)\s*$", re.MULTILINE)


@dataclass
class Outcome:
    question: str
    latency_s: float
    ok: bool
    error: str = ""


def load_questions(path: Path, limit: int) -> list[str]:
    """The ``question`` field of the first ``limit`` records of a JSONL file."""
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        record = json.loads(line)
        if not isinstance(record, dict) or not str(record.get("question", "")).strip():
            raise ValueError(f"{path}:{number} : champ « question » absent ou vide.")
        questions.append(record["question"].strip())
        if len(questions) == limit:
            break
    return questions


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), ``q`` in [0, 100]."""
    if not values:
        raise ValueError("aucune valeur")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ask(command: list[str], question: str, timeout_s: float) -> Outcome:
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            [*command, "ask", "--json", "--mode", "generatif", question],
            capture_output=True, text=True, timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return Outcome(question, time.perf_counter() - started, False, f"délai de {timeout_s:.0f} s dépassé")
    latency = time.perf_counter() - started
    if proc.returncode != 0:
        return Outcome(question, latency, False, f"code {proc.returncode} : {proc.stderr.strip()[-300:]}")
    try:
        json.loads(proc.stdout)
    except json.JSONDecodeError:
        return Outcome(question, latency, False, "sortie non JSON : " + proc.stdout.strip()[:200])
    return Outcome(question, latency, True)


def generated_tokens(metrics_url: str | None) -> float | None:
    """vLLM's cumulative count of generated tokens (Prometheus text format), None when unavailable."""
    if not metrics_url:
        return None
    try:
        text = urllib.request.urlopen(metrics_url, timeout=5).read().decode("utf-8")
    except OSError:
        return None
    values = [float(v) for v in GENERATED_TOKENS.findall(text)]
    return sum(values) if values else None


def summarize(outcomes: list[Outcome], wall_s: float, tokens: float | None) -> dict:
    latencies = [o.latency_s for o in outcomes if o.ok]
    summary = {
        "questions": len(outcomes),
        "reussies": len(latencies),
        "echecs": len(outcomes) - len(latencies),
        "duree_s": round(wall_s, 2),
        "questions_par_s": round(len(latencies) / wall_s, 4) if wall_s > 0 else 0.0,
        "latence_p50_s": round(percentile(latencies, 50), 3) if latencies else None,
        "latence_p95_s": round(percentile(latencies, 95), 3) if latencies else None,
        "latence_max_s": round(max(latencies), 3) if latencies else None,
        "jetons_generes": tokens,
        "jetons_par_s": round(tokens / wall_s, 1) if tokens is not None and wall_s > 0 else None,
    }
    return summary


def report(summary: dict, outcomes: list[Outcome]) -> str:
    lines = [
        f"Questions : {summary['questions']} ({summary['reussies']} réussie(s), {summary['echecs']} en échec)",
        f"Durée totale : {summary['duree_s']:.1f} s — débit : {summary['questions_par_s']:.3f} question(s)/s",
    ]
    if summary["reussies"]:
        lines.append(
            f"Latence par question : p50 {summary['latence_p50_s']:.2f} s, p95 {summary['latence_p95_s']:.2f} s, "
            f"max {summary['latence_max_s']:.2f} s"
        )
    if summary["jetons_generes"] is not None:
        lines.append(f"Jetons générés par vLLM : {summary['jetons_generes']:.0f} — {summary['jetons_par_s']:.1f} jetons/s")
    lines += [f"  ÉCHEC « {o.question[:60]} » : {o.error}" for o in outcomes if not o.ok]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Débit et latence de « autonomie ask --mode generatif ».")
    parser.add_argument("--questions", type=Path, required=True, help="Fichier JSONL (champ « question »).")
    parser.add_argument("--limit", type=int, default=20, help="Nombre de questions (défaut : 20).")
    parser.add_argument("--commande", default="autonomie", help="Commande autonomie à lancer (défaut : autonomie).")
    parser.add_argument("--metrics-url", help="URL /metrics de vLLM, pour compter les jetons générés.")
    parser.add_argument("--timeout", type=float, default=180.0, help="Délai maximal par question (s).")
    parser.add_argument("--budget", type=float, default=None, help="Durée maximale de l'ensemble (s).")
    parser.add_argument("--sortie", type=Path, help="Écrire aussi le résumé JSON dans ce fichier.")
    args = parser.parse_args(argv)

    questions = load_questions(args.questions, args.limit)
    if not questions:
        print(f"Aucune question dans {args.questions}.", file=sys.stderr)
        return 2
    command = shlex.split(args.commande)
    tokens_before = generated_tokens(args.metrics_url)
    started = time.perf_counter()
    outcomes: list[Outcome] = []
    for number, question in enumerate(questions, start=1):
        elapsed = time.perf_counter() - started
        if args.budget is not None and elapsed >= args.budget:
            outcomes += [Outcome(q, 0.0, False, "budget de temps épuisé") for q in questions[number - 1:]]
            break
        timeout = args.timeout if args.budget is None else min(args.timeout, args.budget - elapsed)
        outcome = ask(command, question, timeout)
        outcomes.append(outcome)
        state = "ok" if outcome.ok else "ÉCHEC"
        print(f"[{number}/{len(questions)}] {outcome.latency_s:6.2f} s {state}  {question[:70]}", flush=True)
    wall = time.perf_counter() - started
    tokens_after = generated_tokens(args.metrics_url)
    tokens = tokens_after - tokens_before if tokens_before is not None and tokens_after is not None else None
    summary = summarize(outcomes, wall, tokens)
    print(report(summary, outcomes))
    if args.sortie:
        args.sortie.write_text(json.dumps({"resume": summary, "questions": [asdict(o) for o in outcomes]},
                                          ensure_ascii=False, indent=2), encoding="utf-8")
    return 0 if summary["echecs"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
