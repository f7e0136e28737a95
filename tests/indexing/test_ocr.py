"""OCR of scanned pages (Tesseract ``fra``): a few small pages only, the machine has 2 shared cores; the
line cleaning rules on Tesseract's own output format."""

from __future__ import annotations

import io
import shutil

import pytest

from assistant.settings import OcrSettings
from bench.renderings import scan_pdf
from indexing.chunking import split_structure
from indexing.ocr import _Word, deskew, image_lines, line_words, repair_numbering
from indexing.parsers import PAGE_BREAK, parse_file
from tests.indexing.formats import write_pdf

PAGES = ["Article 1 - Objet\nLa presente circulaire fixe le montant de l'aide au repas a huit euros par jour.",
         "Article 2 - Recours\nLa decision peut etre contestee devant le tribunal administratif dans un delai de deux mois."]


def _tesseract() -> None:
    if not shutil.which("tesseract"):
        pytest.skip("tesseract absent (bash deploy/local/install-test-tools.sh)")


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    _tesseract()
    folder = tmp_path_factory.mktemp("ocr")
    path = folder / "circulaire-numerisee.pdf"
    path.write_bytes(scan_pdf(write_pdf(folder / "texte.pdf", PAGES).read_bytes(), seed="ocr"))
    return path


@pytest.mark.slow
def test_scanned_pages_are_read_with_their_page_numbers(scanned):
    progress = []
    parsed = parse_file(scanned, 50_000_000, OcrSettings(dpi=200), lambda done, total: progress.append((done, total)))
    document = parsed.documents[0]
    pages = document.text.split(PAGE_BREAK)
    assert len(pages) == 2
    assert "huit euros par jour" in pages[0] and "tribunal administratif" in pages[1]
    assert document.metadata["ocr_pages"] == [1, 2]
    assert sorted(progress) == [(1, 2), (2, 2)]
    assert any("numérisation" in w for w in parsed.warnings)


@pytest.mark.slow
def test_deskew_straightens_a_tilted_page(scanned):
    import numpy as np
    import pypdfium2 as pdfium

    page = pdfium.PdfDocument(str(scanned))[0].render(scale=100 / 72, grayscale=True).to_pil().convert("L")
    tilted = page.rotate(1.5, fillcolor=255)

    def sharpness(image):  # variance of the ink per row: highest when text rows are horizontal
        return float(np.var((np.asarray(image) < 160).sum(axis=1)))

    assert sharpness(deskew(tilted)) > 1.5 * sharpness(tilted)


CIRCULAR = ("Circulaire relative a l'aide a domicile\n1. Objet de la circulaire\n"
            "La presente circulaire precise les regles de l'aide a domicile.\n1.1 Champ\n"
            "Elle concerne les personnes agees de soixante ans et plus.\n1.2 Entree en vigueur\n"
            "Elle s'applique a compter du premier janvier.\n2. Instruction des demandes\n"
            "Le dossier est adresse au departement.\n2.1 Pieces justificatives\n"
            "Le demandeur joint une piece d'identite.\n2.2 Delai de decision\n"
            "La decision est notifiee dans un delai de deux mois.\n2.3 Recours\n"
            "La decision peut etre contestee devant le tribunal.")


@pytest.mark.slow
def test_specks_around_headings_of_a_scan_do_not_hide_its_sections(tmp_path):
    """Dust on a scan: a flat mark before « 1.1 » and « 2.2 », a dot far after « 2.1 »'s title. Tesseract
    reads them as « _1.1 », « 2.1 Pieces justificatives | »: no heading any more, and their siblings
    after them lost too. The section paths must be those of the clean page."""
    import pdfplumber
    import pypdfium2 as pdfium
    from PIL import ImageDraw

    _tesseract()
    dpi, scale = 200, 200 / 72
    pdf = write_pdf(tmp_path / "circulaire.pdf", [CIRCULAR])
    with pdfplumber.open(str(pdf)) as document:
        words = document.pages[0].extract_words()
    page = pdfium.PdfDocument(str(pdf))[0].render(scale=scale, grayscale=True).to_pil().convert("L")
    draw = ImageDraw.Draw(page)
    for number, side in (("1.1", "left"), ("2.1", "right"), ("2.2", "left")):
        first = next(w for w in words if w["text"] == number)
        end = max(w["x1"] for w in words if abs(w["top"] - first["top"]) < 2)
        y = first["bottom"] * scale - 2
        x = first["x0"] * scale - 14 if side == "left" else end * scale + 120
        draw.rectangle([x, y, x + (6 if side == "left" else 3), y + 1], fill=0)
    scanned = tmp_path / "circulaire-numerisee.pdf"
    buffer = io.BytesIO()
    page.save(buffer, "PDF", resolution=dpi)
    scanned.write_bytes(buffer.getvalue())

    text = parse_file(scanned, 50_000_000, OcrSettings(dpi=300)).documents[0].text
    assert [c.section_path for c in split_structure(text, 1200, 100)] == [
        c.section_path for c in split_structure(CIRCULAR, 1200, 100)]


