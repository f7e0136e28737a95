"""Tests for corpus/build.py: Markdown subset rendering to PDF and DOCX."""

import importlib.util
import io
import os
import sys
from pathlib import Path

import pytest
from docx import Document
from pypdf import PdfReader

BUILD_PATH = Path(__file__).resolve().parents[2] / "corpus" / "build.py"
spec = importlib.util.spec_from_file_location("corpus_build", BUILD_PATH)
build = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = build  # dataclasses need the module registered
spec.loader.exec_module(build)

SOURCE = """# Guide de test de l'APA

> Corpus de démonstration — document sans valeur officielle.

## 1. Conditions d'accès

Article L. 232-2
L'allocation est accordée à toute personne âgée d'au moins **60 ans** — œuvre « test ».

- Résidence stable et régulière ;
- Perte d'autonomie évaluée en GIR 1 à 4.

1. Dépôt du dossier complet.
2. Visite à domicile.

| GIR | Plafond mensuel |
|-----|-----------------|
| GIR 1 | 2 045,56 € |
| GIR 4 | 797,96 € |

<!-- pagebreak -->

### 1.2 Délais

La décision est notifiée dans un délai de deux mois -- sans __soulignement__.
"""


def test_parse_markdown_blocks():
    blocks = build.parse_markdown(SOURCE)
    kinds = [type(b).__name__ for b in blocks]
    assert kinds == ["Heading", "Paragraph", "Heading", "Heading", "Paragraph", "ListBlock",
                     "ListBlock", "Table", "PageBreak", "Heading", "Paragraph"]
    assert blocks[1].quote
    assert blocks[3] == build.Heading(3, "Article L. 232-2", article=True)  # one level below "## 1."
    assert blocks[6].labels == ("1.", "2.")
    assert blocks[7].rows == (("GIR", "Plafond mensuel"), ("GIR 1", "2 045,56 €"), ("GIR 4", "797,96 €"))


def test_numbered_lines_after_a_colon_start_a_list():
    blocks = build.parse_markdown("Le circuit est le suivant :\n1. dépôt ;\n2. visite.\nTexte suivi\n3. suite")
    assert blocks[0] == build.Paragraph("Le circuit est le suivant :")
    assert blocks[1] == build.ListBlock(("dépôt ;", "visite."), ("1.", "2."))
    assert blocks[2] == build.Paragraph("Texte suivi 3. suite")  # a wrapped line is not a list item


@pytest.mark.parametrize("font_dir", [build.FONT_DIR, None], ids=["unicode", "core-font"])
def test_pdf_roundtrip(font_dir):
    if font_dir and not (font_dir / "DejaVuSans.ttf").is_file():
        pytest.skip("police DejaVu absente")
    data, pages = build.render_pdf(build.parse_markdown(SOURCE), "Guide de test de l'APA", font_dir)
    reader = PdfReader(io.BytesIO(data))
    assert pages == len(reader.pages) == 2
    texts = [page.extract_text() for page in reader.pages]
    for index, text in enumerate(texts):
        assert f"Page {index + 1} / 2" in text
        assert "Guide de test de l'APA" in text  # running header
    assert "Conditions d'accès" in texts[0] and "Article L. 232-2" in texts[0]
    assert "2 045,56" in texts[0] and "Plafond mensuel" in texts[0]
    assert "1.2 Délais" in texts[1] and "-- sans __soulignement__" in texts[1]
    assert "**" not in texts[0]
    if font_dir:
        assert "œuvre « test »" in texts[0] and "€" in texts[0]
    else:
        assert "oeuvre « test »" in texts[0] and "EUR" in texts[0]
    assert reader.metadata.title == "Guide de test de l'APA"


