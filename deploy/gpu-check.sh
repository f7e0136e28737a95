#!/usr/bin/env bash
# Vérification de bout en bout sur une machine équipée d'un GPU NVIDIA, en moins de 10 minutes :
# installe l'assistant et vLLM (deux environnements : vLLM impose sa propre version de torch), démarre vLLM
# avec un petit modèle, indexe corpus/, pose 20 questions de eval/datasets/demo-questions.jsonl par
# « autonomie ask --json --mode generatif » et affiche le débit et les latences p50/p95.
#
#   bash deploy/gpu-check.sh [MODELE]
#
# MODELE : identifiant Hugging Face ou dossier local (défaut : $GPU_CHECK_MODEL ou Qwen/Qwen2.5-0.5B-Instruct).
# Variables facultatives :
#   VLLM_PYTHON          python d'un environnement où vLLM est déjà installé (sinon : pip install vllm)
#   VLLM_VERSION         version de vLLM à installer (défaut : celle de deploy/compose, 0.18.0)
#   TORCH_INDEX_URL      index de torch pour l'assistant (défaut : build CPU ; vide = index pip habituel)
#   GPU_CHECK_QUESTIONS  nombre de questions (20)      GPU_CHECK_BUDGET_S  durée maximale (600)
#   GPU_CHECK_PORT       port de vLLM (8100)           GPU_CHECK_TOOL_PARSER  analyseur d'outils (hermes)
#   GPU_CHECK_GPU_MEMORY part de la mémoire GPU (0.5)  GPU_CHECK_DIR  dossier de travail (.cache/gpu-check)
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL="${1:-${GPU_CHECK_MODEL:-Qwen/Qwen2.5-0.5B-Instruct}}"
VLLM_VERSION="${VLLM_VERSION:-0.18.0}"
TORCH_INDEX_URL="${TORCH_INDEX_URL-https://download.pytorch.org/whl/cpu}"
QUESTIONS="${GPU_CHECK_QUESTIONS:-20}"
BUDGET="${GPU_CHECK_BUDGET_S:-600}"
PORT="${GPU_CHECK_PORT:-8100}"
WORK="${GPU_CHECK_DIR:-.cache/gpu-check}"
DATASET="eval/datasets/demo-questions.jsonl"
PYTHON="${PYTHON:-python3}"
START=$SECONDS

step() { echo; echo "== [$((SECONDS - START)) s] $*"; }
left() { echo $((BUDGET - (SECONDS - START))); }
fail() { echo "ÉCHEC : $*" >&2; exit 1; }
check_budget() { (( $(left) > 0 )) || fail "budget de ${BUDGET} s dépassé ($1)."; }

step "GPU"
command -v nvidia-smi >/dev/null || { echo "nvidia-smi introuvable : cette vérification demande un GPU NVIDIA." >&2; exit 2; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
[ -f "$DATASET" ] || fail "jeu de questions absent : $DATASET"
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"

step "Environnement de l'assistant ($WORK/venv-app)"
APP="$WORK/venv-app"
if [ ! -x "$APP/bin/autonomie" ]; then
    "$PYTHON" -m venv "$APP"
    "$APP/bin/pip" install -q --upgrade pip
    "$APP/bin/pip" install -q ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} torch==2.13.0
    "$APP/bin/pip" install -q -e .
fi
check_budget "installation de l'assistant"

step "vLLM $VLLM_VERSION"
if [ -n "${VLLM_PYTHON:-}" ]; then
    VPY="$VLLM_PYTHON"
else
    VPY="$WORK/venv-vllm/bin/python"
    if ! "$VPY" -c "import vllm" 2>/dev/null; then
        "$PYTHON" -m venv "$WORK/venv-vllm"
        "$WORK/venv-vllm/bin/pip" install -q --upgrade pip
        "$WORK/venv-vllm/bin/pip" install -q "vllm==$VLLM_VERSION"
    fi
fi
"$VPY" -c "import vllm; print('vLLM', vllm.__version__)"
check_budget "installation de vLLM"

step "Démarrage de vLLM avec $MODEL (journal : $WORK/vllm.log)"
KEY="$("$PYTHON" -c 'import secrets; print(secrets.token_hex(16))')"
"$VPY" -m vllm.entrypoints.openai.api_server \
    --model "$MODEL" --served-model-name gpu-check \
    --host 127.0.0.1 --port "$PORT" --api-key "$KEY" \
    --max-model-len 8192 --gpu-memory-utilization "${GPU_CHECK_GPU_MEMORY:-0.5}" \
    --enable-auto-tool-choice --tool-call-parser "${GPU_CHECK_TOOL_PARSER:-hermes}" \
    --structured-outputs-config.backend xgrammar \
    >"$WORK/vllm.log" 2>&1 &
VLLM_PID=$!
trap 'kill "$VLLM_PID" 2>/dev/null || true; wait "$VLLM_PID" 2>/dev/null || true' EXIT
until "$PYTHON" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/health', timeout=2)" 2>/dev/null; do
    if ! kill -0 "$VLLM_PID" 2>/dev/null; then
        tail -n 40 "$WORK/vllm.log" >&2
        fail "vLLM s'est arrêté au démarrage."
    fi
    check_budget "démarrage de vLLM"
    sleep 2
done
echo "vLLM prêt."

export AUTONOMIE_LLM__BASE_URL="http://127.0.0.1:$PORT/v1" AUTONOMIE_LLM__MODEL=gpu-check AUTONOMIE_LLM__API_KEY="$KEY"
export AUTONOMIE_LLM__SUPPORTS_TOOLS=true AUTONOMIE_LLM__SUPPORTS_JSON_SCHEMA=true
export AUTONOMIE_QDRANT__PATH="$WORK/qdrant" AUTONOMIE_QDRANT__COLLECTION=gpu-check
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

step "Indexation de corpus/"
rm -rf "$WORK/qdrant"
"$APP/bin/autonomie" ingest corpus/ >"$WORK/ingest.log" 2>&1 || { tail -n 40 "$WORK/ingest.log" >&2; fail "indexation."; }
tail -n 1 "$WORK/ingest.log"
check_budget "indexation"

step "$QUESTIONS questions en mode génératif"
status=0
"$APP/bin/python" deploy/gpu_check_bench.py --questions "$DATASET" --limit "$QUESTIONS" \
    --commande "$APP/bin/autonomie" --metrics-url "http://127.0.0.1:$PORT/metrics" \
    --budget "$(left)" --sortie "$WORK/resultats.json" || status=$?

step "Terminé en $((SECONDS - START)) s (budget : $BUDGET s) ; résumé JSON : $WORK/resultats.json"
check_budget "questions"
exit "$status"
