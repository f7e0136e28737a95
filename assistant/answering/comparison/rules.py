"""The comparison rules (no LLM): a territory's practice against the national rule, its status, note and
one-line reason (:func:`assess`).

Statuses (``TerritoryPractice.status``)
--------------------------------------
``conforme``
    The territorial passages restate the national rule: same delays, amounts and rates, same
    obligations and prohibitions (practical details that change nothing may be added).
``divergent``
    A different but compatible practice: a shorter delay or an internal target ("délai cible interne de
    45 jours" under a legal maximum of two months), a more favourable amount or rate, an additional step,
    piece, control, service or funding on top of the rule, a local limit, price, schedule or frequency on a
    point the national rule leaves open.
``contraire``
    The practice contradicts the rule: a longer delay than the national maximum, a lower amount or rate
    than the national one (below a legal floor), a less frequent payment, a mandatory step made optional,
    replaced or done remotely, something the rule excludes allowed, a piece the rule does not require (or
    any piece outside a closed national list) made mandatory, a right removed ("sans APA provisoire") or
    reserved to some GIR levels, another appeal authority than the national one.
``non_trouve``
    No practice passage was found for the territory.

Rules (no LLM, :func:`assess`)
-----------------------------
1. *Quantities with their unit, role and subject* (:func:`extract_quantities`): numbers in figures or
   words (``text2num``: "soixante jours", "quarante-cinq", "la moitié du plafond"), ranges ("de 9 à 11 €",
   the bound least favourable to the person is compared), units written every way ("j", "sem.", "€/h",
   "euros de l'heure", "heures mensuelles", "journées hebdomadaires"); delays (the person's appeal delays
   apart), durations, amounts per base, rates, hours, frequencies, ages, payment days ("le 10 du mois") and
   periodicities ("versée mensuellement", "une fois par trimestre", "contrôle semestriel"). Each figure
   carries its *subject*: the concepts of its sentence (decision, visit, appeal, urgency, payment, control,
   revision, transport…) other than the row's own topic. Two different figures are compared only when their
   subjects agree — a figure of a neighbouring article on another subject is not the practice. Each kind
   has a favourable direction for the person (shorter administration delay, longer appeal delay, higher
   benefit, lower cost, more frequent payment): a local value on the unfavourable side is ``contraire``,
   on the favourable side ``divergent``; approximate values ("environ") never make ``contraire``. A local
   figure on the rule's subject that the national texts do not state (anywhere in their context) is a
   local choice (``divergent``), unless the national rule leaves that figure to each département ("fixés
   par chaque département").
2. *Obligation and negation polarity* (:func:`statements`): obligation, prohibition, "not required",
   permission, replacement. National obligation against a local replacement or exemption, national
   prohibition against a local permission, national "not required" against a local obligation, an
   exception ("sauf…") added to an unconditional national rule, a mandatory home visit done remotely
   ("en visioconférence", "par téléphone", "sans déplacement"), a closed national list of pieces ("aucune
   autre pièce ne peut être exigée") against a local mandatory piece outside it, "sans X" where the
   national text grants X, a right reserved to some GIR levels, another appeal authority: ``contraire``.
3. *Local additions*: an internal target, a derogation, a default local modality, a service, fund,
   programme, free offer, extra funding or control the département provides on top of the rule
   ("le Département prend aussi à sa charge…", « Veille 44 », "gratuits", "en outre… une visite de
   contrôle"), when the national text does not say it: ``divergent``.

Each finding has a one-line reason (the values compared: "45 jours contre 2 mois (plus favorable)") and a
note quoting the words that triggered it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from text_to_num import text2num

from assistant.answering.sentences import split_sentences
from assistant.text.french import STOP_WORDS, fold, terms

NOT_FOUND_NOTE = "Aucune pratique trouvée dans les documents de ce territoire."
_RANK = {"conforme": 0, "divergent": 1, "contraire": 2}

# --- numbers ---------------------------------------------------------------------------------------
_NUMBER_WORDS = ("zero un une deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze seize "
                 "vingt vingts trente quarante cinquante soixante cent cents mille").split()
_WORD = "(?:" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + ")"
_WORDS_NUMBER = rf"{_WORD}(?:(?:-et-|\s+et\s+|-|\s+){_WORD})*"
_DIGITS = r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:,\d+)?|\d+(?:[,.]\d+)?"
_NUM = rf"(?:{_DIGITS}|{_WORDS_NUMBER})"
_DAYS = {"jour": 1, "semaine": 7, "quinzaine": 15, "mois": 30, "trimestre": 91, "semestre": 182, "an": 365}
_UNIT = (r"(?P<unit>%|pour\s?cent\b|€|euros?\b|eur\b|jours?\b|j\b|jrs?\b|journees?\b|semaines?\b|sem\b\.?|mois\b"
         r"|ans?\b|annees?\b|heures?\b|h\b|quinzaines?\b|trimestres?\b|semestres?\b|nuits?\b|nuitees?\b|seances?\b"
         r"|visites?\b|repas\b)")
# Matched on folded text (lower case, no accents; "€" and "%" are kept by the folding).
_QUANTITY_RE = re.compile(r"(?<![\w,.-])(?<!gir )(?P<num>" + _NUM + r")(?:\s+(?:premiers|premieres|derniers|dernieres))?\s*" + _UNIT
                          + r"(?P<half>\s+et\s+demie?\b)?")
_RANGE_BEFORE_RE = re.compile(r"(?:\bentre\s+(?P<between>" + _NUM + r")\s*(?:€|%|euros?|jours?|mois|semaines?|heures?)?\s*et"
                              r"|(?:\bde\s+|(?<![\w,.]))(?P<low>" + _NUM + r")\s*(?:€|%|euros?|jours?|mois|semaines?|heures?)?\s*"
                              r"(?:a|-))\s*$")
_FRACTION_RE = re.compile(r"\b(?P<art>la|le|du|au)\s+(?P<frac>moitie|tiers|quart)\s+(?:du|de la|des|de l')")
_FRACTIONS = {"moitie": 50.0, "tiers": 100 / 3, "quart": 25.0}
_COUNT_UNITS = {"nuit", "nuitee", "seance", "visite", "repas"}
_PAY_DAY_RE = re.compile(r"\ble\s+(?P<num>\d{1,2})(?:er)?\s+(?:de\s+chaque|du)\s+mois(?P<next>\s+suivant)?")
_WITHIN_MONTH_RE = re.compile(r"\bdans\s+le\s+mois\b")
_IMMEDIATE_RE = re.compile(r"\b(?:immediat\w*|sans delai|sur-le-champ|des le premier jour)\b")
_SANCTIONS = {"suspension"}
_PER_RE = re.compile(r"^\s*(?:/|par|de\s+l'|l'|chaque|pour\s+(?:un|une|l'|la|le))\s*(?:l'|une?\s+|la\s+|le\s+)?"
                     r"(?P<base>h\b|heures?|jours?|journees?|semaines?|mois|ans?\b|annees?|trajets?|allers?-retours?|repas"
                     r"|nuits?|seances?|personnes?|aidants?|beneficiaires?|interventions?)")
_BASE_AFTER_RE = re.compile(r"^\s*(?P<base>mensuel\w*|hebdomadaire\w*|annuel\w*|journalier\w*|quotidien\w*|horaire\w*)")
_BASE_WORDS = {"horaire": "heure", "mensuel": "mois", "journalier": "jour", "quotidien": "jour", "annuel": "an",
               "hebdomadaire": "semaine"}
_APPROX_RE = re.compile(r"(environ|en moyenne|pres de|approximativement|≈|~|de l'ordre de|a titre indicatif|indicati\w*"
                        r"|autour de)\s*$")
_CLAUSE_START_RE = re.compile(r"[.;:!?\n(]")
_DELAY_BEFORE_RE = re.compile(
    r"(?:\bsous|\bdans(?:\s+(?:les|un|le))?|\bd'ici|\bau plus tard(?:\s+(?:dans|sous)(?:\s+les)?)?|\ben moins de|\ben\b"
    r"|\bobjectif\s+(?:[\w']+\s+){0,2}de|\bcible\s+(?:[\w']+\s+){0,2}de|\bau moins|\bminimum de|\bdispose\w* de|\ba\b)\s*$")
_DELAY_AFTER_RE = re.compile(r"^\s*(?:calendaires\s+|ouvres\s+|ouvrees\s+|ouvrables\s+|francs\s+|maximum\s+|max\.?\s+"
                             r"|au plus\s+)?(?:a compter|suivant|apres|avant|a l'avance|maximum|max\b|maxi\b|au plus|qui suivent"
                             r"|qui suit)")
_NOT_DELAY_BEFORE_RE = re.compile(r"(?:(?<!en )moins de|plus de|pendant(?:\s+les)?|depuis|durant|dans la limite d[e']|jusqu'a"
                                  r"|limite de|au maximum|maximum de|au-dela de|\bau plus|datee?s? de)\s*$")
_APPEAL_RE = re.compile(r"\b(?:recours|contest\w*|saisi\w*|appel|reclamation|rapo)\b")
_COST_RE = re.compile(r"\b(?:participation|reste a (?:sa |leur )?charge|a (?:la|sa|leur) charge|ticket moderateur|abonnement"
                      r"|paie|payer|acquitte\w*|cout pour)\b")
_AGE_BEFORE_RE = re.compile(r"(?:\bage\w*\s+(?:d'au moins|de plus de|de)|\batteignant|\batteign\w*|\bd'au moins|\ba partir de"
                            r"|\bplus de|\bmoins de|\bavez)\s*$")
_AGE_AFTER_RE = re.compile(r"^\s*(?:ou plus|et plus|revolus)")
# Periodicities of an action (payment, control, revision…): interval in days.
_PERIOD_WORDS = {"mensuel": 30, "trimestriel": 91, "semestriel": 182, "annuel": 365, "hebdomadaire": 7, "bimestriel": 61,
                 "quotidien": 1, "journalier": 1}
_PERIOD_ADVERBS = {"mensuellement": 30, "trimestriellement": 91, "semestriellement": 182, "annuellement": 365,
                   "hebdomadairement": 7, "quotidiennement": 1}
_PERIOD_NOUNS = {"jour": 1, "semaine": 7, "mois": 30, "trimestre": 91, "semestre": 182, "an": 365, "annee": 365}
_PERIOD_RE = re.compile(
    r"\b(?P<adverb>mensuellement|trimestriellement|semestriellement|annuellement|hebdomadairement|quotidiennement)\b"
    r"|\b(?:chaque|tous les|toutes les)\s+(?P<noun>mois|trimestres?|semestres?|ans|annees?|semaines?|jours)\b"
    r"|\b(?P<times>une|deux|trois|quatre|\d)\s+fois\s+par\s+(?P<per>mois|trimestre|semestre|an|annee|semaine|jour)\b"
    r"|\btous les\s+(?P<every>deux|trois|quatre|six|douze|\d{1,2})\s+(?P<every_unit>mois|ans|semaines|jours)\b"
    r"|\b(?P<action>controles?|versements?|paiements?|visites?|revisions?|bilans?|verifications?|justificatifs?)\s+"
    r"(?P<adjective>mensuel\w*|trimestriel\w*|semestriel\w*|annuel\w*|hebdomadaire\w*|bimestriel\w*)")
_PERIOD_SUBJECTS = {"versement", "controle", "revision", "visite", "declaration"}

# What a difference means for the person, per kind: "lower"/"higher" is favourable, None is neutral.
_FAVOURABLE = {"delai": "lower", "delai_recours": "higher", "montant": "higher", "pourcentage": "higher",
               "heures": "higher", "frequence": "higher", "age": "lower", "echeance": "lower", "duree": None,
               "periode": None}
_LABELS = {"delai": "délai", "delai_recours": "délai de recours", "montant": "montant", "pourcentage": "taux",
           "heures": "volume horaire", "frequence": "fréquence", "age": "âge", "echeance": "échéance de versement",
           "duree": "durée", "periode": "périodicité"}
_FEMININE = {"frequence", "echeance", "duree", "periode"}
# Kinds a département may set on a point the national rule leaves open (a local choice when unrestated);
# without a row topic, only the figures that rarely restate the law.
_LOCAL_CHOICES = {"delai", "montant", "pourcentage", "heures", "frequence", "echeance", "periode"}
_LOCAL_FIGURES = {"montant", "frequence", "echeance", "periode"}
# Families of kinds: a local figure restates the national texts when they state the same value in its family.
_FAMILY = {"delai": "duree", "delai_recours": "duree", "duree": "duree", "montant": "montant",
           "pourcentage": "pourcentage", "heures": "heures", "frequence": "frequence", "age": "age",
           "echeance": "echeance", "periode": "periode"}

# --- subjects: what a figure is about ---------------------------------------------------------------
_CONCEPTS: dict[str, re.Pattern] = {name: re.compile(pattern) for name, pattern in {
    "urgence": r"\burgen\w*",
    "recours": r"\b(?:recours|contest\w*|rapo|tribunal|reclamation|appel)\b",
    "visite": r"\b(?:visite|evaluat\w*|evaluer|se deplace\w*|deplacement|entretien)\b",
    "plan": r"\bproposition\b|\bpropos\w* (?:de |du )?plan\b|\bplan d'aide (?:est |sont )?propos\w*",
    "accuse": r"\baccus\w* (?:de )?reception|\bpieces? manquantes?",
    "revision": r"\brevis\w*|\breexam\w*|\brevu\b|\brenouvel\w*",
    "versement": r"\bvers(?:e|ee|ees|es|ement|ements)\b|\bpai(?:e|ent|ement|ements)\b|\bpaye\w*|\bmandat(?:e|ee|ement)\b"
                 r"|\bvirement|\bregl(?:e|ee|ees|ent)\b",
    "controle": r"\bcontrol\w*|\beffectivite|\bverifi\w*|\btelegestion",
    "declaration": r"\bdeclar\w*|\bindiquer qui\b|\bqui intervient",
    "suspension": r"\bsuspen\w*|\bmise en demeure",
    "hospitalisation": r"\bhospitali\w*|\bsortie d'hop\w*|\bretour a domicile|\bsuivant le retour",
    "transport": r"\btransport\w*|\btrajet\w*|\baller-retour",
    "hebergement": r"\bhebergement\b",
    "installation": r"\binstallation\b",
    "abonnement": r"\babonnement\b",
    "emploi_direct": r"\bemploi direct|\bemploy\w* directement|\bgre a gre",
    "mandataire": r"\bmandataire\b",
    "participation": r"\bparticipation\b|\breste a (?:sa |leur )?charge",
    "plafond": r"\bplafond\w*",
    "repit": r"\brepit\b",
    "hospitalisation_aidant": r"\bhospitalisation de l'aidant|\brelais\b",
    "domicile_secours": r"\bdomicile de secours",
    "justificatifs": r"\bjustificati\w*|\bfactures?\b|\bbulletins? de salaire",
    "decision": r"\bdecision\w*|\bnotifi\w*|\bstatu\w*|\brepon\w*|\bdecide\w*|\binstruction|\btraitement|\btraitee?s?\b"
                r"|\baccorde\w*|\battribu\w*|\bse prononce",
}.items()}
# Concepts too general to tell two figures apart ("+" marks a clause that adds to the rule).
_WEAK_CONCEPTS = {"decision", "plafond", "justificatifs", "+"}
# Stages of the procedure: a figure about a stage the rule does not mention belongs to another article.
_STAGES = {"urgence", "recours", "accuse", "revision", "plan", "hospitalisation", "domicile_secours", "suspension",
           "declaration", "visite", "versement", "controle"}
_ADDITIVE_RE = re.compile(r"\b(?:y ajoute\w*|s'ajoute\w*|en plus|en complement|complementaire\w*|supplementaire\w*|aussi"
                          r"|egalement|en outre|par ailleurs|en sus)\b")


def concepts(text: str) -> frozenset[str]:
    """The subject concepts named in ``text`` (folded or not)."""
    folded = fold(text)
    return frozenset(name for name, pattern in _CONCEPTS.items() if pattern.search(folded))


@dataclass(frozen=True)
class Quantity:
    """A figure of a text with its role: ``value`` in days for delays, durations and periodicities, € for
    amounts; ``low`` the other bound of a range; ``subject`` the concepts of its sentence."""

    kind: str
    value: float
    text: str
    base: str | None = None  # "heure", "jour", "semaine", "mois", "an", "trajet"…: amounts, hours, frequencies
    approx: bool = False
    favourable: str | None = None  # "lower" | "higher" | None
    context: frozenset[str] = frozenset()  # content words just before the figure, in its clause
    subject: frozenset[str] = frozenset()
    low: float | None = None

    @property
    def additive(self) -> bool:
        return "+" in self.subject

    def comparable(self, other: "Quantity") -> bool:
        return self.kind == other.kind and (self.base is None or other.base is None or self.base == other.base)

    def equals(self, other: "Quantity") -> bool:
        tolerance = 0.05 if (self.approx or other.approx) else 0.002
        same = abs(self.value - other.value) <= tolerance * max(abs(self.value), abs(other.value), 1e-9)
        return same and (self.low is None) == (other.low is None)

    def worst(self, favourable: str | None) -> float:
        """The bound of a range least favourable to the person."""
        if self.low is None or favourable is None:
            return self.value
        return max(self.value, self.low) if favourable == "lower" else min(self.value, self.low)


def _number(raw: str) -> float | None:
    raw = raw.strip()
    if raw[0].isdigit():
        return float(re.sub(r"[ \u00a0\u202f]", "", raw).replace(",", "."))
    try:
        return float(text2num(re.sub(r"\s+", " ", raw), "fr"))
    except ValueError:
        return None


def extract_quantities(text: str) -> list[Quantity]:
    """Delays, durations, amounts, rates, hours, frequencies, ages, payment days and periodicities in ``text``."""
    return list(_extract_quantities(text))


@lru_cache(maxsize=512)
def _extract_quantities(text: str) -> tuple[Quantity, ...]:
    """Memoised: a row's national texts are read once for all its territories."""
    folded, index = _fold_with_index(text)

    def surface(start: int, end: int) -> str:
        return " ".join(text[index[start]:index[end - 1] + 1].split())

    found: list[Quantity] = []
    for m in _QUANTITY_RE.finditer(folded):
        quantity = _quantity(folded, m, surface)
        if quantity:
            found.append(quantity)
    for m in _FRACTION_RE.finditer(folded):
        start = m.start("frac")
        favourable = "lower" if _COST_RE.search(folded[max(0, start - 60):start]) else "higher"
        found.append(Quantity("pourcentage", _FRACTIONS[m.group("frac")], surface(m.start("art"), m.end("frac")),
                              favourable=favourable, subject=_subject_at(folded, start)))
    pay_days = []
    for m in _PAY_DAY_RE.finditer(folded):
        day = int(m.group("num")) + (30 if m.group("next") else 0)
        pay_days.append((m.start(), m.end()))
        found.append(Quantity("echeance", day, surface(m.start(), m.end()), favourable="lower",
                              subject=_subject_at(folded, m.start()) | {"versement"}))
    for m in _WITHIN_MONTH_RE.finditer(folded):
        kind = "delai_recours" if _APPEAL_RE.search(_sentence_at(folded, m.start())) else "delai"
        subject = _subject_at(folded, m.start())
        found.append(Quantity(kind, 30, "dans le mois", favourable="higher" if subject & _SANCTIONS else _FAVOURABLE[kind],
                              subject=subject))
    for m in _IMMEDIATE_RE.finditer(folded):
        subject = _subject_at(folded, m.start())
        if subject & _SANCTIONS:  # "suspension immédiate": no delay before the sanction
            found.append(Quantity("delai", 0, surface(m.start(), m.end()), favourable="higher", subject=subject))
    for m in _PERIOD_RE.finditer(folded):
        if any(start <= m.start() < end for start, end in pay_days):
            continue  # "le 5 de chaque mois": a payment day
        period = _period(m)
        subject = _subject_at(folded, m.start())
        if m.group("action"):
            subject |= concepts(m.group("action"))
        if period and subject & _PERIOD_SUBJECTS and not _is_amount_base(folded, m.start()):
            favourable = "lower" if "versement" in subject else None
            found.append(Quantity("periode", period, surface(m.start(), m.end()), favourable=favourable, subject=subject))
    return tuple(found)


