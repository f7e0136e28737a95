"""Learned relevance and answerability: features of a question against its retrieved passages and their
sentences, and the fitted models that turn them into probabilities.

Three logistic models, fitted by ``eval/train_judge.py`` (``make train-judge``) on the development
questions of the demo corpus, service-public and the CASF, and stored with their thresholds in one small
versioned JSON artifact (``judge.json`` beside this file):

- **passage**: probability that a retrieved passage belongs to a document that answers the question;
- **answerability**: probability that the corpus answers the question at all (from the passage
  probabilities and how much of the question the passages leave unmatched); under the fitted threshold the
  assistant abstains, under the caution threshold it answers with a warning;
- **sentence**: probability that a sentence carries the asked information (a number, an age, a delay, a
  body, a definition…); the extractive answer quotes the most probable ones.

Inference is a dot product (no scikit-learn at run time); the coefficients, the standardisation and the
thresholds all come from the artifact, so nothing here is tuned by hand.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from assistant.answering.sentences import GENERIC_TERMS, SENTENCE_END
from assistant.text.french import article_refs, fold, terms
from assistant.text.glossary import Glossary

JUDGE_FILE = Path(__file__).with_name("judge.json")

PASSAGE_FEATURES = (
    "passage_similarity", "similarity_gap", "other_document_margin", "reciprocal_rank", "coverage", "coverage_gap",
    "rare_coverage", "heading_coverage", "article_match", "answer_type_match", "log_length",
)
QUESTION_FEATURES = (
    "max_relevance", "second_relevance", "top_similarity", "top_sentence_similarity", "max_coverage",
    "max_rare_coverage", "missing_mass", "document_margin", "distinct_documents",
)
SENTENCE_FEATURES = (
    "sentence_similarity", "sentence_similarity_gap", "sentence_coverage", "passage_relevance",
    "passage_reciprocal_rank", "first_in_passage", "relative_position", "answer_type_match", "asks_specific",
    "definition_cue", "lead_in", "heading_like", "log_length",
)

# --- what a question asks, what a text states -------------------------------------------------------
_NUMBER_WORDS = (r"(?:un|une|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|onze|douze|quinze|vingt|trente|quarante"
                 r"|cinquante|soixante|cent|mille)")
_QUANTITY = rf"(?:\d+(?:[  .,]\d+)*|{_NUMBER_WORDS}(?:[\s-]+{_NUMBER_WORDS})*)"
ASKS = {
    "age": re.compile(r"\bage\b|\bquel(?:le)?s? age|\bans\b.*\?", re.IGNORECASE),
    "delay": re.compile(r"\bdelai|combien de temps|\bduree|\bquand\b|\bdans quel(?:s)? (?:delai|temps)|\bjours?\b|\bmois\b"
                        r"|\bfrequence|\bperiodicite|\btous les combien|\bpendant combien|\bquelle periode", re.IGNORECASE),
    "amount": re.compile(r"\bmontant|\bcombien\b|\bplafond|\btarif|\bcout|\bprix|\btaux\b|\bpourcentage|\bplancher"
                         r"|\bseuil|\bbareme|\bquelle somme|\bparticipation|\beuros?\b|€", re.IGNORECASE),
    "body": re.compile(r"^qui\b|\bqui (?:decide|attribue|verse|instruit|evalue|fixe|saisit|preside|peut|doit|est|sont|paie|finance)"
                       r"|\bquel(?:le)?s? (?:organisme|instance|autorite|service|commission|administration|juridiction|tribunal)"
                       r"|\baupres de qui|\ba qui\b|\bpar qui\b", re.IGNORECASE),
    "definition": re.compile(r"qu'est-ce qu|c'est quoi|que (?:signifie|designe|recouvre)|\bdefinition|en quoi consiste"
                             r"|qu'entend-on|qu'appelle-t-on|a quoi (?:sert|correspond)", re.IGNORECASE),
}
STATES = {
    "age": re.compile(rf"\b{_QUANTITY}\s+ans\b|\bage\b", re.IGNORECASE),
    "delay": re.compile(rf"\b{_QUANTITY}\s+(?:jours?|mois|semaines?|ans|annees?|heures?)\b|\bdelai\b|\bsans delai"
                        r"|\b(?:chaque|par) (?:annee|mois|trimestre|semaine)|\b(?:annuel|mensuel|trimestriel)", re.IGNORECASE),
    "amount": re.compile(rf"{_QUANTITY}\s*(?:€|euros?|%|pour cent|fois)|\bmontant|\btaux\b|\bplafond|\bsmic\b|\bmtp\b", re.IGNORECASE),
    "body": re.compile(r"\bpresident\b|\bconseil (?:departemental|general|regional|d'administration)|\bcommission\b|\bagence\b"
                       r"|\bcaisse\b|\bmaison departementale|\bequipe pluridisciplinaire|\bprefet|\bministre|\bdirecteur"
                       r"|\btribunal|\bjuge\b|\borganisme|\bmaire\b|\bcentre communal|\bservice\b|\bcnsa\b|\bmdph\b|\bcdaph\b",
                       re.IGNORECASE),
    "definition": re.compile(r"\b(?:est|sont) (?:un|une|des|le|la|les|constitue)\b|\bdesigne|\bconsiste|\bs'entend|\bconstitue"
                             r"|\ba pour (?:objet|mission|but)|\bon entend\b|\bcorrespond a|\bcomprend\b|\bvise a\b", re.IGNORECASE),
}
_HEADING_LIKE_RE = re.compile(r"^(?:#+\s|article\s|section\s|chapitre\s|titre\s|annexe\s|\d+(?:\.\d+)*\.?\s)", re.IGNORECASE)


def answer_types(question: str) -> frozenset[str]:
    """What kind of information the question asks for (``age``, ``delay``, ``amount``, ``body``,
    ``definition``); empty for an open question."""
    folded = fold(question)
    return frozenset(kind for kind, pattern in ASKS.items() if pattern.search(folded))


def stated_types(text: str) -> frozenset[str]:
    folded = fold(text)
    return frozenset(kind for kind, pattern in STATES.items() if pattern.search(folded))


def type_match(asked: frozenset[str], text: str) -> float:
    """Share of the asked kinds of information that ``text`` states (0 when nothing specific is asked)."""
    return len(asked & stated_types(text)) / len(asked) if asked else 0.0


# --- the question's terms, glossary-aware -----------------------------------------------------------
@dataclass(frozen=True)
class TermGroup:
    """One unit of the question's information: present in a text when one of its alternatives is (an
    acronym counts as present where its full wording is, and the reverse)."""

    weight: float
    alternatives: tuple[frozenset[str], ...]

    def present_in(self, text_terms: set[str]) -> bool:
        return any(len(alt & text_terms) >= math.ceil(0.8 * len(alt)) for alt in self.alternatives)


@dataclass(frozen=True)
class QuestionProfile:
    """What the features need to know about a question, computed once per question."""

    groups: tuple[TermGroup, ...]
    asked: frozenset[str]
    articles: frozenset[str]

    def coverage(self, text_terms: set[str]) -> float:
        total = sum(g.weight for g in self.groups)
        return sum(g.weight for g in self.groups if g.present_in(text_terms)) / total if total else 0.0

    def rare_coverage(self, text_terms: set[str]) -> float:
        """Share of the question's two most specific units (highest IDF) present: what the question is about."""
        rare = sorted(self.groups, key=lambda g: g.weight, reverse=True)[:2]
        return sum(g.present_in(text_terms) for g in rare) / len(rare) if rare else 0.0


