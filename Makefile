# Assistant Autonomie — make help lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.DEFAULT_GOAL := help
.PHONY: help install demo test test-fast corpus ingest serve llm llm-stop bench bench-ingest bench-retrieval bench-answer bench-reranker bench-reranker-training bench-documents bench-security bench-harmonisation bench-scale eval eval-check train-judge clean

help: ## Affiche cette aide
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Installe l'environnement .venv (torch CPU d'abord, puis le projet)

demo: install ## Tâche principale : indexe le corpus de démonstration puis lance le serveur (chat sur http://$(HOST):$(PORT))
	$(BIN)/autonomie ingest corpus/
	$(BIN)/autonomie status
	$(BIN)/autonomie serve --host $(HOST) --port $(PORT)

test: install ## Lance toute la suite de tests (modèles réels, Qdrant embarqué, serveurs LLM et d'embeddings locaux)
	bash deploy/local/install-llm-server.sh $(BIN)/python
	bash deploy/local/install-test-tools.sh
	PYTHON=$(PYTHON) bash deploy/local/install-embedding-server.sh
	AUTONOMIE_REQUIRE_LLM=1 AUTONOMIE_REQUIRE_BROWSER=1 AUTONOMIE_REQUIRE_SHELLCHECK=1 AUTONOMIE_REQUIRE_EMBEDDING_SERVER=1 $(BIN)/python -m pytest

test-fast: install ## Tests sans les tests lents
	$(BIN)/python -m pytest -m "not slow"

corpus: install ## Régénère les fichiers DOCX/PDF du corpus de démonstration à partir de corpus/sources
	$(BIN)/python corpus/build.py

ingest: install ## Indexe le corpus de démonstration (idempotent)
	$(BIN)/autonomie ingest corpus/

serve: install ## Lance le serveur (chat Gradio + API) sur l'index existant
	$(BIN)/autonomie serve --host $(HOST) --port $(PORT)

llm: install ## Installe et démarre le serveur LLM local (vLLM si GPU, sinon llama.cpp) en arrière-plan
	bash deploy/local/install-llm-server.sh $(BIN)/python
	$(BIN)/autonomie llm serve --detach

llm-stop: ## Arrête le serveur LLM local
	$(BIN)/autonomie llm stop

bench: bench-ingest bench-retrieval bench-answer bench-documents bench-security ## Tous les bancs d'essai (résultats dans bench/results/)

bench-ingest: install ## Banc d'ingestion (fp32, int8 ONNX Runtime, llama-index) → bench/results/ingest.{json,md}
	$(BIN)/python -m bench.ingest

bench-retrieval: install ## Banc de recherche → bench/results/retrieval.{json,md}, puis int8 contre fp32 → retrieval-int8.{json,md}
	$(BIN)/python -m bench.retrieval
	$(BIN)/python -m bench.int8_retrieval

bench-answer: install ## Banc des réponses → bench/results/answer.{json,md}
	$(BIN)/python -m bench.answer

bench-reranker: install ## Coût d'un reranker cross-encoder dans la réponse, contre la même réponse sans → bench/results/reranker.{json,md}
	$(BIN)/python -m bench.reranker

bench-reranker-training: install ## Cross-encoder affiné depuis e5-small (hors corpus et groupé par question, ~25 min) contre l'ordre de la recherche sur le CASF → bench/results/reranker-training.{json,md}
	$(BIN)/python -m bench.reranker_training

bench-documents: install ## Banc des documents réels (LibreOffice, 2 colonnes, scans OCR, pages web) → bench/results/documents.{json,md}
	bash deploy/local/install-test-tools.sh
	$(BIN)/python -m bench.documents

bench-security: install ## Banc des instructions cachées (détection, faux positifs) → bench/results/security.{json,md}
	$(BIN)/python -m bench.security

bench-scale: install ## Index national : 101 territoires, 200 000 et 1 000 000 passages (écriture, optimisation, disque, RAM, p50/p95 filtrés) → bench/results/scale.{json,md}
	$(BIN)/python -m bench.scale