def _period(m: re.Match) -> float | None:
    if m.group("adverb"):
        return _PERIOD_ADVERBS[m.group("adverb")]
    if m.group("noun"):
        return _PERIOD_NOUNS[_base(m.group("noun"))]
    if m.group("times"):
        times = _number(m.group("times")) or 1
        return _PERIOD_NOUNS[_base(m.group("per"))] / times
    if m.group("every"):
        return (_number(m.group("every")) or 1) * _PERIOD_NOUNS[_base(m.group("every_unit"))]
    adjective = re.sub(r"(?:le|les|s)$", "", m.group("adjective"))
    return next((v for k, v in _PERIOD_WORDS.items() if adjective.startswith(k)), None)


def _is_amount_base(folded: str, position: int) -> bool:
    """"25 € par mois", "30 heures chaque mois": a base of a figure, not the rhythm of an action."""
    return bool(re.search(r"(?:€|euros?|%|heures?|h|jours?|journees?|nuits?)\s*(?:par|chaque|/)?\s*$", folded[max(0, position - 14):position]))


def _fold_with_index(text: str) -> tuple[str, list[int]]:
    """``fold(text)`` and, for each of its characters, the index of the original character."""
    chars: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        folded = fold(ch)
        chars.append(folded)
        index += [i] * len(folded)
    return "".join(chars), index


