"""Hand-built matrices for the tests of storage, comparison of runs and exports."""

from __future__ import annotations

from assistant.answering.schema import Citation
from assistant.harmonisation.matrix import HarmonisationMatrix, MatrixCell, MatrixRow


def citation(doc_id: str, territory: str, section: str, page: int | None = None) -> Citation:
    return Citation(marker=1, doc_id=doc_id, title=f"Règlement {territory}", doc_type="pratique_territoriale",
                    territory=territory, section_path=section, page=page, passage="…")


def matrix(q1_13: str = "contraire", quote_13: str = "La décision est notifiée dans un délai de trois mois.",
           hash_13: str = "aaa", groups: tuple[str, ...] = ()) -> HarmonisationMatrix:
    rows = [MatrixRow(id="Q1", label="Délai de décision", question="Quel délai de décision ?", national_rule="Deux mois.",
                      national_reference="nat-apa › Article 2", national_quote="Décision dans un délai de deux mois.",
                      national_citations=[citation("nat-apa", "national", "Article 2")]),
            MatrixRow(id="Q2", label="Visite à domicile", question="La visite est-elle obligatoire ?",
                      national_rule="Visite obligatoire.", national_quote="La visite est obligatoire.")]
    cells = [
        MatrixCell(question_id="Q1", territory="13", status=q1_13, reason="trois mois contre deux mois (moins favorable)",
                   note="Délai local trois mois > délai national deux mois.", quote=quote_13,
                   citations=[citation("dep13-rdas", "13", "Article 2.1 — Délai d'instruction", page=4)]),
        MatrixCell(question_id="Q1", territory="59", status="divergent", reason="45 jours contre deux mois (plus favorable)",
                   quote="Objectif interne de 45 jours.", citations=[citation("dep59-guide", "59", "Question 1")]),
        MatrixCell(question_id="Q2", territory="13", status="conforme", reason="reprend la règle nationale",
                   quote="La visite est obligatoire.", citations=[citation("dep13-rdas", "13", "Article 2.3")]),
        MatrixCell(question_id="Q2", territory="59", status="non_trouve", reason="aucun passage du territoire sur ce point",
                   quote="Non trouvé dans les documents de ce territoire."),
    ]
    return HarmonisationMatrix(created_at="2025-01-01T00:00:00+00:00", territories=["13", "59"], rows=rows, cells=cells,
                               documents={"dep13-rdas": hash_13, "dep59-guide": "bbb", "nat-apa": "ccc"}, groups=list(groups))
