"""Personal data masking before a question reaches the LLM or a log."""

from __future__ import annotations

import re
from dataclasses import dataclass

_MONTHS = "janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre|décembre|decembre"
# Order matters: the most specific patterns first (a NIR contains digits a phone pattern would eat).
PATTERNS: list[tuple[str, str, re.Pattern[str]]] = [
    ("email", "[courriel masqué]", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    ("iban", "[IBAN masqué]", re.compile(r"\bFR\d{2}(?:\s?[0-9A-Z]{4}){5}\s?[0-9A-Z]{3}\b", re.IGNORECASE)),
    ("nir", "[n° de sécurité sociale masqué]",
     re.compile(r"\b[12]\s?\d{2}\s?(?:0[1-9]|1[0-2]|[2-9]\d)\s?(?:\d{2}|2[AB])\s?\d{3}\s?\d{3}(?:\s?\d{2})?\b", re.IGNORECASE)),
    ("telephone", "[téléphone masqué]", re.compile(r"(?<!\d)(?:\+33\s?|0033\s?|0)[1-9](?:[\s.-]?\d{2}){4}(?!\d)")),
    ("date_naissance", "[date de naissance masquée]", re.compile(
        rf"\b(?:né|née|nés|nées|date de naissance\s*:?)\s*(?:le\s+)?(?:\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}}|\d{{1,2}}(?:er)?\s+(?:{_MONTHS})\s+\d{{4}})",
        re.IGNORECASE)),
    ("adresse", "[adresse masquée]", re.compile(
        r"\b\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?:rue|avenue|av\.|boulevard|bd|chemin|allée|allee|place|impasse|route|quai|cours|square|résidence|lotissement)"
        r"\s+[\w'’ -]{2,40}?(?=[,.;\n]|\s+\d{5}|$)", re.IGNORECASE)),
    ("code_postal_ville", "[commune masquée]", re.compile(r"\b\d{5}\s+[A-ZÉÈ][\w'’-]+(?:[\s-][A-ZÉÈ][\w'’-]+)*")),
    ("nom", "[nom masqué]", re.compile(
        r"\b(?:M\.|Mme|Mlle|Monsieur|Madame|Mademoiselle|Dr|Docteur)\s+(?:[A-ZÉÈ][\w'’-]+)(?:\s+[A-ZÉÈ][\w'’-]+)?")),
]


@dataclass(frozen=True)
class MaskedText:
    text: str
    kinds: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return bool(self.kinds)


def mask_personal_data(text: str) -> MaskedText:
    kinds: list[str] = []
    for kind, replacement, pattern in PATTERNS:
        text, count = pattern.subn(replacement, text)
        if count:
            kinds.append(kind)
    return MaskedText(text, tuple(kinds))


_PLACEHOLDER_RE = re.compile("|".join(re.escape(replacement) for _, replacement, _ in PATTERNS))
_CLAUSE_END_RE = re.compile(r"(?<=[,;:.!?])\s+")


def without_placeholders(text: str) -> str:
    """What a search should look for in a masked question: the clauses that carry personal data are left out
    (« Mon NIR est [n° de sécurité sociale masqué], quel est le délai ? » → « quel est le délai ? »), and
    any placeholder left; ``text`` itself when nothing would remain."""
    clauses = _CLAUSE_END_RE.split(text)
    kept = [c for c in clauses if not _PLACEHOLDER_RE.search(c)] if len(clauses) > 1 else clauses
    stripped = " ".join(_PLACEHOLDER_RE.sub(" ", " ".join(kept or clauses)).split())
    return stripped if any(ch.isalnum() for ch in stripped) else text


KIND_LABELS = {
    "email": "adresse électronique", "iban": "IBAN", "nir": "numéro de sécurité sociale", "telephone": "numéro de téléphone",
    "date_naissance": "date de naissance", "adresse": "adresse postale", "code_postal_ville": "code postal et commune",
    "nom": "nom de personne",
}
