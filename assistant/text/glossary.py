"""The branche Autonomie glossary (acronyms ↔ full wording), used to expand queries."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from assistant.text.french import fold

GLOSSARY_FILE = Path(__file__).with_name("glossary.yaml")


@dataclass(frozen=True)
class GlossaryEntry:
    acronym: str
    expansion: str
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Expansion:
    """A query with the glossary wording added, and what was added (to show the user)."""

    query: str
    expanded_query: str
    added: tuple[str, ...] = field(default_factory=tuple)

    @property
    def changed(self) -> bool:
        return bool(self.added)


class Glossary:
    def __init__(self, entries: list[GlossaryEntry]):
        if not entries:
            raise ValueError("Le glossaire est vide.")
        acronyms = [e.acronym for e in entries]
        if len(set(acronyms)) != len(acronyms):
            raise ValueError("Le glossaire contient des sigles en double.")
        self.entries = entries
        self._acronym_res = [
            (e, re.compile(rf"(?<![\w-]){re.escape(e.acronym)}(?![\w-])", re.IGNORECASE)) for e in entries
        ]

    @classmethod
    def from_file(cls, path: Path = GLOSSARY_FILE) -> "Glossary":
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        entries = [
            GlossaryEntry(r["sigle"], r["forme"], tuple(r.get("synonymes") or ())) for r in raw
        ]
        return cls(entries)

    def lookup(self, acronym: str) -> GlossaryEntry | None:
        return next((e for e in self.entries if e.acronym.lower() == acronym.lower()), None)

    def expand(self, query: str) -> Expansion:
        """Add the full wording of each acronym found, and the acronym of each full wording found."""
        folded_query = fold(query)
        added: list[str] = []
        for entry, acronym_re in self._acronym_res:
            # Short acronyms (CD, ESS...) must be written in capitals to count; longer ones in any case.
            matches = [m.group(0) for m in acronym_re.finditer(query)]
            if any(m.isupper() or len(entry.acronym) > 3 for m in matches):
                for text in (entry.expansion, *entry.synonyms):
                    if fold(text) not in folded_query:
                        added.append(text)
            elif fold(entry.expansion) in folded_query:
                added.append(entry.acronym)
        added = list(dict.fromkeys(added))
        expanded = query if not added else f"{query} ({' ; '.join(added)})"
        return Expansion(query=query, expanded_query=expanded, added=tuple(added))


@lru_cache(maxsize=1)
def default_glossary() -> Glossary:
    return Glossary.from_file()