def _quantity(folded: str, m: re.Match, surface: Any) -> Quantity | None:
    raw, unit = m.group("num"), m.group("unit")
    number = _number(raw)
    if number is None:
        return None
    if m.group("half"):
        number += 0.5
    start, end = m.start(), m.end()
    if 1900 <= number <= 2100 and float(number).is_integer() and unit != "€" and not unit.startswith("eur"):
        return None  # a year ("Plafond 2025 | Heures …"), not a quantity
    clause_start = max((i.end() for i in _CLAUSE_START_RE.finditer(folded, 0, start)), default=0)
    if folded[max(0, clause_start - 2):clause_start].strip() == ":" and len(folded[clause_start:start].split()) <= 2:
        # "Décision : 8 semaines max." — a short label before a colon says what the figure is
        clause_start = max((i.end() for i in _CLAUSE_START_RE.finditer(folded, 0, clause_start - 1)), default=0)
    before = folded[clause_start:start]
    near = before[-40:]
    after = folded[end:end + 40]
    sentence = _sentence_at(folded, start)
    subject = _subject_at(folded, start, end)
    low_match = _RANGE_BEFORE_RE.search(near)
    approx = bool(_APPROX_RE.search(before[:len(before) - len(near) + low_match.start()][-30:] if low_match else before[-30:]))
    low = _number(low_match.group("between") or low_match.group("low")) if low_match else None
    if low_match:
        start = clause_start + len(before) - len(near) + low_match.start()
    shown = surface(start, end)
    if unit == "%" or unit.startswith("pour"):
        favourable = "lower" if _COST_RE.search(before + after[:20]) else "higher"
        return Quantity("pourcentage", number, shown, approx=approx, favourable=favourable, subject=subject, low=low)
    if unit == "€" or unit.startswith("eur"):
        per = _PER_RE.match(after)
        adjective = _BASE_AFTER_RE.match(after)
        if per:
            base = _base(per.group("base"))
            shown = surface(start, end + per.end())
        elif adjective:
            base = next(b for w, b in _BASE_WORDS.items() if adjective.group("base").startswith(w))
            shown = surface(start, end + adjective.end())
        else:
            base = next((b for w, b in _BASE_WORDS.items() if w in near), None)
        favourable = "lower" if _COST_RE.search(before + after[:20]) else "higher"
        return Quantity("montant", number, shown, base=base, approx=approx, favourable=favourable, subject=subject, low=low)
    period = _base(unit)
    per = _PER_RE.match(after)
    adjective = _BASE_AFTER_RE.match(after)
    if per or (adjective and period not in ("mois", "an") and not adjective.group("base").startswith("horaire")):
        # "3 jours par semaine", "12 heures par mois", "deux journées hebdomadaires", "deux nuits par an"
        if per:
            base, stop = _base(per.group("base")), per.end()
        else:
            base = next(b for w, b in _BASE_WORDS.items() if adjective.group("base").startswith(w))
            stop = adjective.end()
        shown = surface(start, end + stop)
        kind = "heures" if period == "heure" else "frequence"
        return Quantity(kind, number, shown, base=base, approx=approx, favourable="higher", subject=subject, low=low)
    if period in _COUNT_UNITS:
        return None  # "deux nuits" without a base: a count, not compared
    if period == "an" and (_AGE_BEFORE_RE.search(near) or _AGE_AFTER_RE.match(after) or re.search(r"\bage", sentence)):
        return Quantity("age", number, shown, approx=approx, favourable="lower", subject=subject, low=low)
    is_delay = not _NOT_DELAY_BEFORE_RE.search(near) and (
        _DELAY_BEFORE_RE.search(near) or _DELAY_AFTER_RE.match(after) or "delai" in before)
    if period == "heure":
        if not is_delay:
            return Quantity("heures", number, shown, approx=approx, favourable="higher", subject=subject, low=low)
        days, low_days = number / 24, (low / 24 if low is not None else None)
    else:
        days = number * _DAYS[period]
        low_days = low * _DAYS[period] if low is not None else None
    if not is_delay and subject & _SANCTIONS and period != "heure":
        return Quantity("delai", days, shown, approx=approx, favourable="higher", subject=subject, low=low_days)
    if not is_delay:
        return Quantity("duree", days, shown, approx=approx, context=frozenset(_terms(before[-80:]) - _CONTEXT_NOISE),
                        subject=subject, low=low_days)
    kind = "delai_recours" if _APPEAL_RE.search(sentence) else "delai"
    favourable = _FAVOURABLE[kind]
    if re.search(r"(?:au moins|minimum de)\s*$", near) or subject & _SANCTIONS:
        favourable = "higher"  # a minimum notice, a delay before a sanction: longer is better for the person
    return Quantity(kind, days, shown, approx=approx, favourable=favourable, subject=subject, low=low_days)


