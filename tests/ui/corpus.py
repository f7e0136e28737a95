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


# --- the document viewer: one document per format (PDF of three pages, Word, web page, Markdown) ---------
VIEWER_PDF = "nat-guide-plafonds"
VIEWER_PDF_PAGES = [
    "Guide des plafonds de l'allocation personnalisée d'autonomie.\n\n" + " ".join(
        f"Le présent guide rappelle, au point {i}, les règles générales de présentation des montants aux équipes."
        for i in range(1, 11)),
    "Montants du plan d'aide.\n\nLe montant mensuel maximal du plan d'aide en GIR 1 est fixé à 2045 euros par mois "
    "pour une personne vivant à domicile, le montant en GIR 2 est fixé à 1646 euros par mois.\n\n" + " ".join(
        f"Les équipes vérifient, à l'étape {i}, que le plan proposé reste sous le plafond de son groupe."
        for i in range(1, 9)),
    "Révision annuelle.\n\nLes montants sont revalorisés chaque année au premier janvier selon la majoration pour "
    "tierce personne.\n\n" + " ".join(f"La revalorisation numéro {i} est publiée au Journal officiel." for i in range(1, 12)),
]
VIEWER_DOCX = "nat-aide-animaliere"
VIEWER_HTML = "nat-portage-repas"
VIEWER_FILES = {
    "portage-repas.html": """<!DOCTYPE html><html><head><title>Portage de repas</title><script>alert(1)</script></head>
<body><h1>Portage de repas à domicile</h1>
<p>Le portage de repas est un service proposé aux personnes âgées qui ne peuvent plus cuisiner.</p>
<h2>Prise en charge par l'APA</h2>
<p>Le coût du portage de repas peut être intégré au plan d'aide de l'allocation personnalisée d'autonomie
lorsque l'équipe médico-sociale le juge nécessaire lors de la visite à domicile.</p>
<p onclick="alert(2)">Les autres services du plan d'aide restent inchangés.</p></body></html>""",
}
VIEWER_MANIFEST = [
    {"id": VIEWER_PDF, "file": "guide-plafonds.pdf", "title": "Guide des plafonds APA", "doc_type": "fiche",
     "territory": "national", "date": "2025-01-01"},
    {"id": VIEWER_DOCX, "file": "aide-animaliere.docx", "title": "Aide animalière de la PCH", "doc_type": "fiche",
     "territory": "national", "date": "2025-01-01"},
    {"id": VIEWER_HTML, "file": "portage-repas.html", "title": "Portage de repas", "doc_type": "fiche",
     "territory": "national", "date": "2025-01-01"},
]


def write_viewer_corpus(folder: Path) -> Path:
    """``write_corpus`` plus a PDF, a Word document and a web page."""
    from tests.indexing.formats import write_docx, write_pdf

    write_corpus(folder)
    for name, text in VIEWER_FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    write_pdf(folder / "guide-plafonds.pdf", VIEWER_PDF_PAGES)
    write_docx(folder / "aide-animaliere.docx", "Aide animalière de la PCH", [
        ("Principe", "La prestation de compensation du handicap peut financer un chien guide ou un chien d'assistance."),
        ("Montant de l'aide animalière", "L'aide animalière de la PCH est plafonnée à 3000 euros sur cinq ans, "
                                         "versés en une seule fois ou chaque mois."),
    ])
    (folder / "manifest.yaml").write_text(yaml.safe_dump({"documents": MANIFEST + VIEWER_MANIFEST}, allow_unicode=True),
                                          encoding="utf-8")
    return folder
