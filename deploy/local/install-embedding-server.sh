#!/usr/bin/env bash
# Install infinity-emb, an OpenAI-compatible embedding server (/v1/embeddings), in its own virtual
# environment: it pins numpy<2, sentence-transformers<4 and transformers<=5.0, which the project's
# environment cannot take. torch is the same CPU build (2.13.0). Idempotent: does nothing when there.
# Used by the tests of the 'service' embedding backend (tests/assistant/components/test_embedding_service.py).
set -euo pipefail

INFINITY_VERSION="0.0.78"
TORCH_VERSION="2.13.0"
PYTHON="${PYTHON:-python3}"
VENV="${1:-.cache/embedding-server-venv}"  # usage: install-embedding-server.sh [VENV_DIR]

if "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('infinity_emb') != '$INFINITY_VERSION')" 2>/dev/null \
   && [ -x "$VENV/bin/infinity_emb" ]; then
    echo "Serveur d'embeddings déjà installé (infinity-emb ${INFINITY_VERSION}, ${VENV})."
    exit 0
fi

echo "Installation du serveur d'embeddings infinity-emb ${INFINITY_VERSION} dans ${VENV}…"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q "torch==${TORCH_VERSION}"
"$VENV/bin/pip" install -q "infinity-emb[server,torch]==${INFINITY_VERSION}"
"$VENV/bin/python" -c "import infinity_emb; print('infinity-emb', infinity_emb.__version__, 'installé.')"