bench-harmonisation: install ## Banc de la matrice d'harmonisation (statuts, temps 12 × 101) → bench/results/harmonisation.{json,md}
	$(BIN)/python -m bench.harmonisation

EVAL_ARGS = $(if $(DATASET),--dataset $(DATASET)) $(if $(CORPUS),--corpus $(CORPUS)) $(if $(SEED),--seed $(SEED))
GEN_LIMIT ?= 30
DATA ?= ../shared/data
SP_QUESTIONS := $(DATA)/service-public/questions-dev.jsonl
SP_CORPUS := $(DATA)/service-public/fiches.jsonl
CASF_CORPUS := $(DATA)/casf/articles.jsonl
EVAL_RUN := $(BIN)/python -m eval.run --mode extractif $(if $(LIMIT),--limit $(LIMIT))

eval: install ## Évaluation → eval/reports/ : démo, puis service-public et CASF (tels quels, sans leurs documents attendus, et les questions service-public hors du domaine de la démo et du CASF) si les données réelles sont là (DATA=../shared/data) ; génératif sur GEN_LIMIT questions si un LLM répond (MODE=… LIMIT=… DATASET=… CORPUS=… pour un seul run)
ifdef MODE
	$(BIN)/python -m eval.run $(EVAL_ARGS) --mode $(MODE) $(if $(LIMIT),--limit $(LIMIT))
else
	$(EVAL_RUN) $(EVAL_ARGS)
	@if [ -f "$(SP_CORPUS)" ] && [ -f "$(SP_QUESTIONS)" ]; then \
		echo "Données réelles service-public : questions telles quelles, puis sans leur fiche attendue."; \
		$(EVAL_RUN) --dataset "$(SP_QUESTIONS)" --corpus "$(SP_CORPUS)" && \
		$(EVAL_RUN) --dataset "$(SP_QUESTIONS)" --corpus "$(SP_CORPUS)" --sans-source && \
		echo "Questions service-public hors du domaine du corpus de démonstration (passeport, copropriété…)." && \
		$(EVAL_RUN) --dataset "$(SP_QUESTIONS)" --hors-domaine "$(SP_CORPUS)"; \
	else echo "Données service-public absentes ($(DATA)) : non évaluées."; fi
	@if [ -f "$(CASF_CORPUS)" ]; then \
		echo "Données réelles CASF : questions telles quelles, puis sans leurs articles attendus."; \
		$(EVAL_RUN) --dataset eval/datasets/casf-questions.jsonl --corpus "$(CASF_CORPUS)" && \
		$(EVAL_RUN) --dataset eval/datasets/casf-questions.jsonl --corpus "$(CASF_CORPUS)" --sans-source && \
		if [ -f "$(SP_CORPUS)" ] && [ -f "$(SP_QUESTIONS)" ]; then \
			echo "Questions service-public hors du domaine du CASF." && \
			$(EVAL_RUN) --dataset "$(SP_QUESTIONS)" --corpus "$(CASF_CORPUS)" --hors-domaine "$(SP_CORPUS)"; fi; \
	else echo "Données CASF absentes ($(DATA)) : non évaluées."; fi
	@if $(BIN)/autonomie llm status >/dev/null 2>&1; then \
		echo "Serveur LLM disponible : évaluation en mode génératif ($(GEN_LIMIT) questions)."; \
		$(BIN)/python -m eval.run $(EVAL_ARGS) --mode generatif --limit $(GEN_LIMIT); \
	else echo "Aucun serveur LLM ne répond (make llm pour en démarrer un) : mode génératif non évalué."; fi
endif

train-judge: install ## Ajuste les modèles de pertinence et d'abstention (assistant/answering/judge.json) → bench/results/judge.{json,md}
	$(BIN)/python -m eval.train_judge

eval-check: install ## Échoue si le dernier run d'un jeu évalué passe sous ses seuils (eval/thresholds.yaml)
	$(BIN)/python -m eval.check

clean: ## Supprime les index et caches locaux (pas le .venv)
	rm -rf .cache/qdrant .cache/test-qdrant
