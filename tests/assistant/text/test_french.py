from assistant.components.sparse import FrenchBM25Encoder, term_index
from assistant.settings import SparseSettings
from assistant.text.french import article_refs, fold, terms


def test_folding_and_stemming_match_inflections_and_accents():
    assert fold("Âgées, dépendantes’") == "agees, dependantes'"
    assert terms("personnes âgées dépendantes") == terms("personne agee dependante")
    assert "l" not in terms("l'allocation") and "allocation" not in terms("le la les de")


def test_article_references_become_terms():
    assert article_refs("Article L. 232-1 et art. R232-7, Annexe 2-5") == ["l232-1", "r232-7", "annexe2-5"]
    assert "§l232-14" in terms("selon l'article L. 232-14")


def test_bm25_weights_saturate_and_queries_weight_expansions_less():
    encoder = FrenchBM25Encoder(SparseSettings())
    once = encoder.encode_passage("aide à domicile")
    many = encoder.encode_passage("aide aide aide aide à domicile")
    aide = term_index(terms("aide")[0])
    w_once = once.values[once.indices.index(aide)]
    w_many = many.values[many.indices.index(aide)]
    assert w_once < w_many < 2.2 * w_once  # more occurrences count, with saturation (k1 + 1 = 2.2)
    query = encoder.encode_query("APA", extra_text="allocation personnalisée d'autonomie")
    weights = dict(zip(query.indices, query.values))
    assert weights[term_index("apa")] == 1.0 and weights[term_index(terms("allocation")[0])] == 0.5
