"""The harmonisation bench's pieces: scoring, leave-one-territory-out option choice, the synthetic
national index (real small index, real embedded Qdrant)."""

from __future__ import annotations

from assistant.harmonisation.matrix import MatrixCell
from bench.harmonisation import choose, held_out_truth, leave_one_territory_out, score
from tests.assistant.harmonisation.matrices import citation


def _cell(q: str, t: str, status: str, territory: str | None = None) -> MatrixCell:
    cites = [] if status == "non_trouve" else [citation(f"doc-{t}", territory or t, "Article 1")]
    return MatrixCell(question_id=q, territory=t, status=status, citations=cites)


TRUTH = {(q, t): {"status": s, "doc_id": f"doc-{t}", "section": "Article 1"}
         for (q, t), s in {("Q1", "13"): "contraire", ("Q2", "13"): "conforme", ("Q1", "59"): "divergent",
                           ("Q2", "59"): "conforme"}.items()}


def test_score_counts_accuracy_recall_gaps_and_own_territory_citations():
    cells = {("Q1", "13"): _cell("Q1", "13", "contraire"), ("Q2", "13"): _cell("Q2", "13", "divergent"),
             ("Q1", "59"): _cell("Q1", "59", "conforme", territory="13"), ("Q2", "59"): _cell("Q2", "59", "conforme")}
    result = score(cells, TRUTH)
    assert result["accuracy"] == 0.5
    assert result["per_status"]["contraire"] == {"expected": 1, "predicted": 1, "recall": 1.0, "precision": 1.0}
    assert result["gaps_flagged"] == "1/2"
    assert result["cites_own_territory"] == 0.75  # the 59 cell citing a passage of the 13
    assert result["confusion"]["divergent→conforme"] == 1


def test_options_are_chosen_without_the_territory_under_test():
    good_for_13 = {k: _cell(k[0], k[1], v["status"] if k[1] == "13" else "contraire") for k, v in TRUTH.items()}
    good_for_59 = {k: _cell(k[0], k[1], v["status"] if k[1] == "59" else "non_trouve") for k, v in TRUTH.items()}
    results = {"a": good_for_13, "b": good_for_59}
    assert choose(results, TRUTH, {"13"}, default="b") == "a"
    assert choose(results, TRUTH, {"13", "59"}, default="b") == "b"  # tie: the shipped options
    loto = leave_one_territory_out(results, TRUTH, ["13", "59"], default="a")
    # Each territory is scored with the options that fit the other one: both folds get it wrong.
    assert [f["options"] for f in loto["folds"]] == ["b", "a"]
    assert loto["overall"]["accuracy"] == 0.0


def test_held_out_departements_have_twelve_expected_cells_each():
    truth = held_out_truth()
    territories = {t for _, t in truth}
    assert {"44", "63", "2A", "971"} <= territories
    for code in territories:
        assert len([k for k in truth if k[1] == code]) == 12


def test_synthetic_national_index_copies_practice_under_every_code(tmp_path, embedder):
    from bench.common import bench_settings, open_store
    from bench.harmonisation import build_national_index
    from tests.assistant.harmonisation.test_matrix import _build

    (tmp_path / "source").mkdir()
    services, _ = _build(tmp_path / "source", embedder)
    source = services.settings
    services.close()  # the bench reads the source index with its own store
    codes = ["01", "02", "2A", "974"]
    assert build_national_index(source, tmp_path / "national", codes, ["13", "59"])["built"]
    assert not build_national_index(source, tmp_path / "national", codes, ["13", "59"])["built"]  # reused
    store = open_store(bench_settings(tmp_path / "national", base=source))
    try:
        payloads = [p for _, p in store.scroll_payloads(["territory", "doc_id", "visibility", "doc_type"])]
    finally:
        store.close()
    practice = [p for p in payloads if p["doc_type"] == "pratique_territoriale"]
    assert {p["territory"] for p in practice} == set(codes)
    assert {p["doc_id"] for p in practice if p["territory"] == "02"} == {"dep59-guide-copie-02"}
    assert {tuple(p["visibility"]) for p in practice if p["territory"] == "02"} == {("dep-02",)}
    assert any(p["territory"] == "national" for p in payloads)