def question_profile(question: str, glossary: Glossary | None, idf_weights) -> QuestionProfile:
    """``idf_weights(words) -> {word: weight}`` (the index's IDF, see ``TermStatistics``)."""
    own = [t for t in dict.fromkeys(terms(question)) if t not in GENERIC_TERMS and not t.startswith("§")]
    alternatives: dict[str, list[frozenset[str]]] = {t: [frozenset([t])] for t in own}
    if glossary is not None:
        folded = fold(question)
        for entry in glossary.entries:
            acronym = next(iter(terms(entry.acronym)), fold(entry.acronym))
            wordings = [frozenset(t for t in terms(text) if t not in GENERIC_TERMS) for text in (entry.expansion, *entry.synonyms)]
            wordings = [w for w in wordings if w]
            if acronym in alternatives:  # "APA" in the question: its wordings count for it
                alternatives[acronym] += wordings
            elif wordings and fold(entry.expansion) in folded:  # the full wording in the question: one unit
                for term in wordings[0]:
                    alternatives.pop(term, None)
                alternatives[" ".join(sorted(wordings[0]))] = [wordings[0], frozenset([acronym])]
    wordings_terms = {t for key, alts in alternatives.items() if " " in key for t in alts[0]}
    weights = idf_weights(sorted({key for key in alternatives if " " not in key} | wordings_terms))
    groups = [TermGroup(float(weights[key] if " " not in key else max(weights[t] for t in alts[0])), tuple(alts))
              for key, alts in alternatives.items()]
    return QuestionProfile(tuple(groups), answer_types(question), frozenset(article_refs(question)))


