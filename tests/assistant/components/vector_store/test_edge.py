"""EdgeStore (Qdrant Edge) behaves like QdrantStore: writes, filters, fusion, persistence, locking."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from assistant.components.sparse import SparseVector
from assistant.components.vector_store import (
    PointRecord,
    SearchFilter,
    StoreError,
    StoreLockedError,
    build_store,
    point_id,
)
from assistant.components.vector_store.edge import EdgeStore
from assistant.components.vector_store.qdrant import QdrantStore
from assistant.settings import PROJECT_ROOT, QdrantSettings

DIM = 8


def unit(i: int) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    v[i % DIM] = 1.0 if i < DIM else -1.0
    return v


def qsettings(root: Path, engine: str = "edge", collection: str = "test") -> QdrantSettings:
    return QdrantSettings(path=root / "qdrant", collection=collection, embedded_engine=engine)


def payload(doc_id: str, **fields) -> dict:
    base = {"doc_id": doc_id, "doc_type": "fiche", "territory": "national", "visibility": ["public"],
            "validity": "en_vigueur", "valid_from": None, "valid_until": None, "source_file": f"{doc_id}.md"}
    return {**base, **fields}


def record(doc_id: str, n: int, dense: np.ndarray, terms: list[int], **fields) -> PointRecord:
    return PointRecord(point_id(doc_id, str(n)), dense, SparseVector(terms, [1.0] * len(terms)),
                       payload(doc_id, chunk_index=n, **fields))


@pytest.fixture
def edge(tmp_path):
    store = EdgeStore(qsettings(tmp_path), tmp_path)
    yield store
    store.close()


# --- writes, states, counts --------------------------------------------------------------------------
def test_upsert_is_idempotent_and_delete_updates_states(edge):
    assert not edge.exists() and edge.count() == 0 and list(edge.scroll_payloads()) == []
    edge.ensure_collection(DIM)
    records = [record("a", 0, unit(0), [1]), record("a", 1, unit(1), [2]), record("b", 0, unit(2), [3])]
    edge.upsert(records)
    edge.upsert(records)  # same deterministic ids: rewritten, not duplicated
    assert edge.count() == 3
    states = edge.doc_states()
    assert {d: s.point_ids for d, s in states.items()} == {
        "a": {records[0].id, records[1].id}, "b": {records[2].id}}
    assert states["a"].source_file == "a.md"

    records[2].payload["doc_type"] = "circulaire"
    edge.upsert([records[2]])
    assert dict(edge.scroll_payloads(["doc_type"]))[records[2].id] == {"doc_type": "circulaire"}
    assert edge.counts_by("doc_type", "territory") == {("fiche", "national"): 2, ("circulaire", "national"): 1}

    edge.delete_points([records[0].id])
    edge.delete_points([])
    assert edge.count() == 2
    assert edge.doc_states()["a"].point_ids == {records[1].id}
    assert edge.count(SearchFilter(doc_types=("circulaire",))) == 1
    assert [pid for pid, _ in edge.scroll_payloads(False, SearchFilter(doc_ids=("a",)))] == [records[1].id]


def test_dimension_mismatch_and_missing_collection_are_french_errors(edge):
    with pytest.raises(StoreError, match="n'existe pas encore"):
        edge.query_hybrid(unit(0), None, limit=3, prefetch_k=3)
    edge.ensure_collection(DIM)
    edge.ensure_collection(DIM)
    with pytest.raises(StoreError, match="dimension 8"):
        edge.ensure_collection(DIM * 2)
    edge.drop()
    assert not edge.exists() and not Path(edge.location).exists()
    edge.ensure_collection(DIM * 2)
    assert edge.exists()


# --- filters: the same results as QdrantStore, and as the rule written in Python -----------------------
FILTER_POINTS = [
    ("nat", {}),
    ("dep59", {"territory": "59", "doc_type": "pratique_territoriale"}),
    ("dep13", {"territory": "13", "doc_type": "pratique_territoriale"}),
    ("restricted59", {"territory": "59", "visibility": ["dep-59"]}),
    ("abroge", {"validity": "abroge", "doc_type": "circulaire", "valid_until": "2023-06-30T00:00:00Z"}),
    ("future", {"doc_type": "circulaire", "valid_from": "2030-01-01T00:00:00Z"}),
    ("ended", {"doc_type": "loi_reglement", "valid_until": "2020-12-31T00:00:00Z"}),
    ("window", {"doc_type": "loi_reglement", "valid_from": "2015-01-01T00:00:00Z",
                "valid_until": "2025-12-31T00:00:00Z"}),
]
FILTER_CASES = {
    "public": (SearchFilter(), {"nat", "dep59", "dep13", "future", "ended", "window"}),
    "group": (SearchFilter(groups=("dep-59",)), {"nat", "dep59", "dep13", "restricted59", "future", "ended", "window"}),
    "other_group": (SearchFilter(groups=("dep-13",)), {"nat", "dep59", "dep13", "future", "ended", "window"}),
    "territory": (SearchFilter(territories=("59",)), {"nat", "dep59", "future", "ended", "window"}),
    "territory_only": (SearchFilter(territories=("59",), include_national=False, groups=("dep-59",)),
                       {"dep59", "restricted59"}),
    "doc_types": (SearchFilter(doc_types=("circulaire", "loi_reglement")), {"future", "ended", "window"}),
    "abrogated": (SearchFilter(include_abrogated=True, doc_types=("circulaire",)), {"abroge", "future"}),
    "valid_2024": (SearchFilter(valid_at=dt.date(2024, 1, 1)), {"nat", "dep59", "dep13", "window"}),
    "valid_2019": (SearchFilter(valid_at=dt.date(2019, 6, 1)), {"nat", "dep59", "dep13", "ended", "window"}),
    "valid_at_bounds": (SearchFilter(valid_at=dt.date(2025, 12, 31), doc_types=("loi_reglement",)), {"window"}),
    "excluded_documents": (SearchFilter(exclude_doc_ids=("nat", "dep13")), {"dep59", "future", "ended", "window"}),
    "excluded_within_group": (SearchFilter(groups=("dep-59",), exclude_doc_ids=("restricted59",)),
                              {"nat", "dep59", "dep13", "future", "ended", "window"}),
}


@pytest.fixture(scope="module")
def filter_stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("filters")
    stores = {engine: build_store(qsettings(root, engine), root) for engine in ("edge", "local")}
    assert isinstance(stores["edge"], EdgeStore) and isinstance(stores["local"], QdrantStore)
    records = [record(name, 0, unit(i), [100, 200 + i], **fields) for i, (name, fields) in enumerate(FILTER_POINTS)]
    for store in stores.values():
        store.ensure_collection(DIM)
        store.upsert(records)
    yield stores, {r.id: r.payload["doc_id"] for r in records}
    for store in stores.values():
        store.close()


@pytest.mark.parametrize("case", sorted(FILTER_CASES))
@pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid"])
def test_filters_match_qdrant_local(filter_stores, case, mode):
    stores, names = filter_stores
    search_filter, expected = FILTER_CASES[case]
    dense = np.ones(DIM, dtype=np.float32) if mode != "sparse" else None
    sparse = SparseVector([100], [1.0]) if mode != "dense" else None
    found = {}
    for engine, store in stores.items():
        hits = store.query_hybrid(dense, sparse, limit=20, prefetch_k=20, search_filter=search_filter)
        found[engine] = {names[h.id] for h in hits}
    assert found["edge"] == expected
    assert found["local"] == expected
    assert stores["edge"].count(search_filter) == len(expected)


def test_restricted_point_never_reaches_a_caller_without_its_group(filter_stores):
    stores, names = filter_stores
    edge = stores["edge"]
    i = next(i for i, (name, _) in enumerate(FILTER_POINTS) if name == "restricted59")
    exact_dense, exact_sparse = unit(i), SparseVector([100, 200 + i], [1.0, 1.0])
    for groups in ((), ("dep-13",), ("dep-5",)):
        hits = edge.query_hybrid(exact_dense, exact_sparse, limit=50, prefetch_k=50,
                                 search_filter=SearchFilter(groups=groups, include_abrogated=True))
        assert "restricted59" not in {names[h.id] for h in hits}
    hits = edge.query_hybrid(exact_dense, exact_sparse, limit=1, prefetch_k=5, search_filter=SearchFilter(groups=("dep-59",)))
    assert names[hits[0].id] == "restricted59"


# --- hybrid fusion ---------------------------------------------------------------------------------------
def test_fusion_keeps_a_dense_only_and_a_sparse_only_hit(edge):
    edge.ensure_collection(DIM)
    dense_hit = record("dense", 0, unit(0), [900])  # closest vector, no query term
    sparse_hit = record("sparse", 0, unit(DIM), [7])  # opposite vector, the rare query term
    fillers = [record("filler", n, unit(1 + n % 3) + 0.2 * unit(0), [900, 901]) for n in range(10)]
    edge.upsert([dense_hit, sparse_hit, *fillers])
    query = dict(limit=2, prefetch_k=1)
    dense, sparse = unit(0), SparseVector([7], [1.0])

    assert edge.query_hybrid(dense, None, **query)[0].id == dense_hit.id
    assert [h.id for h in edge.query_hybrid(None, sparse, **query)] == [sparse_hit.id]  # the only match
    fused = edge.query_hybrid(dense, sparse, **query)
    assert {h.id for h in fused} == {dense_hit.id, sparse_hit.id}
    assert [h.score for h in fused] == pytest.approx([1 / 60, 1 / 60])
    assert fused[0].payload["doc_id"] in {"dense", "sparse"}

    sparse_first = edge.query_hybrid(dense, sparse, **query, weights=(1.0, 3.0))
    assert [h.id for h in sparse_first] == [sparse_hit.id, dense_hit.id]
    dense_first = edge.query_hybrid(dense, sparse, **query, weights=(3.0, 1.0), rrf_k=10)
    assert [h.id for h in dense_first] == [dense_hit.id, sparse_hit.id]
    assert edge.query_hybrid(None, SparseVector([], []), **query) == []
    assert edge.query_hybrid(None, None, **query) == []


# --- persistence and locking ----------------------------------------------------------------------------
def test_data_and_indexes_survive_close_and_reopen(tmp_path):
    store = EdgeStore(qsettings(tmp_path), tmp_path)
    store.ensure_collection(DIM)
    records = [record("a", n, unit(n), [n]) for n in range(5)]
    store.upsert(records)
    store.delete_points([records[4].id])
    store.close()
    store.close()  # idempotent

    reopened = EdgeStore(qsettings(tmp_path), tmp_path)
    try:
        assert reopened.exists() and reopened.count() == 4
        hits = reopened.query_hybrid(unit(2), SparseVector([2], [1.0]), limit=1, prefetch_k=4)
        assert hits[0].id == records[2].id and hits[0].payload["chunk_index"] == 2
        with pytest.raises(StoreError, match="dimension"):
            reopened.ensure_collection(DIM + 1)
    finally:
        reopened.close()


def _run(code: str, root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), str(root)], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=120)


def test_writes_survive_a_killed_process(tmp_path):
    result = _run("""
        import os, signal, sys
        from pathlib import Path
        import numpy as np
        from assistant.components.vector_store.edge import EdgeStore
        from assistant.components.sparse import SparseVector
        from assistant.components.vector_store import PointRecord
        from assistant.settings import QdrantSettings
        root = Path(sys.argv[1])
        store = EdgeStore(QdrantSettings(path=root / "qdrant", collection="test"), root)
        store.ensure_collection(8)
        store.upsert([PointRecord(f"00000000-0000-0000-0000-{i:012d}", np.ones(8), SparseVector([i], [1.0]),
                                  {"doc_id": "d"}) for i in range(50)])
        os.kill(os.getpid(), signal.SIGKILL)  # no close(), no flush()
    """, tmp_path)
    assert result.returncode == -9, result.stderr
    store = EdgeStore(qsettings(tmp_path), tmp_path)
    try:
        assert store.count() == 50
    finally:
        store.close()


def test_second_opener_is_refused_until_close(tmp_path):
    first = EdgeStore(qsettings(tmp_path), tmp_path)  # locked even before the collection exists
    with pytest.raises(StoreLockedError, match="déjà ouvert par un autre processus"):
        EdgeStore(qsettings(tmp_path), tmp_path)
    other = EdgeStore(qsettings(tmp_path, collection="autre"), tmp_path)  # another collection: its own lock
    other.close()
    first.ensure_collection(DIM)

    refused = _run("""
        import sys
        from pathlib import Path
        from assistant.components.vector_store.edge import EdgeStore
        from assistant.components.vector_store import StoreLockedError
        from assistant.settings import QdrantSettings
        root = Path(sys.argv[1])
        try:
            EdgeStore(QdrantSettings(path=root / "qdrant", collection="test"), root)
        except StoreLockedError as exc:
            print(exc)
            sys.exit(3)
    """, tmp_path)
    assert refused.returncode == 3 and "autonomie serve" in refused.stdout, refused.stderr
    first.close()
    EdgeStore(qsettings(tmp_path), tmp_path).close()


def test_build_store_picks_the_engine(tmp_path):
    edge = build_store(qsettings(tmp_path, "edge"), tmp_path)
    edge.close()
    local = build_store(qsettings(tmp_path, "local"), tmp_path)
    local.close()
    assert isinstance(edge, EdgeStore) and isinstance(local, QdrantStore)
    assert QdrantSettings().embedded_engine == "edge"
    with pytest.raises(StoreError, match="embarqué"):
        EdgeStore(QdrantSettings(url="http://localhost:6333"), tmp_path)


# --- parity with qdrant-client's local mode on random data ------------------------------------------------
@pytest.mark.slow  # qdrant-client's local mode commits each point to SQLite: ~20 s for 1,000 points
def test_top5_parity_with_qdrant_local_on_random_points(tmp_path):
    rng = np.random.default_rng(7)
    dim, vocab = 32, 300
    records = []
    for n in range(1000):
        terms = sorted(int(t) for t in rng.choice(vocab, size=int(rng.integers(3, 15)), replace=False))
        records.append(PointRecord(point_id("rand", str(n)), rng.standard_normal(dim).astype(np.float32),
                                   SparseVector(terms, rng.uniform(0.2, 2.0, len(terms)).tolist()),
                                   payload(f"doc{n // 10}", chunk_index=n)))
    stores = [build_store(qsettings(tmp_path, engine), tmp_path) for engine in ("edge", "local")]
    try:
        for store in stores:
            store.ensure_collection(dim)
            store.upsert(records)
        for _ in range(20):
            dense = rng.standard_normal(dim).astype(np.float32)
            terms = sorted(int(t) for t in rng.choice(vocab, size=3, replace=False))
            sparse = SparseVector(terms, [1.0] * 3)
            # Unequal weights: no RRF ties (whose order is engine-specific), and QdrantStore passes k and
            # weights explicitly (with (1, 1) and k=60 it sends a bare Fusion.RRF, i.e. Qdrant's default k=2).
            for query, weights in (((dense, None), (1.0, 1.0)), ((None, sparse), (1.0, 1.0)), ((dense, sparse), (1.0, 0.7))):
                edge_hits, local_hits = (s.query_hybrid(*query, limit=5, prefetch_k=20, weights=weights) for s in stores)
                assert [h.id for h in edge_hits] == [h.id for h in local_hits]
                assert [h.score for h in edge_hits] == pytest.approx([h.score for h in local_hits], rel=1e-4)
    finally:
        for store in stores:
            store.close()


# --- national-scale storage (qdrant.edge_quantization) ----------------------------------------------------
def _persisted_dense(store_root: Path) -> dict:
    return json.loads((store_root / "qdrant" / "edge" / "test" / "edge_config.json").read_text())["vectors"]["dense"]


def test_edge_quantization_is_fixed_at_creation_and_defaults_to_floats_in_ram(tmp_path):
    assert QdrantSettings().edge_quantization == "none"
    for name, quantization in (("plain", "none"), ("int8", "int8")):
        root = tmp_path / name
        store = EdgeStore(QdrantSettings(path=root / "qdrant", collection="test", edge_quantization=quantization), root)
        store.ensure_collection(DIM)
        store.upsert([record("a", 0, unit(0), [1])])
        store.close()
        dense = _persisted_dense(root)
        if quantization == "none":
            assert "quantization_config" not in dense and dense.get("memory") in (None, "cached")
        else:
            assert dense["memory"] == "cold"
            assert dense["quantization_config"] == {"scalar": {"type": "int8", "quantile": 0.99, "memory": "pinned"}}
    with pytest.raises(ValueError):
        QdrantSettings(edge_quantization="int4")


@pytest.mark.slow  # builds an HNSW graph over 7,000 vectors of 384 dimensions (above the indexing threshold)
def test_int8_index_keeps_originals_on_disk_and_finds_the_nearest_points(tmp_path):
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((7000, 384)).astype(np.float32)
    store = EdgeStore(QdrantSettings(path=tmp_path / "qdrant", collection="test", edge_quantization="int8"), tmp_path)
    store.ensure_collection(384)
    records = [PointRecord(point_id("v", str(i)), vectors[i], SparseVector([i % 97], [1.0]), payload(f"d{i // 40}"))
               for i in range(len(vectors))]
    store.upsert(records)
    store.optimize()
    try:
        for i in (0, 1234, 6999):
            query = vectors[i] + 0.05 * rng.standard_normal(384).astype(np.float32)
            assert store.query_hybrid(query, None, limit=1, prefetch_k=10)[0].id == records[i].id
    finally:
        store.close()
    segments = [json.loads(f.read_text())["config"]["vector_data"]["dense"]
                for f in (tmp_path / "qdrant" / "edge" / "test" / "segments").glob("*/segment.json")]
    indexed = [s for s in segments if s["index"]["type"] == "hnsw"]
    assert indexed and all(s["storage_type"] == "Mmap" and s["quantization_config"]["scalar"]["type"] == "int8"
                           for s in indexed)
