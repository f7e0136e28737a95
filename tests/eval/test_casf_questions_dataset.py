"""Checks for eval/datasets/casf-questions.jsonl (CASF retrieval questions with gold article ids)."""

import json
import os
import re
from collections import Counter
from pathlib import Path

import pytest

from eval.metrics import states_answer

REPO_ROOT = Path(__file__).resolve().parents[2]
DATASET = REPO_ROOT / "eval" / "datasets" / "casf-questions.jsonl"
SHARED_DATA = Path(os.environ.get("AUTONOMIE_SHARED_DATA", REPO_ROOT / ".." / "shared" / "data"))
ARTICLES = SHARED_DATA / "casf" / "articles.jsonl"

FIELDS = {"qid", "question", "gold_docs", "category", "notes", "reference_answer", "answer_patterns"}
CATEGORIES = {"acronyme", "paraphrase", "chiffre", "procedure", "annexe"}
QID = re.compile(r"^casf-\d{3}$")
COPIED_RUN = 10  # a question sharing this many consecutive words with its gold article is copied
MAX_ANSWER_WORDS = 30
MAX_PATTERN_WORDS = 6


def _rows() -> list[dict]:
    lines = DATASET.read_text(encoding="utf-8").splitlines()
    assert all(line.strip() for line in lines), "blank line in dataset"
    return [json.loads(line) for line in lines]


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", re.sub(r"<[^>]+>", " ", text).lower())


def _runs(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return _rows()


@pytest.fixture(scope="module")
def articles() -> dict[str, str]:
    if not ARTICLES.is_file():
        pytest.skip(f"données CASF absentes : {ARTICLES}")
    with ARTICLES.open(encoding="utf-8") as fh:
        return {a["id"]: a["text"] for a in map(json.loads, fh)}


def test_schema(rows):
    for row in rows:
        assert set(row) == FIELDS, row
        assert QID.match(row["qid"]), row["qid"]
        assert row["category"] in CATEGORIES, row
        assert row["question"].strip().endswith("?"), row["qid"]
        assert row["notes"].strip(), row["qid"]
        gold = row["gold_docs"]
        assert 1 <= len(gold) <= 3 and len(set(gold)) == len(gold), row["qid"]
        assert all(g.startswith("CASF:") for g in gold), row["qid"]


def test_size_and_unique_ids(rows):
    assert len(rows) >= 60
    qids = Counter(r["qid"] for r in rows)
    assert [q for q, n in qids.items() if n > 1] == []
    questions = Counter(r["question"].strip().lower() for r in rows)
    assert [q for q, n in questions.items() if n > 1] == []


def test_every_category_is_used(rows):
    assert {r["category"] for r in rows} == CATEGORIES


def test_reference_answers_and_patterns(rows):
    for row in rows:
        answer, patterns = row["reference_answer"], row["answer_patterns"]
        assert isinstance(answer, str) and answer.strip(), row["qid"]
        assert len(answer.split()) <= MAX_ANSWER_WORDS, row["qid"]
        assert isinstance(patterns, list) and 1 <= len(patterns) <= 4, row["qid"]
        assert all(isinstance(p, str) and 1 <= len(p.split()) <= MAX_PATTERN_WORDS for p in patterns), row["qid"]
        assert len(set(patterns)) == len(patterns), row["qid"]
        # The reference answer states the key fact; no pattern merely repeats the question.
        assert states_answer(answer, patterns), row["qid"]
        assert [p for p in patterns if states_answer(row["question"], [p])] == [], row["qid"]


def test_answer_patterns_occur_in_a_gold_article(rows, articles):
    # Table cells become separate lines, so that digit groups of neighbouring cells are not joined.
    texts = {g: re.sub(r"<[^>]+>", "\n", articles[g]) for r in rows for g in r["gold_docs"]}
    missing = [
        (row["qid"], p)
        for row in rows
        for p in row["answer_patterns"]
        if not any(states_answer(texts[g], [p]) for g in row["gold_docs"])
    ]
    assert missing == []


def test_gold_ids_exist(rows, articles):
    missing = [(r["qid"], g) for r in rows for g in r["gold_docs"] if g not in articles]
    assert missing == []


def test_questions_are_not_copied_from_gold(rows, articles):
    copied = []
    for row in rows:
        question = _runs(_words(row["question"]), COPIED_RUN)
        copied += [(row["qid"], g) for g in row["gold_docs"] if question & _runs(_words(articles[g]), COPIED_RUN)]
    assert copied == []
