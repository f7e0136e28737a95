"""French départements: codes, names, and their detection in a question."""

from __future__ import annotations

import re

from assistant.text.french import fold

DEPARTEMENTS: dict[str, str] = {
    "01": "Ain", "02": "Aisne", "03": "Allier", "04": "Alpes-de-Haute-Provence", "05": "Hautes-Alpes",
    "06": "Alpes-Maritimes", "07": "Ardèche", "08": "Ardennes", "09": "Ariège", "10": "Aube", "11": "Aude",
    "12": "Aveyron", "13": "Bouches-du-Rhône", "14": "Calvados", "15": "Cantal", "16": "Charente",
    "17": "Charente-Maritime", "18": "Cher", "19": "Corrèze", "2A": "Corse-du-Sud", "2B": "Haute-Corse",
    "21": "Côte-d'Or", "22": "Côtes-d'Armor", "23": "Creuse", "24": "Dordogne", "25": "Doubs", "26": "Drôme",
    "27": "Eure", "28": "Eure-et-Loir", "29": "Finistère", "30": "Gard", "31": "Haute-Garonne", "32": "Gers",
    "33": "Gironde", "34": "Hérault", "35": "Ille-et-Vilaine", "36": "Indre", "37": "Indre-et-Loire",
    "38": "Isère", "39": "Jura", "40": "Landes", "41": "Loir-et-Cher", "42": "Loire", "43": "Haute-Loire",
    "44": "Loire-Atlantique", "45": "Loiret", "46": "Lot", "47": "Lot-et-Garonne", "48": "Lozère",
    "49": "Maine-et-Loire", "50": "Manche", "51": "Marne", "52": "Haute-Marne", "53": "Mayenne",
    "54": "Meurthe-et-Moselle", "55": "Meuse", "56": "Morbihan", "57": "Moselle", "58": "Nièvre", "59": "Nord",
    "60": "Oise", "61": "Orne", "62": "Pas-de-Calais", "63": "Puy-de-Dôme", "64": "Pyrénées-Atlantiques",
    "65": "Hautes-Pyrénées", "66": "Pyrénées-Orientales", "67": "Bas-Rhin", "68": "Haut-Rhin", "69": "Rhône",
    "70": "Haute-Saône", "71": "Saône-et-Loire", "72": "Sarthe", "73": "Savoie", "74": "Haute-Savoie",
    "75": "Paris", "76": "Seine-Maritime", "77": "Seine-et-Marne", "78": "Yvelines", "79": "Deux-Sèvres",
    "80": "Somme", "81": "Tarn", "82": "Tarn-et-Garonne", "83": "Var", "84": "Vaucluse", "85": "Vendée",
    "86": "Vienne", "87": "Haute-Vienne", "88": "Vosges", "89": "Yonne", "90": "Territoire de Belfort",
    "91": "Essonne", "92": "Hauts-de-Seine", "93": "Seine-Saint-Denis", "94": "Val-de-Marne", "95": "Val-d'Oise",
    "971": "Guadeloupe", "972": "Martinique", "973": "Guyane", "974": "La Réunion", "976": "Mayotte",
}

# Ain, Allier, Aube, Cher, Creuse, Lot, Manche, Nord, Somme, Var, Vienne, (La) Réunion.
_COMMON_WORD_NAMES = frozenset({"01", "03", "10", "18", "23", "46", "50", "59", "80", "83", "86", "974"})

_NAME_PATTERNS = sorted(
    ((code, re.compile(r"(?<![\w-])" + re.escape(fold(name)).replace(r"\-", r"[\s-]") + r"(?![\w-])"))
     for code, name in DEPARTEMENTS.items()),
    key=lambda item: -len(item[1].pattern),  # "Haute-Loire" before "Loire"
)
# A number counts as a département only next to a word that says so ("département 59", "le 13", "(33)").
_CODE_RE = re.compile(
    r"(?:d[ée]partements?|d[ée]p\.?|cd|conseil d[ée]partemental(?: du| de la| de l')?|dans le|du|le|en)\s+"
    r"((?:\d{2,3}|2[ab])(?:\s*(?:,|et|ou)\s*(?:\d{2,3}|2[ab]))*)\b|\((\d{2,3}|2[ab])\)",
    re.IGNORECASE,
)