def test_docx_roundtrip():
    data, _ = build.render_docx(build.parse_markdown(SOURCE), "Guide de test de l'APA")
    doc = Document(io.BytesIO(data))
    headings = [(p.style.name, p.text) for p in doc.paragraphs if p.style.name.startswith("Heading")]
    assert headings == [("Heading 1", "Guide de test de l'APA"), ("Heading 2", "1. Conditions d'accès"),
                        ("Heading 3", "Article L. 232-2"), ("Heading 3", "1.2 Délais")]
    bullets = [p.text for p in doc.paragraphs if p.style.name == "List Bullet"]
    assert bullets == ["Résidence stable et régulière ;", "Perte d'autonomie évaluée en GIR 1 à 4."]
    table = doc.tables[0]
    assert [c.text for c in table.rows[1].cells] == ["GIR 1", "2 045,56 €"]
    assert table.rows[0].cells[0].paragraphs[0].runs[0].bold
    bold = [r.text for p in doc.paragraphs for r in p.runs if r.bold]
    assert bold == ["60 ans"]
    assert any('w:br w:type="page"' in p._p.xml for p in doc.paragraphs)
    assert doc.core_properties.title == "Guide de test de l'APA"


@pytest.mark.parametrize("render", [build.render_pdf, build.render_docx], ids=["pdf", "docx"])
def test_output_is_deterministic(render):
    blocks = build.parse_markdown(SOURCE)
    assert render(blocks, "Titre")[0] == render(blocks, "Titre")[0]


def test_check_reports_missing_and_stale(tmp_path, capsys):
    source = tmp_path / "sources" / "doc.md"
    source.parent.mkdir()
    source.write_text(SOURCE, encoding="utf-8")
    target = build.Target("doc", source, tmp_path / "doc.docx", "docx", "Titre")
    assert build.check([target]) == 1
    assert "Manquant" in capsys.readouterr().out
    target.output.write_bytes(build.render(target)[0])
    assert build.check([target]) == 0
    source.write_text(SOURCE + "\nAjout.\n", encoding="utf-8")
    assert build.check([target]) == 1
    assert "Périmé" in capsys.readouterr().out


def test_check_compares_content_not_modification_times(tmp_path, capsys):
    """After a clone, mtimes are the checkout order: an up-to-date file may look older than its source,
    a stale one newer."""
    source = tmp_path / "doc.md"
    source.write_text(SOURCE, encoding="utf-8")
    target = build.Target("doc", source, tmp_path / "doc.pdf", "pdf", "Titre")
    target.output.write_bytes(build.render(target)[0])
    os.utime(target.output, (1_000_000, 1_000_000))  # output "older" than its source, same content
    assert build.check([target]) == 0, capsys.readouterr().out
    source.write_text(SOURCE + "\nAjout.\n", encoding="utf-8")
    os.utime(source, (1_000_000, 1_000_000))  # source "older" than its output, content changed
    assert build.check([target]) == 1
    assert "Périmé" in capsys.readouterr().out


def test_load_targets_reads_fragments(tmp_path):
    (tmp_path / "manifest.d").mkdir()
    (tmp_path / "manifest.d" / "a.yaml").write_text(
        "- {id: x, file: national/x.pdf, source: sources/national/x.md, format: pdf, title: X}\n"
        "- {id: y, file: national/y.md, format: md, title: Y}\n", encoding="utf-8")
    targets = build.load_targets(tmp_path)
    assert [(t.id, t.format, t.output) for t in targets] == [("x", "pdf", tmp_path / "national/x.pdf")]


COMMITTED = build.load_targets()


@pytest.mark.skipif(not COMMITTED, reason="aucun fichier généré déclaré dans les manifestes")
def test_committed_generated_files_are_up_to_date(capsys):
    if not (build.FONT_DIR / "DejaVuSans.ttf").is_file():
        pytest.skip("police DejaVu absente : le rendu ne serait pas identique")
    assert build.check(COMMITTED) == 0, capsys.readouterr().out


@pytest.mark.parametrize("target", [t for t in COMMITTED if t.format == "pdf"], ids=lambda t: t.id)
def test_committed_pdf_footers_match_page_index(target):
    if not target.output.is_file():
        pytest.skip("fichier non généré")
    reader = PdfReader(target.output)
    total = len(reader.pages)
    for index, page in enumerate(reader.pages):
        assert f"Page {index + 1} / {total}" in page.extract_text()
