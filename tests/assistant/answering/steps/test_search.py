"""The search step's merge: ranked lists interleaved rank by rank, first list first, each passage once."""

from assistant.answering.steps.search import merge_ranked
from assistant.retrieval.retriever import Passage


def passage(point_id: str) -> Passage:
    return Passage(point_id=point_id, doc_id=point_id, title="t", doc_type="fiche", territory="national", score=1.0, text="x")


def test_ranked_lists_are_interleaved_without_duplicates_up_to_the_limit():
    first = [passage("a"), passage("b"), passage("c")]
    second = [passage("b"), passage("d")]
    assert [p.point_id for p in merge_ranked([first, second], 10)] == ["a", "b", "d", "c"]
    assert [p.point_id for p in merge_ranked([first, second], 2)] == ["a", "b"]
    assert merge_ranked([], 5) == []