def name_of(code: str) -> str:
    return DEPARTEMENTS.get(code.upper(), code)


def territory_label(code: str | None) -> str:
    """How a territory is shown everywhere: « National », « Nord (59) », or an unknown code as it is."""
    if not code or code == "national":
        return "National"
    return f"{name_of(code)} ({code})" if name_of(code) != code else code


def normalise_code(code: str) -> str | None:
    code = code.strip().upper()
    if code.isdigit() and len(code) == 1:
        code = "0" + code
    return code if code in DEPARTEMENTS else None


def _mentions(text: str) -> list[tuple[int, int, str]]:
    """Where ``text`` names a département: ``(start, end, code)``, by number in context or by name, in order."""
    found: list[tuple[int, int, str]] = []
    for match in _CODE_RE.finditer(text):
        group = match.group(1) or match.group(2)
        found += [(match.start(), match.end(), normal) for code in re.findall(r"\d{2,3}|2[ab]", group, re.IGNORECASE)
                  if (normal := normalise_code(code)) is not None]
    folded = fold(text)
    taken: list[tuple[int, int]] = []
    for code, pattern in _NAME_PATTERNS:
        for match in pattern.finditer(folded):
            if any(start <= match.start() < end for start, end in taken):
                continue
            # "le nord", "une somme", "plus cher", "la réunion": names that are also common words count
            # only with their capital.
            if code in _COMMON_WORD_NAMES and not text[match.start():match.start() + 1].isupper():
                continue
            taken.append((match.start(), match.end()))
            found.append((match.start(), match.end(), code))
    return sorted(found, key=lambda mention: mention[0])


def detect_territories(text: str) -> list[str]:
    """Département codes named in ``text`` (by number in context, or by name), in order of appearance."""
    return list(dict.fromkeys(code for _, _, code in _mentions(text)))


# The words that introduce a département's name (« dans le », « en », « à la »), on folded text, and those that
# join two names of one list (« , », « et », « ou »).
_LEAD_IN = r"(?:\b(?:dans|pour|entre|chez|sur|a)\s+)?(?:\b(?:le|la|les|l'|du|des|de la|de l'|en|au|aux)\s*)?"
_JOINER = r"\s*(?:,|\bet\b|\bou\b)\s*"
_LEAD_IN_RE = re.compile(_LEAD_IN + "$")
_JOINER_RE = re.compile(_JOINER + "$", re.IGNORECASE)
_LIST_GAP_RE = re.compile(_JOINER + _LEAD_IN)  # « dans le Nord, en Gironde et dans le Rhône »


def lists_territories(text: str) -> bool:
    """Whether ``text`` names départements in one list (« dans le Nord, en Gironde et dans le Rhône »): a
    question on each one's practice, not one on two roles (« de la Creuse … en EHPAD dans le Cher »)."""
    mentions = [(start, end) for start, end, _ in _mentions(text)]
    spans = sorted(set(mentions))
    if len(spans) < len(mentions):  # « départements 59 et 13 »: one mention, several codes
        return True
    folded = fold(text)
    return any(_LIST_GAP_RE.fullmatch(folded[end:start]) for (_, end), (start, _) in zip(spans, spans[1:]))


def without_territories(text: str) -> str:
    """``text`` without its départements and the words that name them (« dans le Nord, en Gironde et »): the
    subject a comparison searches in the national texts."""
    out = text
    for start, end in sorted({(start, end) for start, end, _ in _mentions(text)}, reverse=True):
        start = _LEAD_IN_RE.search(fold(out[:start])).start()  # the lead-in may be empty, never missing
        joiner = _JOINER_RE.search(out[:start])
        out = out[:joiner.start() if joiner else start] + out[end:]
    return re.sub(r"\s+([,.])", r"\1", re.sub(r"\s{2,}", " ", out)).strip(" ,:;")