# --- the fitted models -------------------------------------------------------------------------------
@dataclass(frozen=True)
class LogisticModel:
    """A logistic regression fitted by scikit-learn, with its standardisation, as plain numbers."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    @classmethod
    def from_dict(cls, data: dict) -> "LogisticModel":
        model = cls(tuple(data["features"]), np.asarray(data["mean"], float), np.asarray(data["scale"], float),
                    np.asarray(data["coef"], float), float(data["intercept"]))
        if not len(model.features) == len(model.mean) == len(model.scale) == len(model.coef):
            raise ValueError("modèle de pertinence incohérent : tailles différentes")
        return model

    def to_dict(self) -> dict:
        return {"features": list(self.features), "mean": self.mean.round(6).tolist(), "scale": self.scale.round(6).tolist(),
                "coef": self.coef.round(6).tolist(), "intercept": round(self.intercept, 6)}

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        if rows.size == 0:
            return np.zeros(0)
        z = ((rows - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))


@dataclass(frozen=True)
class RelevanceJudge:
    """The three models and the answerability thresholds of one artifact."""

    passage: LogisticModel
    answerability: LogisticModel
    sentence: LogisticModel
    answer_threshold: float  # abstain under this answerability
    caution_threshold: float  # answer with a caution under this
    sentence_threshold: float  # a sentence after the first is quoted from this probability on
    version: str = ""

    @classmethod
    def load(cls, path: Path = JUDGE_FILE) -> "RelevanceJudge":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            judge = cls(LogisticModel.from_dict(data["passage"]), LogisticModel.from_dict(data["answerability"]),
                        LogisticModel.from_dict(data["sentence"]), float(data["thresholds"]["answer"]),
                        float(data["thresholds"]["caution"]), float(data["thresholds"]["sentence"]),
                        str(data.get("version", "")))
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"Modèle de pertinence illisible ({path}) : {exc}. Régénérez-le : make train-judge.") from exc
        expected = {"passage": PASSAGE_FEATURES, "answerability": QUESTION_FEATURES, "sentence": SENTENCE_FEATURES}
        for name, features in expected.items():
            if getattr(judge, name).features != features:
                raise ValueError(f"Modèle de pertinence périmé ({path}) : les variables « {name} » ont changé. "
                                 "Régénérez-le : make train-judge.")
        if not 0 <= judge.answer_threshold <= judge.caution_threshold <= 1:
            raise ValueError(f"Modèle de pertinence ({path}) : seuils incohérents.")
        return judge

    @cached_property
    def summary(self) -> str:
        return f"{self.version} (seuils {self.answer_threshold:.2f} / {self.caution_threshold:.2f})"


# --- feature rows ------------------------------------------------------------------------------------
def passage_row(profile: QuestionProfile, *, similarity: float, best_similarity: float, other_document_best: float,
                rank: int, coverage: float, max_coverage: float, rare_coverage: float, heading_coverage: float,
                article: str | None, text: str) -> list[float]:
    """``other_document_best``: the best similarity among the passages of the other documents."""
    article_match = float(bool(profile.articles) and bool(article) and bool(profile.articles & set(article_refs(article))))
    return [similarity, similarity - best_similarity, similarity - other_document_best, 1.0 / (1 + rank), coverage,
            coverage - max_coverage, rare_coverage, heading_coverage, article_match, type_match(profile.asked, text),
            math.log1p(len(text))]


def question_row(passage_probabilities: list[float], *, top_similarity: float, top_sentence: float,
                 max_coverage: float, max_rare_coverage: float, missing_mass: float, document_margin: float,
                 distinct_documents: float) -> list[float]:
    """``document_margin``: best similarity of the best document minus that of the second; a corpus that
    answers usually has one document standing out, one that does not has several alike."""
    ordered = sorted(passage_probabilities, reverse=True) + [0.0, 0.0]
    return [_logit(ordered[0]), _logit(ordered[1]), top_similarity, top_sentence, max_coverage, max_rare_coverage,
            missing_mass, document_margin, distinct_documents]


def sentence_row(profile: QuestionProfile, *, similarity: float, best_similarity: float, coverage: float,
                 passage_relevance: float, passage_rank: int, position: int, count: int, text: str) -> list[float]:
    first_line = text.split("\n", 1)[0].strip()
    unfinished = not first_line.endswith(SENTENCE_END)
    heading_like = float(unfinished and (bool(_HEADING_LIKE_RE.match(first_line)) or len(first_line) < 90))
    return [similarity, similarity - best_similarity, coverage, passage_relevance, 1.0 / (1 + passage_rank),
            float(position == 0), position / max(count - 1, 1), type_match(profile.asked, text),
            float(bool(profile.asked)), float("definition" in profile.asked and "definition" in stated_types(text)),
            float(first_line.endswith(":") and "\n" not in text), heading_like, math.log1p(len(text))]


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))
