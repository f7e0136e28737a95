"""Metrics on tiny cases checked by hand."""

import math

import pytest

from eval import metrics as m
from eval.metrics import ChunkRef

# Retrieved chunks: d1, d2, d1, d3, d4 → document ranks d1:1, d2:2, d3:4, d4:5.
RANKS = m.doc_ranks(["d1", "d2", "d1", "d3", "d4"])


def test_doc_rank_is_the_best_chunk():
    assert RANKS == {"d1": 1, "d2": 2, "d3": 4, "d4": 5}


def test_recall_at_k():
    assert m.recall_at_k(RANKS, ["d3", "d9"], 1) == 0.0
    assert m.recall_at_k(RANKS, ["d3", "d9"], 5) == 0.5
    assert m.recall_at_k(RANKS, ["d1", "d2"], 2) == 1.0
    assert m.recall_at_k(RANKS, [], 5) is None


def test_hit_and_mrr():
    assert m.hit_at_k(RANKS, ["d9", "d3"], 5) == 1.0
    assert m.hit_at_k(RANKS, ["d9", "d3"], 3) == 0.0
    assert m.mrr_at_k(RANKS, ["d9", "d3"], 10) == 0.25
    assert m.mrr_at_k(RANKS, ["d3"], 3) == 0.0
    assert m.mrr_at_k(RANKS, [], 10) is None


def test_ndcg():
    # gold d2 (rank 2) and d9 (absent): DCG = 1/log2(3); ideal = 1 + 1/log2(3).
    expected = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert m.ndcg_at_k(RANKS, ["d2", "d9"], 10) == pytest.approx(expected)
    assert m.ndcg_at_k(RANKS, ["d1"], 10) == 1.0
    assert m.ndcg_at_k(RANKS, ["d4"], 4) == 0.0


@pytest.mark.parametrize("gold, chunk, expected", [
    ("Article L. 232-14", ChunkRef("x", "Titre I › Article L. 232-14 — Instruction", "L. 232-14"), True),
    ("Article L. 232-1", ChunkRef("x", "Titre I › Article L. 232-14 — Instruction", "L. 232-14"), False),
    ("Article L. 232-3", ChunkRef("x", "Chapitre 1 › Article L. 232-3-1 — Droit au répit", "L. 232-3-1"), False),
    ("Article 2.1", ChunkRef("x", "Titre 2 › Article 2.1.4 — Délai", "2.1.4"), False),
    ("art. L232-14", ChunkRef("x", "", "L. 232-14"), True),
    ("2.2 Délai de la visite à domicile", ChunkRef("x", "2. La visite à domicile › 2.2 Délai de la visite à domicile"), True),
    ("Question 4", ChunkRef("x", "2. Évaluation › Question 4 — La visite à domicile est-elle systématique ?"), True),
    ("Question 4", ChunkRef("x", "Partie 6 › Question 40 — Autre"), False),
    ("3.1 Le GEVA-Sco « première demande »",
     ChunkRef("x", "GEVA-Sco › 3.1 Le GEVA-Sco \u00ab\u00a0première demande\u00a0\u00bb"), True),
])
def test_section_matches(gold, chunk, expected):
    assert m.section_matches(gold, chunk) is expected


def test_section_hit_counts_sections_of_the_right_document_within_k():
    chunks = [ChunkRef("a", "Article 3 — X", "3"), ChunkRef("b", "Article 5 — Y", "5"), ChunkRef("a", "Article 7 — Z", "7")]
    assert m.section_hit(chunks, [("a", "Article 7"), ("b", "Article 5")], 3) == 1.0
    assert m.section_hit(chunks, [("a", "Article 7"), ("b", "Article 5")], 2) == 0.5
    assert m.section_hit(chunks, [("b", "Article 3")], 3) == 0.0  # right section name, wrong document
    assert m.section_hit(chunks, [("a", None)], 3) is None


def test_citations():
    assert m.citation_precision(["a", "b", "a", "c"], ["a"]) == 0.5
    assert m.citation_recall(["a", "a"], ["a", "b"]) == 0.5
    assert m.citation_precision([], ["a"]) is None
    assert m.citation_recall([], ["a"]) == 0.0  # nothing cited: no gold document cited


def test_support_rate():
    assert m.support_rate(4, 3) == 0.75
    assert m.support_rate(0, 0) is None


