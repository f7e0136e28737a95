"""Harmonisation: each territory's practice next to the national rule, with a divergence flag."""

from __future__ import annotations

import re

from assistant.answering.sentences import normalise_space
from assistant.answering.territories import name_of

_UNITS = {
    "jour": 1, "jours": 1, "j": 1, "semaine": 7, "semaines": 7, "mois": 30, "an": 365, "ans": 365, "année": 365,
    "années": 365, "heure": 0, "heures": 0, "h": 0,
}
_QUANTITY_RE = re.compile(r"(\d+(?:[,.]\d+)?)\s*(%|€|euros?|jours?|j\b|semaines?|mois|ans?|années?|heures?|h\b)", re.IGNORECASE)
_WORD_NUMBERS = {"un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "huit": 8, "dix": 10,
                 "quinze": 15, "trente": 30, "quarante-cinq": 45, "soixante": 60, "quatre-vingt-dix": 90}
_WORD_QUANTITY_RE = re.compile(r"\b(" + "|".join(sorted(_WORD_NUMBERS, key=len, reverse=True)) + r")\s+(jours?|semaines?|mois|ans?)\b",
                               re.IGNORECASE)
_NEGATION_RE = re.compile(r"\b(?:ne|n')\b[^.]{0,40}\b(?:pas|plus|jamais|aucun)\b|\bsans\b|\bnon\s+cumulable|\bremplac", re.IGNORECASE)


def quantities(text: str) -> dict[str, set[float]]:
    """Durations in days, percentages and euro amounts mentioned in ``text``."""
    found: dict[str, set[float]] = {"duree": set(), "pourcentage": set(), "montant": set(), "heures": set()}
    for value, unit in _QUANTITY_RE.findall(text):
        number = float(value.replace(",", "."))
        unit = unit.lower()
        if unit == "%":
            found["pourcentage"].add(number)
        elif unit.startswith(("€", "euro")):
            found["montant"].add(number)
        elif unit in ("heure", "heures", "h"):
            found["heures"].add(number)
        else:
            found["duree"].add(number * _UNITS[unit])
    for word, unit in _WORD_QUANTITY_RE.findall(text):
        found["duree"].add(_WORD_NUMBERS[word.lower()] * _UNITS[unit.lower()])
    return found


def compare_practice(national: str, practice: str) -> tuple[str, str]:
    """(status, note) of a territory's practice against the national rule, from what the texts state.

    Without an LLM judge, a difference in stated durations/rates is ``divergent`` and the note names the
    values; the product never claims ``contraire`` from surface cues alone.
    """
    if not practice.strip():
        return "non_trouve", "Aucune pratique trouvée dans les documents de ce territoire."
    nat, loc = quantities(national), quantities(practice)
    differences = []
    labels = {"duree": "durées (jours)", "pourcentage": "taux (%)", "montant": "montants (€)", "heures": "heures"}
    for kind in nat:
        if nat[kind] and loc[kind] and not (nat[kind] & loc[kind]):
            differences.append(f"{labels[kind]} : {_fmt(loc[kind])} contre {_fmt(nat[kind])} au niveau national")
    if differences:
        return "divergent", "Valeurs différentes — " + " ; ".join(differences)
    if normalise_space(practice) and _NEGATION_RE.search(practice) and not _NEGATION_RE.search(national):
        return "divergent", "Formulation restrictive ou exception locale à vérifier par rapport à la règle nationale."
    return "conforme", "Aucun écart chiffré détecté avec la règle nationale."


def _fmt(values: set[float]) -> str:
    return ", ".join(f"{v:g}" for v in sorted(values))


def territory_label(code: str) -> str:
    return f"{name_of(code)} ({code})"