def _word(text: str, left: int, height: int = 36, conf: float = 95, width: int | None = None) -> _Word:
    return _Word(text, conf, left, 100 + (36 - height) // 2, width if width is not None else 20 * len(text), height)


def test_specks_at_the_ends_of_a_line_are_dropped():
    words = [_word("_", 250, height=2, conf=60), _word("3.3", 300), _word("Volets", 380), _word("mobilisés", 520),
             _word(":", 1400, height=2, conf=0)]
    assert [w.text for w in line_words(words)] == ["3.3", "Volets", "mobilisés"]
    far = [_word("Article", 300), _word("4-5", 460), _word("—", 540, height=3), _word("Pièces", 600),
           _word("+", 1000, height=23, conf=31)]  # read without confidence, far from the line: dust
    assert [w.text for w in line_words(far)] == ["Article", "4-5", "—", "Pièces"]  # the dash inside stays


def test_a_list_dash_and_low_confidence_words_of_the_line_are_kept():
    bullet = [_word("-", 130, height=5, conf=92), _word("une", 160), _word("copie", 240)]
    assert [w.text for w in line_words(bullet)] == ["-", "une", "copie"]
    unsure = [_word("le", 300), _word("Drécdont", 360, conf=20), _word("du", 540, conf=30)]  # near the line: kept
    assert [w.text for w in line_words(unsure)] == ["le", "Drécdont", "du"]


@pytest.mark.parametrize("read, repaired", [
    ("_3.3 Volets mobilisés selon la demande", "3.3 Volets mobilisés selon la demande"),
    (": Article 24 — Pièces justificatives", "Article 24 — Pièces justificatives"),
    ("“4, Tarifs indicatifs des aides humaines", "4. Tarifs indicatifs des aides humaines"),
    ("9, Non-cumul", "9. Non-cumul"),
    ("7: Suivi et révision", "7. Suivi et révision"),
    ("1. 1 Enjeux", "1.1 Enjeux"),
    ("5,2 Éléments recueillis", "5.2 Éléments recueillis"),
    ("Article L: 232-14 — Instruction", "Article L. 232-14 — Instruction"),
    ("Article. R. 232-7 — Proposition", "Article R. 232-7 — Proposition"),
    ("Article 3.1. 3 — Domicile de secours", "Article 3.1.3 — Domicile de secours"),
    ("3.3 Plafonds mensuels au ler janvier 2025", "3.3 Plafonds mensuels au 1er janvier 2025"),
    ("Allocation personnalisée d' autonomie", "Allocation personnalisée d'autonomie"),
    # unchanged: amounts, addresses, ordinary lines
    ("2,5 millions d'euros sont consacrés", "2,5 millions d'euros sont consacrés"),
    ("12, rue de la Paix", "12, rue de la Paix"),
    ("- le dernier avis d'imposition ;", "- le dernier avis d'imposition ;"),
    ("« Vivre à domicile » est remis", "« Vivre à domicile » est remis"),
])
def test_heading_numbers_misread_by_ocr_are_repaired(read, repaired):
    assert repair_numbering(read) == repaired


def test_a_speck_read_with_a_word_does_not_merge_its_line_with_the_one_above(monkeypatch):
    """Tesseract's box of « l'équipe » includes a speck above it: the line's box must not reach the
    heading above, or both become one row (« Article 27 — Procédure d'urgence En cas d'urgence… »)."""
    import pytesseract
    from PIL import Image

    rows = [  # (block, paragraph, line, text, left, top, width, height)
        (1, 1, 1, "Article", 300, 2826, 130, 40), (1, 1, 1, "27", 445, 2828, 40, 38),
        (1, 1, 1, "Procédure", 500, 2826, 190, 46),
        (1, 2, 1, "En", 298, 2889, 59, 36), (1, 2, 1, "cas", 375, 2899, 72, 26),
        (1, 2, 1, "l'équipe", 460, 2852, 180, 82), (1, 2, 1, "sociale", 660, 2887, 140, 38)]
    data = {"block_num": [], "par_num": [], "line_num": [], "text": [], "conf": [], "left": [], "top": [],
            "width": [], "height": []}
    for block, par, line, text, left, top, width, height in rows:
        for key, value in zip(data, (block, par, line, text, 95, left, top, width, height)):
            data[key].append(value)
    monkeypatch.setattr(pytesseract, "image_to_data", lambda *args, **kwargs: data)
    lines = image_lines(Image.new("L", (2480, 3508), 255))
    assert [line.text for line in lines] == ["Article 27 Procédure", "En cas l'équipe sociale"]