_CONTEXT_NOISE = set(terms("environ moyenne jour jours journée journées semaine semaines mois an ans année années heure "
                           "heures euros limite maximum minimum total"))


def _base(unit: str) -> str:
    unit = unit.rstrip(".")
    unit = unit if unit in ("mois", "repas") else unit.rstrip("s")
    return {"h": "heure", "j": "jour", "jr": "jour", "journee": "jour", "annee": "an", "sem": "semaine", "nuitee": "nuit",
            "allers-retour": "trajet", "aller-retour": "trajet"}.get(unit, unit)


def _sentence_at(folded: str, position: int) -> str:
    start = max((i.end() for i in re.finditer(r"[.!?\n]", folded[:position])), default=0)
    stop = re.search(r"[.!?\n]", folded[position:])
    return folded[start:position + (stop.start() if stop else len(folded))]


def _clause_at(folded: str, position: int) -> str:
    start = max((i.end() for i in re.finditer(r"[.!?\n;:]", folded[:position])), default=0)
    stop = re.search(r"[.!?\n;]|:\s", folded[position:])
    return folded[start:position + (stop.start() if stop else len(folded))]


def _subject_at(folded: str, position: int, end: int | None = None) -> frozenset[str]:
    """What the figure at ``position`` is about: the concepts of its clause up to a few words after it (the
    subject comes before a figure, "à compter de…" right after; the clause's tail is often another matter),
    plus "+" when the clause adds to the rule."""
    start = max((i.end() for i in re.finditer(r"[.!?\n;]", folded[:position])), default=0)
    clause = _clause_at(folded, position)
    stop = min(position + len(clause), (end if end is not None else position) + 80)
    stop = min(stop, next((m.start() for m in re.finditer(r"[.!?\n;]", folded[position:stop])), stop - position) + position)
    window = folded[start:stop]
    here = position - start
    # A parenthesis gives examples ("retour d'hospitalisation…"), not the figure's subject — unless it holds the figure.
    window = re.sub(r"\([^()]*\)", lambda m: m.group(0) if m.start() <= here < m.end() else " ", window)
    found = concepts(window)
    return found | {"+"} if _ADDITIVE_RE.search(clause) else found


# --- statements (obligation / negation polarity) --------------------------------------------------
_NEG_REPLACE_RE = re.compile(
    r"\bne\s+(?:[\w']+\s+){0,2}?(?:peut|peuvent|doit|doivent|saurait)\s+(?:[\w']+\s+){0,3}?(?:etre\s+)?(?:remplace|substitu)"
    r"|\bne\s+(?:la|le|les|l'|s'y|y)?\s*(?:remplace|substitue)|\bsans\s+substitution")
_REPLACE_RE = re.compile(
    r"\b(?:peut|peuvent|pourra|pourront|possible)\b[^.;]{0,40}?\b(?:etre\s+remplace\w*|remplacer|se\s+substituer|substitue\w*)"
    r"|\b(?:a la place d|au lieu d|en remplacement d)")
_NOT_REQUIRED_RE = re.compile(
    r"\b(?:n'est|ne sont|n'etait)\s+(?:pas|plus|jamais)\s+(?:[\w']+\s+)?(?:requis|exige|obligatoire|necessaire|demande|impose)"
    r"|\baucun\w*\s+[^,;]{0,60}?\bn'est\s+(?:requis|exige|demande|necessaire|impose)"
    r"|\bfacultati\w*|\bdispense\w*|\bpeut\s+ne\s+pas|\bpas\s+systematique\w*|\bnon\s+obligatoire")
_PROHIBITION_RE = re.compile(
    r"\bn'est\s+(?:pas\s+)?cumulable|\bnon\s+cumulable|\bne\s+sont\s+pas\s+cumulable"
    r"|\bne\s+(?:peut|peuvent|doit|doivent)\s+(?:pas\s+|jamais\s+|en aucun cas\s+)?(?!etre\s+(?:inferieur|superieur)|exceder|depasser)\w+"
    r"|\binterdit\w*|\bjamais\b|\bn'y\s+ont\s+pas\s+droit|\bn'ouvre\s+pas\s+droit|\bexclu(?:t|ent)\b|\bincompatible\w*"
    r"|\bpas\s+(?:percevoir|cumuler|beneficier)\s+en\s+meme\s+temps")
_OBLIGATION_RE = re.compile(
    r"\bobligatoire\w*|\b(?:doit|doivent)\b|\b(?:est|sont)\s+tenu\w*|\bsystematiquement|\bimperativement"
    r"|\b(?:est|sont)\s+(?:exige|requis|impose)\w*|\bexige\b")
_PERMISSION_RE = re.compile(
    r"\b(?:peut|peuvent|pourra|pourront)\b|\bpossible\w*|\bautoris\w*|\bderogat\w*|\bsauf\b|\ba titre exceptionnel|\bpar exception")
