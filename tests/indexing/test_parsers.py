import json

import pytest

from indexing.parsers import PAGE_BREAK, ParseError, parse_file
from tests.indexing.formats import write_docx, write_pdf

MB = 1_000_000


def test_markdown_and_text(tmp_path):
    md = tmp_path / "guide.md"
    md.write_text("# Guide de l'APA\n\n## Visite\n\nLa visite à domicile est obligatoire.", encoding="utf-8")
    doc = parse_file(md, 50 * MB).documents[0]
    assert doc.metadata["title"] == "Guide de l'APA"
    assert "## Visite" in doc.text


def test_html_headings_lists_and_tables(tmp_path):
    html = tmp_path / "fiche.html"
    html.write_text(
        "<html><head><title>L'APA en bref</title><script>x()</script></head><body><h1>L'APA en bref</h1>"
        "<h2>Montants</h2><ul><li>GIR 1 : 2 045,56 €</li></ul><table><tr><th>GIR</th><th>Plafond</th></tr>"
        "<tr><td>4</td><td>797,96 €</td></tr></table></body></html>",
        encoding="utf-8",
    )
    doc = parse_file(html, 50 * MB).documents[0]
    assert doc.metadata["title"] == "L'APA en bref"
    assert "## Montants" in doc.text and "- GIR 1 : 2 045,56 €" in doc.text
    assert "GIR | Plafond\n4 | 797,96 €" in doc.text
    assert "x()" not in doc.text


def test_docx_headings_and_tables(tmp_path):
    path = write_docx(tmp_path / "circ.docx", "Circulaire PCH", [("Article 1 — Éléments", "La PCH comprend six éléments.")],
                      table=[["Élément", "Tarif"], ["Aide humaine", "19,34 €"]])
    doc = parse_file(path, 50 * MB).documents[0]
    assert doc.metadata["title"] == "Circulaire PCH"
    assert "## Article 1 — Éléments" in doc.text
    assert "Aide humaine | 19,34 €" in doc.text


def test_pdf_keeps_pages(tmp_path):
    path = write_pdf(tmp_path / "guide.pdf", ["Article 1\nPremiere page.", "Article 2\nDeuxieme page."])
    doc = parse_file(path, 50 * MB).documents[0]
    pages = doc.text.split(PAGE_BREAK)
    assert len(pages) == 2 and "Deuxieme" in pages[1]


def test_pdf_unwrapping_keeps_headings_apart():
    from indexing.parsers import _unwrap_lines

    page = "5. Instruction et décision\n5.1 Dépôt de la demande\nLa demande est déposée à la MDPH du\nlieu de résidence et\n10 000 € par période."
    assert _unwrap_lines(page).splitlines() == [
        "5. Instruction et décision", "5.1 Dépôt de la demande",
        "La demande est déposée à la MDPH du lieu de résidence et 10 000 € par période."]


def test_jsonl_records_keep_their_ids(tmp_path):
    path = tmp_path / "articles.jsonl"
    rows = [{"id": "CASF:L232-1", "title": "Article L232-1", "text": "Toute personne âgée..."},
            {"id": "F10009", "text": "<p>Texte <br/>HTML</p>", "territory": "59"}]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\nnot json\n", encoding="utf-8")
    parsed = parse_file(path, 50 * MB)
    assert [d.metadata["record_id"] for d in parsed.documents] == ["CASF:L232-1", "F10009"]
    assert parsed.documents[1].metadata["title"] == "F10009"
    assert parsed.documents[1].metadata["territory"] == "59"
    assert "<p>" not in parsed.documents[1].text
    assert parsed.warnings == ["1 ligne(s) JSONL invalide(s) ignorée(s) : 3"]


def test_non_utf8_text_is_read_with_a_warning(tmp_path):
    path = tmp_path / "ancien.txt"
    path.write_bytes("Aide sociale à l'hébergement : règles".encode("cp1252"))
    parsed = parse_file(path, 50 * MB)
    assert "hébergement" in parsed.documents[0].text
    assert "UTF-8" in parsed.warnings[0]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("vide.md", b"", "fichier vide"),
        ("tableur.xlsx", b"PK\x03\x04 whatever", "format non pris en charge"),
        ("casse.pdf", b"%PDF-1.4 garbage \x00\x01\x02", "PDF illisible"),
        ("casse.docx", b"not a zip at all", "document Word illisible"),
        ("binaire.txt", b"\x00\x01\x02\x03" * 100, "contenu binaire"),
        ("blanc.md", b"   \n\n  ", "aucun texte exploitable"),
        ("rien.jsonl", b'{"title": "sans id"}\n', "aucun enregistrement JSONL valide"),
    ],
)
def test_bad_inputs_give_clear_reasons(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ParseError, match=reason):
        parse_file(path, 50 * MB)


def test_password_protected_pdf(tmp_path):
    path = write_pdf(tmp_path / "secret.pdf", ["Confidentiel"], password="motdepasse")
    with pytest.raises(ParseError, match="mot de passe"):
        parse_file(path, 50 * MB)


def test_huge_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "enorme.txt"
    with path.open("wb") as handle:
        handle.seek(51 * MB)
        handle.write(b"fin")
    with pytest.raises(ParseError, match="trop volumineux"):
        parse_file(path, 50 * MB)
