"""Context for the articles of a legal code ingested one record per article.

An article of the CASF often never names its subject: « Le département organise le contrôle d'effectivité
de l'aide. » (R232-17) is about the APA only because it sits in chapter 232. Légifrance's export gives the
article number, not the headings, so the passage alone matches a question on « l'APA » poorly. The article
number does carry the place in the code (L/R/D 232-… : livre 2, titre 3, chapitre 2), so the articles of one
chapter are grouped and the chapter is described by the phrases that distinguish it from the other
chapters: class-based TF-IDF (as BERTopic's c-TF-IDF: a phrase's share of the chapter's articles times its
inverse frequency across chapters) over scikit-learn's n-gram counts. The description goes into the text
that is embedded and indexed for BM25, never into the quoted passage (it is not an official heading).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from assistant.text.french import STOP_WORDS, fold

# "Article R232-1", "Article L. 14-10-5", "Article D*245-3": the chapter is the number before the first dash.
_ARTICLE_TITLE_RE = re.compile(r"^\s*(?:article\s+)?[LRDA]\*?\s?\.?\s?(\d{1,4})-\d", re.IGNORECASE)
_WORD_RE = r"(?u)\b[^\W\d_]{3,}(?:['’-][^\W\d_]+)*\b"

MIN_ARTICLES = 30  # below this, a JSONL file is not a code: no chapter contexts
PHRASES = 5  # phrases per chapter description
MIN_SHARE = 0.2  # a phrase describes a chapter when at least this share of its articles use it


def chapter_of(title: str) -> str | None:
    """The chapter number of an article title (``"Article R232-1"`` → ``"232"``), or None."""
    match = _ARTICLE_TITLE_RE.match(title)
    return match.group(1) if match else None


def chapter_contexts(titles: Sequence[str], texts: Sequence[str]) -> list[str]:
    """One description per article (``""`` for none): « Chapitre 232 : allocation personnalisée autonomie ;
    perte autonomie ; … » (words of under three letters are not counted). Empty for every article when fewer
    than ``MIN_ARTICLES`` carry a code article number, or when a chapter has a single article (nothing to
    learn from)."""
    from sklearn.feature_extraction.text import CountVectorizer

    chapters = [chapter_of(title) for title in titles]
    numbered = [i for i, chapter in enumerate(chapters) if chapter]
    if len(numbered) < MIN_ARTICLES:
        return [""] * len(titles)
    names = sorted({chapters[i] for i in numbered})
    vectorizer = CountVectorizer(ngram_range=(1, 3), min_df=2, binary=True, lowercase=True, token_pattern=_WORD_RE)
    counts = vectorizer.fit_transform([texts[i] for i in numbered])
    phrases = vectorizer.get_feature_names_out()
    keep = np.array([_describes(phrase) for phrase in phrases])
    membership = np.zeros((len(names), len(numbered)))
    index = {name: row for row, name in enumerate(names)}
    for column, i in enumerate(numbered):
        membership[index[chapters[i]], column] = 1
    per_chapter = np.asarray((membership @ counts).astype(float))  # articles of each chapter using each phrase
    sizes = membership.sum(axis=1)
    chapter_frequency = (per_chapter > 0).sum(axis=0)
    # Inverse chapter frequency, and a longer phrase preferred to its parts (« allocation personnalisée
    # autonomie » over « allocation »): +30 % per extra word, set a priori.
    weight = np.log(len(names) / np.maximum(chapter_frequency, 1)) * np.array([1 + 0.3 * p.count(" ") for p in phrases])
    descriptions = {}
    for row, name in enumerate(names):
        if sizes[row] < 2:
            descriptions[name] = ""
            continue
        share = per_chapter[row] / sizes[row]
        scores = np.where(keep & (share >= MIN_SHARE) & (per_chapter[row] >= 2), share * weight, 0.0)
        chosen: list[str] = []
        for column in np.argsort(-scores):
            if scores[column] <= 0 or len(chosen) == PHRASES:
                break
            phrase = phrases[column]
            if not any(phrase in other or other in phrase for other in chosen):
                chosen.append(phrase)
        descriptions[name] = f"Chapitre {name} : {' ; '.join(chosen)}" if chosen else ""
    return [descriptions.get(chapter, "") if chapter else "" for chapter in chapters]


def _describes(phrase: str) -> bool:
    """A phrase worth naming a chapter: no stop word at either end, two content words when it has several."""
    words = [fold(word) for word in re.split(r"\s+", phrase)]
    if words[0] in STOP_WORDS or words[-1] in STOP_WORDS:
        return False
    return len(words) == 1 or sum(word not in STOP_WORDS for word in words) >= 2
