"""Exports for committees: XLSX read back by openpyxl, self-contained HTML, CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from openpyxl import load_workbook

from assistant.harmonisation.export import FORMATS, render, to_csv, to_html, to_json, to_xlsx
from assistant.harmonisation.runs import diff
from tests.assistant.harmonisation.matrices import matrix


def test_xlsx_reads_back_with_statuses_colours_sources_and_counts():
    book = load_workbook(io.BytesIO(to_xlsx(matrix())))
    assert book.sheetnames == ["Matrice", "Détail", "Synthèse"]
    sheet = book["Matrice"]
    assert [c.value for c in sheet[1]] == ["Question", "Règle nationale", "Bouches-du-Rhône (13)", "Nord (59)"]
    assert sheet["A2"].value == "Q1 — Délai de décision"
    assert "Source : Règlement national › Article 2" in sheet["B2"].value
    assert sheet["C2"].value == "Contraire — trois mois contre deux mois (moins favorable)"
    assert sheet["C2"].fill.fgColor.rgb.endswith("F8D0CC")
    assert "Règlement 13 › Article 2.1 — Délai d'instruction, p. 4" in sheet["C2"].comment.text
    assert sheet["D3"].value.startswith("Non trouvé")
    detail = [[c.value for c in row] for row in book["Détail"].iter_rows()]
    assert detail[0][:5] == ["Question", "Libellé", "Territoire", "Statut", "Raison"]
    assert len(detail) == 1 + 4
    assert detail[1][6] == "Règlement 13 › Article 2.1 — Délai d'instruction, p. 4"
    summary = [[c.value for c in row][:5] for row in book["Synthèse"].iter_rows(max_row=3)]
    assert summary[0] == ["Territoire", "Conforme", "Divergent", "Contraire", "Non trouvé"]
    assert summary[1] == ["Bouches-du-Rhône (13)", 1, 0, 1, 0]


def test_xlsx_with_changes_has_a_changes_sheet():
    before = matrix(q1_13="conforme", quote_13="Deux mois.")
    before.run_id = 1
    book = load_workbook(io.BytesIO(to_xlsx(matrix(), diff(before, matrix()))))
    rows = [[c.value for c in row] for row in book["Changements"].iter_rows()]
    assert rows[1][:5] == ["Q1 — Délai de décision", "Bouches-du-Rhône (13)", "statut", "Conforme", "Contraire"]


def test_html_is_self_contained_with_matrix_counts_details_and_filters():
    html = to_html(matrix())
    assert not re.search(r"""(?:src|href)=['"](?:https?:)?//""", html)  # no external resource
    assert "<style>" in html and "<script>" in html
    assert "✗ Contraire" in html and "trois mois contre deux mois" in html
    assert "Règlement 13 › Article 2.1 — Délai d&#x27;instruction, p. 4" in html
    assert "id='f-statut'" in html and "id='f-territoire'" in html and "id='f-question'" in html
    assert "Par territoire" in html and "Par question" in html


def test_csv_and_json():
    rows = list(csv.reader(io.StringIO(to_csv(matrix())), delimiter=";"))
    assert rows[0][3] == "Statut" and len(rows) == 5
    assert rows[1][:4] == ["Q1", "Délai de décision", "Bouches-du-Rhône (13)", "Contraire"]
    data = json.loads(to_json(matrix()))
    assert data["counts_by_territory"]["59"] == {"divergent": 1, "non_trouve": 1}
    assert data["cells"][0]["citations"][0]["page"] == 4


def test_render_formats_and_unknown_format():
    for fmt in FORMATS:
        assert render(matrix(), fmt)
    assert render(matrix(), "csv").startswith("\ufeff".encode())
    with pytest.raises(ValueError, match="Format inconnu « pdf »"):
        render(matrix(), "pdf")


def test_filtered_matrix_keeps_only_the_asked_statuses():
    only = matrix().filtered(statuses=["contraire"])
    assert [(c.question_id, c.territory) for c in only.cells] == [("Q1", "13")]
    assert matrix().filtered(territories=["59"], questions=["Q2"]).territories == ["59"]


def test_html_sources_link_to_the_document_viewer():
    from assistant.answering.schema import Citation
    from assistant.harmonisation.export import citations_html

    cited = Citation(marker=1, doc_id="dep59-rdas", title="RDAS du Nord", doc_type="pratique_territoriale", territory="59",
                     section_path="Article 12", page=4, passage="…", chunk_index=7)
    assert citations_html([cited]) == "<a href='/documents/dep59-rdas?passage=7#page=4'>RDAS du Nord › Article 12, p. 4</a>"
    assert citations_html([], "CASF, art. L. 232-14") == "CASF, art. L. 232-14"


def test_xlsx_and_csv_carry_the_viewer_links_like_the_html():
    cited = matrix().cells[0].citations[0]
    html = to_html(matrix())
    assert f"href='{cited.url}'" in html
    rows = list(csv.reader(io.StringIO(to_csv(matrix())), delimiter=";"))
    assert rows[0][-2:] == ["Lien source locale", "Lien source nationale"]
    assert rows[1][-2] == cited.url and rows[1][-1].startswith("/documents/")
    book = load_workbook(io.BytesIO(to_xlsx(matrix(), base_url="https://assistant.exemple.fr/")))
    detail = book["Détail"]
    assert detail["L2"].value == "https://assistant.exemple.fr" + cited.url
    assert detail["G2"].hyperlink.target == "https://assistant.exemple.fr" + cited.url  # the source's name opens it
    assert "https://assistant.exemple.fr" + cited.url in book["Matrice"]["C2"].comment.text
    assert "https://assistant.exemple.fr" + cited.url in render(matrix(), "html", base_url="https://assistant.exemple.fr").decode()