def test_abstention_scores():
    # (answerable, abstained): two unanswerable (one abstained), two answerable (one wrongly abstained).
    scores = m.abstention_scores([(False, True), (False, False), (True, True), (True, False)])
    assert scores == {"abstention_precision": 0.5, "abstention_recall": 0.5, "abstention_f1": 0.5}
    none = {"abstention_precision": None, "abstention_recall": None, "abstention_f1": None}
    assert m.abstention_scores([(True, False)]) == none
    # Only answerable questions: abstaining cannot be "precise", the metric does not apply.
    assert m.abstention_scores([(True, True), (True, False)]) == none
    # Precision 1, recall 1/3: F1 is their harmonic mean; never abstaining on a set with unanswerable ones: 0.
    assert m.abstention_scores([(False, True), (False, False), (False, False)])["abstention_f1"] == pytest.approx(0.5)
    assert m.abstention_scores([(False, False), (True, False)])["abstention_recall"] == 0.0


def test_status_accuracy():
    assert m.status_accuracy({"59": "contraire", "33": "conforme"}, {"59": "contraire", "33": "divergent"}) == 0.5
    assert m.status_accuracy({}, {"59": "conforme"}) is None


def test_rouge_l_french_tokenisation():
    # LCS of "délai de deux mois" in "le délai est de deux mois" = 4 tokens; P = 4/6, R = 4/4 → F = 0.8.
    assert m.rouge_l("délai de deux mois", "le délai est de deux mois") == pytest.approx(0.8)
    assert m.rouge_l("délai", "delai") == 1.0  # accents folded, not dropped
    assert m.rouge_l("", "x") is None


def test_chrf_identical_and_unrelated():
    assert m.chrf("Le délai est de deux mois.", "Le délai est de deux mois.") == pytest.approx(1.0)
    assert m.chrf("Le délai est de deux mois.", "zzz qqq") < 0.1


def test_ragas_non_llm_context_metrics():
    gold = "Le président du conseil départemental notifie sa décision dans un délai de deux mois."
    other = "La carte mobilité inclusion est délivrée par le président du conseil départemental."
    assert m.nonllm_context_recall([other, gold], [gold]) == 1.0
    assert m.nonllm_context_recall([other], [gold]) == 0.0
    assert m.nonllm_context_recall([], [gold]) == 0.0
    # Relevant chunk second of two: average precision = (1/2) / 1.
    assert m.nonllm_context_precision([other, gold], [gold]) == pytest.approx(0.5)
    assert m.nonllm_context_precision([gold, other], [gold]) == pytest.approx(1.0)
    assert m.nonllm_context_recall([gold], []) is None


def test_mean_and_percentile():
    assert m.mean([1.0, None, 3.0]) == 2.0
    assert m.mean([None]) is None
    assert m.percentile([1, 2, 3, 4], 50) == 2.5
    assert m.percentile([5], 95) == 5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Soixante ans", "60 ans"),
        ("un délai de deux mois", "1 delai de 2 mois"),
        ("dans le délai d’un mois", "dans le delai d'1 mois"),
        ("Président du Conseil Général", "president du conseil general"),
        ("1 000 €", "1000€"),
        ("1\u00a0000\u00a0000 €", "1000000€"),
        ("majorée de 10 %", "majoree de 10%"),
        ("minimum 9 m ² pour une personne", "minimum 9 m2 pour 1 personne"),
        ("GIR 2 0,84 840", "gir 2 0,84 840"),  # no join after a decimal comma
        ("840\n120", "840 120"),  # numbers on separate lines stay apart
    ],
)
def test_normalise_for_match(text, expected):
    assert m.normalise_for_match(text) == expected


def test_states_answer():
    assert m.states_answer("Le droit est ouvert à soixante ans.", ["60 ans"])
    assert m.states_answer("Il a 60 ans", ["soixante ans"])
    assert m.states_answer("La décision est notifiée dans les deux mois.", ["2 mois"])
    assert m.states_answer("Elle dispose d'un délai d'un mois.", ["1 mois"])
    assert m.states_answer("Le PRÉSIDENT du conseil général décide.", ["président du conseil général"])
    assert m.states_answer("Il faut des biens d'au moins 1 500 euros.", ["1500 euros"])
    assert m.states_answer("un plafond de 1000 €", ["1 000 €"])
    assert m.states_answer("Rien à voir.", ["carte de résident", "titre de séjour"]) is False
    # Whole words only: 160 ans is not 60 ans, 11 mois is not 1 mois.
    assert m.states_answer("jusqu'à 160 ans", ["60 ans"]) is False
    assert m.states_answer("dans les onze mois", ["1 mois"]) is False
    assert m.states_answer("60 ans", []) is False
    assert m.states_answer("60 ans", ["  "]) is False