_REMOVAL_RE = re.compile(r"\bsans\s+(?:(?:le|la|les|l'|aucun\w*)\s*)?(?P<obj>[\w'-]+(?:\s+[\w'-]+){0,2})")
_RESTRICT_RE = re.compile(r"\b(?:reserve\w*|uniquement|seulement|exclusivement|limite\w*\s+aux?|ne\s+[\w']+\s+qu'aux?"
                          r"|ouvert\w*\s+aux?|accessible\w*\s+aux?|destine\w*\s+aux?)\b")
_GIR_RE = re.compile(r"\bgir\)?\s+(?P<levels>[1-6](?:\s*(?:,|ou|et|a|-)\s*[1-6])*)")
_NEGATED_RE = re.compile(r"\bsans\b|\bne\b|\bn'|\bni\b|\baucun\w*|\bpas\b")
_STOP_OBJECT = {"de", "du", "des", "d", "a", "au", "aux", "pour", "par", "en", "dans", "sur", "avec", "ni", "ou", "et"}
# "sans X" that relaxes a condition is favourable, not a right removed.
_RELAXATIONS = set(terms("condition conditions limitation limite limites frais délai démarche formalité substitution distance "
                         "effet interruption exception participation plafond avance justificatif changement reste "
                         "déplacement nouvelle"))
# Words that say how, not what: left out when deciding whether two clauses share their object.
_GENERIC = set(terms(
    "apa allocation personnalisée autonomie département départemental départementale conseil président personne personnes "
    "bénéficiaire bénéficiaires demandeur être peut peuvent pourra possible possibilité obligatoire obligatoirement doit "
    "doivent exigé exigée exigées requis requise imposé autorisé autorisée autorisation dérogation interdit jamais remplacé "
    "remplacée remplacer remplace substituer substitution place lieu cas titre ainsi notamment également lorsque alors "
    "dès selon afin toutefois cependant aussi plus moins tout toute tous toutes chaque ensemble faire fait donne "
    "également prévu prévue prévoit article code casf rdas règlement vous votre vos nous notre"))

_GENERIC_WORDS = {fold(w) for w in (
    "apa allocation personnalisée autonomie département départemental départementale conseil président personne "
    "personnes bénéficiaire bénéficiaires demandeur droit droits aide aides plan être").split()}


@dataclass
class Statement:
    """A clause read for its modality: obligation, prohibition, not_required, permission or replacement."""

    kind: str | None
    text: str
    terms: set[str]
    target: set[str] = field(default_factory=set)  # replacement: what is replaced


def clauses(text: str) -> list[str]:
    """Clauses of ``text``: its sentences split at semicolons and at colons — except after a short label
    ("Cumul APA et aide ménagère : autorisé…"), which is the clause's subject."""
    out = []
    for sentence in split_sentences(text):
        for part in re.split(r"\s*;\s*", sentence):
            pieces = re.split(r"\s*:\s+", part)
            merged = [pieces[0]]
            for piece in pieces[1:]:
                if len(merged[-1].split()) <= 8:
                    merged[-1] = f"{merged[-1]} : {piece}"
                else:
                    merged.append(piece)
            out += [c.strip(" -•\t") for c in merged if len(c.strip()) > 3]
    return out


def _terms(text: str) -> set[str]:
    return {t for t in terms(text) if t not in _GENERIC and not t.isdigit() and not t.startswith("§")}


@lru_cache(maxsize=64)
def _cached_terms(text: str) -> frozenset[str]:
    return frozenset(_terms(text))


def statements(text: str) -> list[Statement]:
    out = []
    for clause in clauses(text):
        folded = fold(clause)
        kind, target = _modality(folded)
        out.append(Statement(kind, clause, _terms(clause), _terms(target) if target else set()))
    return out


def _modality(folded: str) -> tuple[str | None, str]:
    if _NEG_REPLACE_RE.search(folded):
        return "prohibition", ""
    m = _REPLACE_RE.search(folded)
    if m:
        if m.group(0).startswith(("a la place", "au lieu", "en remplacement")):
            target = " ".join(folded[m.end():].split()[:5])
        else:
            target = folded[:m.start()].split(",")[-1]
        return "replacement", target
    if _NOT_REQUIRED_RE.search(folded):
        return "not_required", ""
    if _PROHIBITION_RE.search(folded):
        return "prohibition", ""
    if _OBLIGATION_RE.search(folded):
        return "obligation", ""
    if _PERMISSION_RE.search(folded):
        return "permission", ""
    return None, ""


# --- findings -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Finding:
    status: str  # conforme | divergent | contraire
    note: str  # what differs, quoting the words in cause
    reason: str = ""  # one line: the values or words compared


@dataclass(frozen=True)
class Assessment:
    status: str
    note: str
    reason: str
    findings: tuple[Finding, ...] = ()


def _quote(text: str, limit: int = 140) -> str:
    text = " ".join(text.split()).rstrip(" .;:")
    return "« " + (text if len(text) <= limit else text[: limit - 1].rstrip() + "…") + " »"


def _short(text: str, limit: int = 70) -> str:
    return _quote(text, limit)


def _display(q: Quantity) -> str:
    return re.sub(r"\s*(?:\bpar\b|/)\s*", "/", q.text) if q.kind == "montant" else q.text


def _specific(q: Quantity, topic: frozenset[str]) -> frozenset[str]:
    """The concepts that tell this figure apart within the row (the row's topic and weak concepts left out)."""
    return q.subject - topic - _WEAK_CONCEPTS


def _compare_quantities(national: list[Quantity], local: list[Quantity], context: list[Quantity], topic: frozenset[str],
                        national_concepts: frozenset[str], delegated: frozenset[str]) -> list[Finding]:
    """National figures against local ones of the same kind, base and subject; ``context``: every figure of the
    national passages around the rule (a local figure found there restates the national texts)."""
    findings: list[Finding] = []
    used: set[int] = set()
    matched: list[Quantity] = []
    for n in national:
        candidates = [(i, q) for i, q in enumerate(local) if q.comparable(n)]
        equal = [i for i, q in candidates if q.equals(n)]
        if equal:
            used.update(equal)
            matched.append(n)
            continue
        # A figure added on top of the rule ("y ajoute 300 €") does not replace the national one.
        pairable = [(i, q) for i, q in candidates if i not in used and not q.additive
                    and _specific(q, topic) == _specific(n, topic) and _same_order(n, q)
                    and (n.kind != "duree" or q.context & n.context)]
        if not pairable:
            continue
        i, q = min(pairable, key=lambda c: abs(math.log(max(c[1].value, 1e-6) / max(n.value, 1e-6))))
        used.add(i)
        findings.append(_direction(n, q))
    known_stages = (national_concepts | topic) & _STAGES
    # Without a row topic (a free question), a figure's subject is less certain: only prices, frequencies and
    # payment days count as local choices, as they rarely restate the law.
    choices = _LOCAL_CHOICES if topic else _LOCAL_FIGURES
    restated_kinds = {n.kind for n in matched}
    extras: dict[str, list[Quantity]] = {}
    for i, q in enumerate(local):
        if i in used or q.approx or _restated(q, [*national, *context], topic):
            continue
        if q.kind not in choices and not (q.kind in restated_kinds and q.kind in _LOCAL_CHOICES):
            continue  # a local value next to the restated national one is a local target, topic or not
        if any(n.kind == q.kind for n in matched) and not any(_same_order(n, q) for n in matched if n.kind == q.kind):
            continue  # "23,50 € par heure" restated: a plafond of 1 195,67 € is another thing, not an extra tariff
        if q.kind in ("heures", "frequence") and not q.base:
            continue  # hours of a table ("GIR 4 | 33 heures"): derived from a tariff, not a local rule
        specific = _specific(q, topic)
        if (specific & _STAGES) - known_stages or (specific and specific <= delegated):
            continue  # another stage of the procedure (another article), or a figure the rule leaves to each département
        extras.setdefault(q.kind, []).append(q)
    for kind, values in sorted(extras.items()):
        label, adjective = _LABELS[kind], "locale" if kind in _FEMININE else "local"
        shown = ", ".join(dict.fromkeys(_display(q) for q in values))
        reference = [n for n in matched if n.kind == kind]
        if reference:
            note = f"{label} {adjective} supplémentaire {shown}, en plus de la valeur nationale reprise ({_display(reference[0])})"
            reason = f"{shown} en plus de {_display(reference[0])}"
        else:
            note = f"{label} {adjective} {shown}, non chiffré{'e' if kind in _FEMININE else ''} dans la règle nationale"
            reason = f"{label} {adjective} {shown} (non chiffré{'e' if kind in _FEMININE else ''} au national)"
        findings.append(Finding("divergent", note, reason))
    return findings


