"""A small corpus written for the server tests: national texts, a public practice of the 13 and a
practice of the 59 restricted to the group dep-59 (its distinctive words must never reach others)."""

from __future__ import annotations

from pathlib import Path

import yaml

RESTRICTED_DOC = "dep59-guide-interne"
RESTRICTED_WORDS = "cellule Tournesol"

FILES = {
    "circulaire-apa.md": """# Circulaire relative à l'allocation personnalisée d'autonomie

## Article 1 — Délai de notification

Le délai de notification de la décision d'APA est de deux mois à compter du dépôt du dossier complet.
Le président du conseil départemental notifie sa décision d'APA dans ce délai de deux mois.

## Article 2 — Visite à domicile

Une visite au domicile du demandeur est réalisée par l'équipe médico-sociale, qui évalue la perte d'autonomie avec la grille AGGIR.
Seules les personnes classées en GIR 1 à 4 peuvent bénéficier de l'allocation personnalisée d'autonomie.
""",
    "fiche-pch.md": """# La prestation de compensation du handicap (PCH)

## Les éléments de la PCH

Les éléments de la PCH sont au nombre de cinq : aides humaines, aides techniques, aménagement du logement et du véhicule, charges spécifiques ou exceptionnelles, aide animalière.
La demande de PCH se dépose auprès de la maison départementale des personnes handicapées (MDPH).
""",
    "rdas-13.md": """# Règlement départemental d'aide sociale des Bouches-du-Rhône

## Article 12 — Notification de l'APA

Dans les Bouches-du-Rhône, le délai de notification de la décision d'APA est de deux mois après le dépôt du dossier complet.
""",
    "guide-interne-59.md": """# Guide interne des évaluateurs APA du Nord

## Notification de l'APA dans le Nord

Dans le Nord, le délai de notification de la décision d'APA est de 45 jours après le dépôt du dossier complet.
Dans le Nord, la cellule Tournesol suit les dossiers urgents d'APA et notifie la décision en priorité.
""",
}

MANIFEST = [
    {"id": "nat-circulaire-apa", "file": "circulaire-apa.md", "title": "Circulaire APA", "doc_type": "circulaire",
     "territory": "national", "date": "2024-03-15"},
    {"id": "nat-fiche-pch", "file": "fiche-pch.md", "title": "Fiche PCH", "doc_type": "fiche", "territory": "national",
     "date": "2025-01-10"},
    {"id": "dep13-rdas", "file": "rdas-13.md", "title": "RDAS des Bouches-du-Rhône", "doc_type": "pratique_territoriale",
     "territory": "13", "date": "2024-06-27"},
    {"id": RESTRICTED_DOC, "file": "guide-interne-59.md", "title": "Guide interne APA du Nord",
     "doc_type": "pratique_territoriale", "territory": "59", "date": "2025-02-01", "visibility": ["dep-59"]},
]


def write_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "manifest.yaml").write_text(yaml.safe_dump({"documents": MANIFEST}, allow_unicode=True), encoding="utf-8")
    return folder
