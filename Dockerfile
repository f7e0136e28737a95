# syntax=docker/dockerfile:1
# Assistant Autonomie: API, Gradio chat and CLI (CPU only; the LLM is served by vLLM or llama.cpp elsewhere).
#   docker build -t assistant-autonomie .
#   docker run --rm -p 8000:8000 assistant-autonomie            # autonomie serve
#   docker run --rm assistant-autonomie ingest /app/corpus       # any other « autonomie » command
FROM python:3.11-slim

# The installed package lives in site-packages, so every relative path of the settings is made absolute
# under /app; HF_HUB_OFFLINE: models are baked in or mounted, never downloaded at run time; no telemetry.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    GRADIO_ANALYTICS_ENABLED=False \
    DO_NOT_TRACK=1 \
    HF_HOME=/app/.cache/huggingface \
    AUTONOMIE_CONFIG_DIR=/app \
    AUTONOMIE_EMBEDDING__MODELS_DIR=/app/.cache/models \
    AUTONOMIE_QDRANT__PATH=/app/.cache/qdrant \
    AUTONOMIE_LLM__ENDPOINT_FILE=/app/.cache/llm-endpoint.yaml \
    AUTONOMIE_DATA__CORPUS_DIR=/app/corpus

ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin autonomie

# Tesseract and its French model: OCR of scanned PDF pages at ingestion (indexing/ocr.py).
RUN apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-fra \
 && rm -rf /var/lib/apt/lists/*

# Same order as `make install`: torch first (its CPU build: no CUDA libraries in this image), then the
# project itself, which finds torch==2.13.0 already satisfied.
RUN pip install --upgrade pip \
 && pip install --index-url "${TORCH_INDEX_URL}" torch==2.13.0
RUN --mount=type=bind,target=/src,rw cd /src && pip install .

WORKDIR /app
COPY --chown=autonomie:autonomie settings.yaml settings-prod.yaml ./
COPY --chown=autonomie:autonomie corpus ./corpus
RUN mkdir -p /app/.cache/snapshots && chown -R autonomie:autonomie /app

USER autonomie
# Converts the default embedding model now, so a container starts without writing or downloading it.
RUN python -c "from assistant.services import Services; from assistant.settings import get_settings; \
print('modèle d embedding prêt, dimension', Services(get_settings()).embedder.dimension)"

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
ENTRYPOINT ["autonomie"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