def _same_order(national: Quantity, local: Quantity) -> bool:
    """Figures of different orders of magnitude are not the same thing, unless both state their base
    ("par heure", "par mois")."""
    if national.base and local.base:
        return True
    low, high = sorted((abs(national.value), abs(local.value)))
    return high <= 4 * max(low, 1e-9)


def _restated(q: Quantity, context: list[Quantity], topic: frozenset[str]) -> bool:
    """The national texts state the same value, of the same family and base, about the same thing or about the
    row's topic in general (not about something narrower: a national "15 jours" for urgent cases does not
    restate a local "15 jours" for every visit)."""
    return any(_FAMILY[c.kind] == _FAMILY[q.kind] and c.base == q.base and c.equals(q)
               and _specific(c, topic) <= _specific(q, topic) for c in context)


def _direction(national: Quantity, local: Quantity) -> Finding:
    kind = national.kind
    label, adjective = _LABELS[kind], "locale" if kind in _FEMININE else "local"
    favourable = national.favourable if national.favourable is not None else _FAVOURABLE[kind]
    value = local.worst(favourable)
    sign = ">" if value > national.value else "<"
    text = f"{label} {adjective} {_display(local)} {sign} {label} national{'e' if kind in _FEMININE else ''} {_display(national)}"
    reason = f"{_display(local)} contre {_display(national)}"
    if favourable is None:
        return Finding("divergent", text, reason)
    better = (value < national.value) == (favourable == "lower")
    if value == national.value or better:
        return Finding("divergent", text + " (plus favorable)", reason + " (plus favorable)")
    if local.approx or national.approx:
        return Finding("divergent", text + " (valeur approximative, à vérifier)", reason + " (approximatif)")
    return Finding("contraire", text + " (moins favorable que la règle nationale)", reason + " (moins favorable)")


# Local clause kind → (national clause kinds it contradicts on the same object, note, reason).
_MODAL_CONFLICTS = {
    "replacement": (("obligation", "prohibition"),
                    "étape nationale obligatoire remplacée localement : {local} alors que la règle nationale prévoit {national}",
                    "étape obligatoire remplacée : {short}"),
    "not_required": (("obligation",), "obligation nationale rendue facultative : {local} alors que la règle nationale prévoit {national}",
                     "obligation rendue facultative : {short}"),
    "obligation": (("not_required",), "exigence locale que la règle nationale exclut : {local} alors que {national}",
                   "exigence que la règle exclut : {short}"),
}


def _compare_statements(national: list[Statement], local: list[Statement], national_text: str) -> list[Finding]:
    findings: list[Finding] = []
    nat_modal = [s for s in national if s.kind]
    local_prohibited = set().union(*[s.terms for s in local if s.kind == "prohibition"]) if local else set()
    for s in local:
        if s.kind in _MODAL_CONFLICTS:
            national_kinds, template, reason = _MODAL_CONFLICTS[s.kind]
            words = s.target if s.kind == "replacement" else s.terms
            needed = min(2, len(words)) if s.kind == "replacement" else 2
            conflicting = next((n for n in nat_modal if words and n.kind in national_kinds and len(words & n.terms) >= needed), None)
            if conflicting:
                findings.append(Finding("contraire", template.format(local=_quote(s.text), national=_quote(conflicting.text)),
                                        reason.format(short=_short(s.text))))
        elif s.kind == "permission":
            granted = max((len(s.terms & n.terms) for n in nat_modal if n.kind == "permission"), default=0)
            for n in sorted(nat_modal, key=lambda n: len(s.terms & n.terms), reverse=True):
                shared = s.terms & n.terms
                # Same object (one item of the national list against one item of the local one), unless the
                # national text grants the same possibility or the local text itself restates the prohibition.
                if (n.kind == "prohibition" and len(shared) > granted and shared - local_prohibited
                        and _same_object(s.text, n.text)):
                    findings.append(Finding("contraire", f"possibilité locale que la règle nationale exclut : {_quote(s.text)} "
                                                         f"alors que {_quote(n.text)}",
                                            f"possibilité que la règle exclut : {_short(s.text)}"))
                    break
        findings += _removal(s, national)
        findings += _gir_restriction(s, national_text)
    return findings


_LIST_SPLIT_RE = re.compile(r",|\(|\)|\bni\b|\bou\b|\bet\b")


def _objects(clause: str, pattern: re.Pattern) -> list[set[str]]:
    """What a clause allows or excludes: for a cumulation, each item of the list after the modal words;
    otherwise the whole clause."""
    folded = fold(clause)
    m = pattern.search(folded)
    if m and re.search(r"cumul|simultan|en meme temps|exclu|incompatible", folded):
        items = [_terms(part) - {"cumul"} for part in _LIST_SPLIT_RE.split(folded[m.end():])]
        return [i for i in items if i]
    return [_terms(clause)]


def _same_object(permission: str, prohibition: str) -> bool:
    for excluded in _objects(prohibition, _PROHIBITION_RE):
        for allowed in _objects(permission, _PERMISSION_RE):
            shared = allowed & excluded
            if len(shared) >= 2 and len(shared) >= 0.5 * len(excluded):
                return True
    return False


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]{4,}", fold(text)) if w not in STOP_WORDS and w not in _GENERIC_WORDS}


def _shares_word(a: set[str], b: set[str]) -> bool:
    """A word in common, inflections aside ("aidant"/"aidants"), without stemming collisions ("répit"/"repas")."""
    return any(x[:5] == y[:5] and (len(x) >= 5 or x == y) for x in a for y in b)


def _removal(s: Statement, national: list[Statement]) -> list[Finding]:
    """"sans X" where X is something a positive national clause grants."""
    out = []
    folded = fold(s.text)
    for m in _REMOVAL_RE.finditer(folded):
        if m.start() == 0 or not folded[:m.start()].strip(" ,"):
            continue  # "Sans décision dans ce délai, …": a condition, not a removal
        words = []
        for word in m.group("obj").split():
            if word in _STOP_OBJECT:
                break
            words.append(word)
        obj = _terms(" ".join(words))
        if not obj or obj & _RELAXATIONS:
            continue
        for n in national:
            if obj <= n.terms and not _NEGATED_RE.search(fold(n.text)):
                out.append(Finding("contraire", f"droit national supprimé localement : {_quote(s.text)} alors que la règle "
                                                f"nationale prévoit {_quote(n.text)}",
                                   f"droit supprimé : {_short(m.group(0))}"))
                break
    return out


def _gir_levels(text: str) -> set[int]:
    levels: set[int] = set()
    for m in _GIR_RE.finditer(text):
        spec = m.group("levels")
        numbers = [int(d) for d in re.findall(r"[1-6]", spec)]
        if len(numbers) == 2 and re.search(r"\d\s*(?:a|-)\s*\d", spec):
            levels |= set(range(numbers[0], numbers[1] + 1))
        else:
            levels |= set(numbers)
    return levels


