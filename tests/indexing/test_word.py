"""One walk of a Word document's body, read the same way by the parser and the document viewer."""

from __future__ import annotations

from indexing.parsers import parse_file
from indexing.word import WordBlock, heading_level, open_word, word_blocks
from tests.indexing.formats import write_docx


def word_document(tmp_path):
    import docx

    path = write_docx(tmp_path / "aide.docx", "Aide animalière", [("Montant", "La PCH finance jusqu'à 3000 euros.")],
                      table=[["Aide", "Plafond"], ["Chien guide", "3000 €"]])
    document = docx.Document(str(path))
    document.add_paragraph("   ")  # empty: skipped
    document.add_paragraph("premier justificatif", style="List Bullet")
    document.add_paragraph("second justificatif", style="List Bullet")
    document.add_paragraph("Fin du document.")
    document.save(str(path))
    return path


def test_blocks_in_reading_order(tmp_path):
    blocks = list(word_blocks(open_word(word_document(tmp_path))))
    assert blocks == [
        WordBlock("heading", "Aide animalière", 1), WordBlock("heading", "Montant", 2),
        WordBlock("paragraph", "La PCH finance jusqu'à 3000 euros."),
        WordBlock("table", rows=[["Aide", "Plafond"], ["Chien guide", "3000 €"]]),
        WordBlock("item", "premier justificatif"), WordBlock("item", "second justificatif"),
        WordBlock("paragraph", "Fin du document."),
    ]
    assert heading_level("Titre 3") == 3 and heading_level("Title") == 1 and heading_level("Normal") == 0


def test_parser_text_from_the_blocks(tmp_path):
    text = parse_file(word_document(tmp_path), 10**7).documents[0].text
    assert text == ("# Aide animalière\n\n## Montant\n\nLa PCH finance jusqu'à 3000 euros.\n\nAide | Plafond\n"
                    "Chien guide | 3000 €\n\n- premier justificatif\n\n- second justificatif\n\nFin du document.")
