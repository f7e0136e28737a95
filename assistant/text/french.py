"""French text analysis shared by indexing and querying: folding, tokens, stems, article references."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import Stemmer

# Snowball's French stop words plus elided forms, written without accents (matching is on folded text).
STOP_WORDS: frozenset[str] = frozenset(
    """
    au aux avec ce ces dans de des du elle en et eux il ils je la le les leur lui ma mais me meme mes
    moi mon ne nos notre nous on ou par pas pour qu que qui sa se ses son sur ta te tes toi ton tu un
    une vos votre vous c d j l a m n s t y ete etee etees etes etant suis es est sommes sont serai
    seras sera serons serez seront serais serait serions seriez seraient etais etait etions etiez
    etaient fus fut fumes futes furent sois soit soyons soyez soient fusse fusses fut fussions
    fussiez fussent ayant eu eue eues eus ai as avons avez ont aurai auras aura aurons aurez auront
    aurais aurait aurions auriez auraient avais avait avions aviez avaient eut eumes eutes eurent
    aie aies ait ayons ayez aient eusse eusses eussions eussiez eussent ceci cela celle celles celui
    ceux cet cette ici ils leurs quel quelle quelles quels sans soi donc or ni car comment quand
    quoi dont peut doit faut tout tous toute toutes est-ce qu-est-ce
    """.split()
)

_WORD_RE = re.compile(r"[^\W_]+")
# "Article L. 232-1", "art. R232-7", "L232-1", "D. 245-4", "Annexe 2-5": a code letter then a dashed number.
ARTICLE_REF_RE = re.compile(r"\b([LRDA])\s?\.?\s?(\d{1,4}(?:-\d{1,4})+)\b")
ANNEX_REF_RE = re.compile(r"\bannexe\s+(\d{1,2}(?:-\d{1,2})+)\b", re.IGNORECASE)
# Lookbehinds for a sentence-end pattern: a period ends no sentence after a lone capital (« article L. 312-1 »,
# « M. Martin ») or « art. », « al. », « cf. ».
NOT_AFTER_ABBREVIATION = r"(?<!\b[A-Z]\.)(?<!\bart\.)(?<!\bArt\.)(?<!\bal\.)(?<!\bcf\.)"

_stemmer = Stemmer.Stemmer("french")


def fold(text: str) -> str:
    """Lower-case, strip diacritics and normalise apostrophes (``Âgée`` → ``agee``)."""
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("’", "'").replace("œ", "oe"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return _stemmer.stemWord(word)


def article_refs(text: str) -> list[str]:
    """Normalised article/annex references, e.g. ``["l232-1", "annexe2-5"]``."""
    refs = [f"{m.group(1).lower()}{m.group(2)}" for m in ARTICLE_REF_RE.finditer(text)]
    refs += [f"annexe{m.group(1)}" for m in ANNEX_REF_RE.finditer(text)]
    return refs


def terms(text: str) -> list[str]:
    """Index terms: stems of non-stop-words, plus one term per article reference."""
    lowered = text.lower().replace("’", "'").replace("œ", "oe")
    out = []
    for word in _WORD_RE.findall(lowered):
        folded = fold(word)
        if folded not in STOP_WORDS:
            out.append(fold(stem(word)))
    out += ["§" + ref for ref in article_refs(text)]
    return out