def _gir_restriction(s: Statement, national_text: str) -> list[Finding]:
    """A right of the national text reserved locally to some GIR levels."""
    folded = fold(s.text)
    m = _RESTRICT_RE.search(folded)
    if not m:
        return []
    local = _gir_levels(folded[m.end():])
    if not local:
        return []
    subject = re.split(r",|\bqui\b|\bque\b|\bdont\b", folded[:m.start()])[0]
    if not _shares_word(_words(subject), _words(national_text)):
        return []
    eligible = set()
    for clause in clauses(national_text):
        c = fold(clause)
        if "sans condition de gir" in c:
            eligible = set(range(1, 7))
            break
        if re.search(r"\b(?:classe\w*|evalue\w*|relev\w*|reserve\w*|attribue\w*)\b", c):
            eligible |= _gir_levels(c)
    if eligible and not local < eligible:
        return []
    if eligible == set(range(1, 7)):
        reference = "sans condition de GIR"
    elif eligible:
        reference = "GIR " + ", ".join(map(str, sorted(eligible)))
    else:
        reference = "aucune restriction de GIR"
    levels = ", ".join(map(str, sorted(local)))
    return [Finding("contraire", f"droit national restreint localement aux GIR {levels} : "
                                 f"{_quote(s.text)} (règle nationale : {reference})",
                    f"réservé aux GIR {levels} (national : {reference})")]


# A mandatory in-person step done remotely.
_IN_PERSON_RE = re.compile(r"\bvisite\w*\s+(?:a|au)\s+domicile\b[^.;]{0,60}\bobligatoire|\bobligatoire\w*\s+au domicile"
                           r"|\bse rend\w*\s+obligatoirement\s+au domicile|\bne\s+peut\s+etre\s+remplace\w*\s+par\s+un\s+entretien"
                           r"\s+telephonique")
_REMOTE_RE = re.compile(r"\b(?:visioconference|videoconference|visio|telephon\w*|a distance|sur pieces|sans deplacement"
                        r"|sans (?:se )?rendre|sans visite|par courrier|par questionnaire|questionnaire\s+(?:ecrit|en ligne)"
                        r"|(?P<place>dans (?:les|nos|ses) locaux|au siege|en agence|a l'agence|au bureau|en permanence|au guichet))\b")
_OPTION_RE = re.compile(r"\b(?:peut|peuvent|pourra|possible\w*|au choix|a (?:sa|leur|la) demande|si (?:elle|il|la personne) le)\b")
_ASSESSMENT_RE = re.compile(r"\b(?:evaluat\w*|entretien|visite|bilan|reevaluat\w*|renouvel\w*|revision)\b")
_REMOTE_DENIED_RE = re.compile(r"\baucune?\b|\bni\b|\bpas\b|\bne\s+(?:la|le|l')?\s*remplace|\bne\s+peut|\bjamais\b|\bprepar\w*|\bconfirm\w*|\bfix\w*\s+par\s+telephone"
                               r"|\bsans\s+substitution|\bn'est\s+pas\s+possible|\bexclu\w*|\binterdit\w*|\bprendre rendez-vous")


def _remote_assessment(practice: str, national_text: str) -> list[Finding]:
    if not _IN_PERSON_RE.search(fold(national_text)):
        return []
    for clause in clauses(practice):
        folded = fold(clause)
        remote = _REMOTE_RE.search(folded)
        # The denial must govern the remote mode: look in its own comma-separated segment only
        # ("si votre situation n'a pas changé, l'entretien se tient en visioconférence" is not denied).
        segment = remote and folded[folded.rfind(",", 0, remote.start()) + 1:(folded.find(",", remote.end()) + 1 or len(folded) + 1) - 1]
        if remote and remote.group("place") and not _OPTION_RE.search(segment):
            continue  # "la visite a lieu au lieu de vie ou dans les locaux de l'organisme de domiciliation": no home to visit
        if remote and _ASSESSMENT_RE.search(folded) and not _REMOTE_DENIED_RE.search(segment):
            return [Finding("contraire", f"évaluation à distance ou hors du domicile alors que la règle nationale impose la "
                                         f"visite à domicile : {_quote(clause)}",
                            f"évaluation « {remote.group(0)} » au lieu de la visite à domicile")]
    return []


# A closed national list of pieces against a local mandatory piece outside it.
_CLOSED_LIST_RE = re.compile(r"\baucune?\s+autres?\s+(?:pieces?|documents?|justificatifs?)|\bseules?\s+les\s+pieces"
                             r"|\bliste\s+(?:limitative|exhaustive)|\bexclusivement\s+les\s+pieces")
_PIECE_RE = re.compile(r"\b(?:attestation|certificat|justificatif|copie|releve|photo\w*|document|bulletin|facture|avis|"
                       r"compte rendu|rapport|questionnaire|formulaire)s?\b")
_REQUIRED_RE = re.compile(r"\bobligatoire\w*|\b(?:doit|doivent)\b|\b(?:est|sont)\s+(?:exige|requis)\w*|\bexige\b|\bindispensable"
                          r"|\bjoignez\b|\b(?:reste|est|sera|serait)\s+(?:considere\s+comme\s+)?incomplet|\bne\s+(?:peut|pourra)\s+"
                          r"(?:pas\s+)?(?:etre\s+)?instruit|\bconditionne\w*\s+(?:la\s+)?completude")
_NOT_REQUIRED_LOCAL_RE = re.compile(r"\bn'est\s+pas|\bne\s+sont\s+pas|\bnon\s+obligatoire|\bfacultati\w*|\bne\s+rend\w*\s+pas"
                                    r"|\bsans\s+conditionner|\baucun\w*|\bpas\s+(?:exige|requis|obligatoire)|\binvit\w*|\bpeut\b"
                                    r"|\bpeuvent\b|\bsi\s+(?:vous|il|elle)\s+le\s+souhait\w*")
_LIST_WORDS = set(terms("pièce pièces suivantes suivant justificatives justificatif liste ci-dessous dossier demande complet "
                        "formulaire accompagnée accompagné accompagner joindre joint jointe copie"))


def _closed_list(practice: str, national_text: str, national_terms: set[str]) -> list[Finding]:
    if not _CLOSED_LIST_RE.search(fold(national_text)):
        return []
    for clause in clauses(practice):
        folded = fold(clause)
        piece = _PIECE_RE.search(folded)
        if not piece or not _REQUIRED_RE.search(folded) or _NOT_REQUIRED_LOCAL_RE.search(folded):
            continue
        item = " ".join(folded[piece.start():].split()[:8])
        novel = _terms(item) - national_terms - _LIST_WORDS
        if novel:
            return [Finding("contraire", f"pièce exigée hors de la liste nationale, qui est limitative : {_quote(clause)}",
                            f"pièce ajoutée à une liste nationale fermée : {_short(item, 60)}")]
    return []


# Another appeal authority than the national one.
_AUTHORITIES = {"president": r"\bpresident\b", "tribunal": r"\btribunal\b|\bjuridiction administrative",
                "commission": r"\bcommission\b", "mediateur": r"\bmediat\w*", "cour": r"\bcour\b", "juge": r"\bjuge\b"}


def _authorities(text: str) -> set[str]:
    found: set[str] = set()
    for clause in clauses(text):
        folded = fold(clause)
        if _APPEAL_RE.search(folded):
            found |= {name for name, pattern in _AUTHORITIES.items() if re.search(pattern, folded)}
    return found


def _extra_appeal_body(practice: str, national_context: str) -> list[Finding]:
    """A local appeal or mediation body the national texts never name, next to the national route: an
    additional route (``divergent``)."""
    national, local = _authorities(national_context), _authorities(practice)
    extra = local - national
    if national & local and extra:
        return [Finding("divergent", f"voie de recours ou de médiation locale en plus de la voie nationale : {', '.join(sorted(extra))}",
                        f"{', '.join(sorted(extra))} en plus de la voie nationale")]
    return []


def _appeal_authority(practice: str, national_text: str) -> list[Finding]:
    national, local = _authorities(national_text), _authorities(practice)
    mandatory = re.compile(r"\brapo\b|\brecours administratif prealable")
    if mandatory.search(fold(national_text)) and mandatory.search(fold(practice)):
        return []  # the national mandatory appeal is restated: a local body examining it is an organisation choice
    if national and local and not national & local:
        return [Finding("contraire", f"voie de recours locale ({', '.join(sorted(local))}) différente de la voie nationale "
                                     f"({', '.join(sorted(national))})",
                        f"recours devant : {', '.join(sorted(local))} (national : {', '.join(sorted(national))})")]
    return []


# An exception added locally to an unconditional national obligation or prohibition.
_EXCEPTION_RE = re.compile(r"\bsauf\b|\ba l'exception\b|\bexcepte\b|\bhormis\b|\bhors\s+(?:le|la|les)\s+cas\b")


def _added_exception(national: list[Statement], local: list[Statement], national_text: str) -> list[Finding]:
    if _EXCEPTION_RE.search(fold(national_text)):
        return []
    for s in local:
        folded = fold(s.text)
        m = _EXCEPTION_RE.search(folded)
        if not m or s.kind not in ("obligation", "prohibition", "permission"):
            continue
        head = _terms(folded[:m.start()])
        rule = next((n for n in national if n.kind in ("obligation", "prohibition") and len(head & n.terms) >= 2), None)
        if rule:
            return [Finding("contraire", f"exception locale à une règle nationale sans exception : {_quote(s.text)} "
                                         f"alors que {_quote(rule.text)}", f"exception ajoutée : {_short(folded[m.start():], 60)}")]
    return []


_LOCAL_CUES = [
    (re.compile(r"\b(?:objectif|cible|interne|s'engage\w*|s'est fixe\w*)\b"), "objectif ou organisation interne"),
    (re.compile(r"\b(?:en plus|en complement|complementaire\w*|supplementaire\w*|y ajoute\w*|s'ajoute\w*|en sus|en outre)\b"),
     "élément supplémentaire"),
    (re.compile(r"\b(?:service|dispositif|fonds|cellule|programme)\s+(?:public\s+)?(?:departemental\w*|local\w*)|\bfonds\b"
                r"|\bson propre\s+(?:service|dispositif)"), "dispositif propre au territoire"),
    (re.compile(r"\bderogat\w*|\ba titre exceptionnel|\bpar exception"), "dérogation locale"),
    (re.compile(r"\bpar defaut\b"), "modalité locale par défaut"),
    (re.compile(r"\bgratuit\w*|\bsans frais\b|\ba titre gracieux|\bgracieusement"), "gratuité locale"),
]
_NEGATED_OFFER_RE = re.compile(r"\b(?:pas|aucun\w*|ni|sans)\s+(?:de\s+|d')?(?:service|dispositif|fonds|cellule|programme)\b"
                               r"|\bne\s+(?:gere|dispose|propose|finance)\w*\s+pas")
# The département providing something: a service, funding, a control, a visit.
_OFFER_RE = re.compile(
    r"\b(?:le departement|la collectivite|le conseil departemental|nous)\s+(?:\w+\s+){0,2}?"
    r"(?:finance\w*|prend\w*\s+(?:aussi\s+|egalement\s+)?(?:en|a sa)\s+charge|met\w*\s+a\s+(?:votre\s+|la\s+|leur\s+)?disposition"
    r"|propose\w*|offre\w*|organise\w*|rembourse\w*|alloue\w*)\b"
    r"|\b(?:recoi\w*|beneficie\w*)\s+(?:aussi\s+|egalement\s+|en outre\s+)?(?:une\s+fois\s+par\s+\w+\s+)?(?:la|une|d'une)\s+visite")
_NAMED_SCHEME_RE = re.compile(r"«\s*([^»]{3,60})\s*»")


def _local_cues(practice: str, national: str, national_terms: set[str]) -> list[Finding]:
    national_folded = fold(national)
    findings = []
    for clause in clauses(practice):
        folded = fold(clause)
        for pattern, label in _LOCAL_CUES:
            m = pattern.search(folded)
            if not m or pattern.search(national_folded):
                continue  # the national text uses the same words: a restatement
            if label == "dispositif propre au territoire" and _NEGATED_OFFER_RE.search(folded):
                continue
            findings.append(Finding("divergent", f"{label} : {_quote(clause)}", f"{label} : {_short(clause)}"))
            break
        else:
            offer = _OFFER_RE.search(folded)
            named = next((n for n in _NAMED_SCHEME_RE.findall(clause) if fold(n).strip() not in national_folded
                          and any(ch.isupper() or ch.isdigit() for ch in n)), None)
            novel = _terms(clause) - national_terms
            if named or (offer and not _NEGATED_OFFER_RE.search(folded) and len(novel) >= 2):
                label = f"dispositif « {named.strip()} »" if named else "offre ou contrôle propre au territoire"
                findings.append(Finding("divergent", f"{label} : {_quote(clause)}", f"{label} : {_short(clause)}"))
    return findings


def findings(national: str, practice: str, national_context: str = "", topic: str = "") -> list[Finding]:
    """Every difference the rules see between the national rule's sentences and the territorial ones;
    ``national_context`` (the national passages around the rule) tells restated national figures and words
    from local ones; ``topic`` (the row's label) names what every figure of the row is about, so that only
    the other concepts of a figure's clause tell it apart."""
    context = f"{national} {national_context}"
    topic = concepts(topic) if topic else frozenset()
    national_terms = _cached_terms(context)
    nat_statements, loc_statements = statements(national), statements(practice)
    delegated = frozenset().union(*[concepts(c) for c in clauses(national)
                                    if re.search(r"\bfixe\w*\s+par\s+(?:chaque|le|les)\s+(?:departement|president)"
                                                 r"|\bdetermine\w*\s+par\s+(?:chaque|le)\s+departement|\blibrement\b", fold(c))])
    out = _compare_quantities(extract_quantities(national), extract_quantities(practice),
                              extract_quantities(national_context), topic, concepts(national), delegated)
    out += _compare_statements(nat_statements, loc_statements, national)
    out += _remote_assessment(practice, national)
    out += _closed_list(practice, national, national_terms)
    out += _appeal_authority(practice, national)
    out += _extra_appeal_body(practice, context)
    out += _added_exception(nat_statements, loc_statements, national)
    out += _local_cues(practice, context, national_terms)
    return out


def assess(national: str, practice: str, national_context: str = "", topic: str = "") -> Assessment:
    """Status, note and one-line reason of a territory's practice against the national rule (rules of the
    module docstring). ``national``: the rule's text; ``national_context``: the national passages around it;
    ``topic``: the point compared, in a few words (a référentiel row's label)."""
    if not practice.strip():
        return Assessment("non_trouve", NOT_FOUND_NOTE, "aucun passage du territoire sur ce point")
    found = findings(national, practice, national_context, topic)
    prefix = "" if national.strip() else "Règle nationale non trouvée : comparaison limitée au texte local. "
    if not found:
        same = [q for q in extract_quantities(practice) if any(q.comparable(n) and q.equals(n) for n in extract_quantities(national))]
        reason = ("mêmes valeurs : " + ", ".join(dict.fromkeys(_display(q) for q in same[:3]))) if same else \
            "reprend la règle nationale"
        return Assessment("conforme", prefix + "Le texte local reprend la règle nationale : aucun écart de délai, de montant "
                                               "ou d'obligation détecté.", reason)
    status = max((f.status for f in found), key=_RANK.__getitem__)
    kept = [f for f in found if f.status == status]
    notes = list(dict.fromkeys(f.note for f in kept))
    note = " ; ".join(notes[:3]) + (f" ; et {len(notes) - 3} autre(s) écart(s)" if len(notes) > 3 else "")
    reason = " ; ".join(dict.fromkeys(f.reason or f.note for f in kept[:2]))
    return Assessment(status, prefix + note[0].upper() + note[1:] + ".", reason[0].upper() + reason[1:], tuple(found))
