"""The demo documents as other tools would have made them: the real-world test set of ``make bench-documents``.

From each Markdown source of the demo corpus (``corpus/sources/**.md``, the documents that
``corpus/build.py`` renders), four renderings that the project's own generator never produces:

- ``office``: the DOCX (``corpus/build.py``'s) with a running header, a « Page N sur M » footer,
  justified and auto-hyphenated text, converted to PDF by LibreOffice headless
  (Debian ``libreoffice-writer-nogui``, ``hyphen-fr``);
- ``two_columns``: a two-column PDF (fpdf2) whose lines are written to the content stream row by row
  across both columns (so only a layout-aware reader gets the column order), with hyphenated line ends,
  a running header and footer, and tables across the page;
- ``scanned``: the ``office`` pages rasterised at 200 dpi, slightly rotated, with noise and JPEG
  artefacts, rebuilt as image-only PDFs (no text layer at all);
- ``web``: an HTML page in a département site template: header, navigation menu, breadcrumb, cookie
  banner, « sur le même sujet » aside and footer around the ``<main>`` content.

``build_corpus(rendering, out_dir)`` writes a corpus folder (a ``manifest.yaml`` with the demo
corpus's ids and metadata; the other demo files copied as they are) and ``furniture.json``: the
header, footer and site lines that must never end up in a passage. ``source`` (the Markdown files
themselves) and ``demo`` (the committed corpus) are the references.

    python -m bench.renderings --out .cache/renderings office web     # some renderings
    python -m bench.renderings --out /tmp/r --ids dep59-rdas-pa scanned
"""

from __future__ import annotations

import argparse
import html
import importlib.util
import io
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from assistant.settings import PROJECT_ROOT

CORPUS_DIR = PROJECT_ROOT / "corpus"
RENDERINGS = ("office", "two_columns", "scanned", "web")
REFERENCES = ("source", "demo")
SCAN_DPI = 200
SITE = "Département de démonstration"
NAV = ["Accueil", "Aides et démarches", "Personnes âgées", "Personnes handicapées", "Enfance et famille",
       "Insertion", "Routes et mobilités", "Agenda", "Nous contacter"]
COOKIE_TEXT = ("Ce site utilise des cookies pour mesurer l'audience et améliorer votre navigation. "
               "Vous pouvez accepter ou refuser ces cookies à tout moment.")
FOOTER_LINES = ["Mentions légales", "Plan du site", "Accessibilité : partiellement conforme",
                "Données personnelles", "Gestion des cookies", f"© {SITE} 2025 — Hôtel du Département, 1 place de la République"]
ASIDE_LINES = ["Sur le même sujet", "Trouver un point d'information autonomie près de chez vous",
               "Télécharger le formulaire de demande", "S'abonner à la lettre d'information"]


def _build_module() -> Any:
    """``corpus/build.py`` (a script, not a package module): its Markdown parser and DOCX renderer."""
    name = "corpus_build"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, CORPUS_DIR / "build.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@dataclass(frozen=True)
class SourceDoc:
    id: str
    source: Path
    file: str  # path of the demo file, relative to the corpus
    title: str


def manifest_entries(corpus_dir: Path = CORPUS_DIR) -> list[dict[str, Any]]:
    entries = []
    for path in [corpus_dir / "manifest.yaml", *sorted((corpus_dir / "manifest.d").glob("*.yaml"))]:
        if path.is_file():
            entries += yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return entries


def source_docs(ids: list[str] | None = None) -> list[SourceDoc]:
    docs = [SourceDoc(e["id"], CORPUS_DIR / e["source"], e["file"], e["title"])
            for e in manifest_entries() if e.get("source")]
    return [d for d in docs if not ids or d.id in ids]


# --- corpus folders ------------------------------------------------------------------------------------
def build_corpus(rendering: str, out_dir: Path, ids: list[str] | None = None, with_others: bool = True,
                 office_cache: Path | None = None) -> Path:
    """A corpus folder where the documents with a Markdown source are in ``rendering``; the other demo
    files (and every manifest field) are unchanged. Returns ``out_dir``."""
    if rendering not in RENDERINGS + REFERENCES:
        raise ValueError(f"rendu inconnu « {rendering} » ; rendus : {', '.join(RENDERINGS + REFERENCES)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    docs = source_docs(ids)
    files: dict[str, str] = {}
    furniture: list[str] = []
    if rendering == "demo":
        files = {d.id: d.file for d in docs}
        for d in docs:
            _copy(CORPUS_DIR / d.file, out_dir / d.file)
    elif rendering == "source":
        for d in docs:
            files[d.id] = str(Path(d.file).with_suffix(".md"))
            _copy(d.source, out_dir / files[d.id])
    elif rendering in ("office", "scanned"):
        office_dir = office_cache or out_dir / ".office"
        pdfs = render_office(docs, office_dir)
        for d in docs:
            files[d.id] = str(Path(d.file).with_suffix(".pdf"))
            target = out_dir / files[d.id]
            target.parent.mkdir(parents=True, exist_ok=True)
            if rendering == "office":
                shutil.copyfile(pdfs[d.id], target)
            else:
                target.write_bytes(scan_pdf(pdfs[d.id].read_bytes(), seed=d.id))
            furniture += [office_header(d)]
        furniture += ["Page # sur #"]
    elif rendering == "two_columns":
        for d in docs:
            files[d.id] = str(Path(d.file).with_suffix(".pdf"))
            (out_dir / files[d.id]).parent.mkdir(parents=True, exist_ok=True)
            (out_dir / files[d.id]).write_bytes(render_two_columns(d))
        furniture += [f"{SITE} — Recueil des actes administratifs", "— # —"]
    else:
        for d in docs:
            files[d.id] = str(Path(d.file).with_suffix(".html"))
            (out_dir / files[d.id]).parent.mkdir(parents=True, exist_ok=True)
            (out_dir / files[d.id]).write_text(render_web(d), encoding="utf-8")
        furniture += NAV + [COOKIE_TEXT, "Accepter les cookies", "Refuser", "Vous êtes ici : Accueil › Aides et démarches"] \
            + FOOTER_LINES + ASIDE_LINES + [f"{SITE} — Portail des solidarités"]
    entries = []
    for entry in manifest_entries():
        if entry["id"] in files:
            entry = {**entry, "file": files[entry["id"]]}
        elif not with_others or (ids and entry["id"] not in ids):
            continue
        else:
            _copy(CORPUS_DIR / entry["file"], out_dir / entry["file"])
        entries.append({k: v for k, v in entry.items() if k not in ("source", "format", "pages")})
    (out_dir / "manifest.yaml").write_text(yaml.safe_dump(entries, allow_unicode=True, sort_keys=False), encoding="utf-8")
    (out_dir / "furniture.json").write_text(json.dumps(sorted(set(furniture)), ensure_ascii=False, indent=1), encoding="utf-8")
    return out_dir


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def load_furniture(corpus_dir: Path) -> list[str]:
    path = corpus_dir / "furniture.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []


# --- office: DOCX → LibreOffice PDF ---------------------------------------------------------------------
def office_header(doc: SourceDoc) -> str:
    return f"{SITE} — {_short(doc.title)}"


def _short(title: str) -> str:
    return title.split(" — ")[0].split(" : ")[0]


def office_docx(doc: SourceDoc) -> bytes:
    """``corpus/build.py``'s DOCX with what office documents have: a running header, a « Page N sur M »
    footer (fields), justified paragraphs and automatic hyphenation."""
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    build = _build_module()
    data, _ = build.render_docx(build.parse_markdown(doc.source.read_text(encoding="utf-8")), doc.title)
    document = docx.Document(io.BytesIO(data))
    section = document.sections[0]
    section.header.paragraphs[0].text = office_header(doc)
    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    footer.text = ""
    footer.add_run("Page ")
    _field(footer, "PAGE", OxmlElement, qn)
    footer.add_run(" sur ")
    _field(footer, "NUMPAGES", OxmlElement, qn)
    for paragraph in document.paragraphs:
        if not paragraph.style.name.startswith(("Heading", "Title")):
            paragraph.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    settings = document.settings.element
    auto = OxmlElement("w:autoHyphenation")
    settings.insert(0, auto)
    for style in document.styles:
        if style.type == 1 and style.element.rPr is not None:  # paragraph styles: French text
            lang = OxmlElement("w:lang")
            lang.set(qn("w:val"), "fr-FR")
            style.element.rPr.append(lang)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _field(paragraph: Any, code: str, OxmlElement: Any, qn: Any) -> None:
    run = paragraph.add_run()
    for kind, text in (("begin", None), (None, code), ("separate", None), (None, "1"), ("end", None)):
        if kind:
            element = OxmlElement("w:fldChar")
            element.set(qn("w:fldCharType"), kind)
        elif text == code:
            element = OxmlElement("w:instrText")
            element.set(qn("xml:space"), "preserve")
            element.text = f" {code} "
        else:
            element = OxmlElement("w:t")
            element.text = text
        run._r.append(element)


def render_office(docs: list[SourceDoc], out_dir: Path) -> dict[str, Path]:
    """The documents' office PDFs (one LibreOffice run for the missing ones), cached in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    pdfs = {d.id: out_dir / f"{d.id}.pdf" for d in docs}
    missing = [d for d in docs if not pdfs[d.id].is_file()]
    if missing:
        soffice = shutil.which("soffice") or shutil.which("libreoffice")
        if not soffice:
            raise RuntimeError("LibreOffice introuvable : installez le paquet Debian libreoffice-writer-nogui "
                               "(deploy/local/install-test-tools.sh)")
        with tempfile.TemporaryDirectory(prefix="renderings-") as tmp:
            inputs = []
            for d in missing:
                path = Path(tmp) / f"{d.id}.docx"
                path.write_bytes(office_docx(d))
                inputs.append(str(path))
            profile = Path(tmp) / "profile"
            done = subprocess.run([soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
                                   "--convert-to", "pdf", "--outdir", str(out_dir), *inputs],
                                  capture_output=True, text=True, timeout=900)
        lost = [d.id for d in missing if not pdfs[d.id].is_file()]
        if lost:
            raise RuntimeError(f"LibreOffice n'a pas converti {', '.join(lost)} : {done.stderr[-800:]}")
    return pdfs


# --- scanned: rasterised, rotated, noisy, image-only ----------------------------------------------------
def scan_pdf(pdf: bytes, seed: str, dpi: int = SCAN_DPI) -> bytes:
    """Each page as a scanner would give it back: grey, tilted by under a degree, speckled, JPEG-compressed,
    in an image-only PDF (no text layer)."""
    import numpy as np
    import pypdfium2 as pdfium
    from PIL import Image

    rng = random.Random(seed)
    noise = np.random.default_rng(rng.randrange(2**32))
    document = pdfium.PdfDocument(pdf)
    pages = []
    try:
        for page in document:
            image = page.render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
            image = image.rotate(rng.uniform(-0.8, 0.8), resample=Image.Resampling.BICUBIC, expand=False, fillcolor=255)
            pixels = np.asarray(image, dtype=np.float32)
            pixels = pixels * 0.93 + 8 + noise.normal(0, 9, pixels.shape)  # paper tint and sensor noise
            specks = noise.random(pixels.shape) < 0.0004
            pixels[specks] = noise.uniform(0, 120, int(specks.sum()))
            image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", quality=70)
            pages.append(Image.open(io.BytesIO(buffer.getvalue())))
    finally:
        document.close()
    out = io.BytesIO()
    pages[0].save(out, "PDF", resolution=dpi, save_all=True, append_images=pages[1:])
    return out.getvalue()


# --- two columns ------------------------------------------------------------------------------------
def two_column_header(doc: SourceDoc) -> str:
    return _short(doc.title)


@dataclass
class _Placed:
    text: str
    style: str
    size: float
    height: float


def render_two_columns(doc: SourceDoc) -> bytes:
    """A two-column bulletin page layout; lines are written row by row across the columns."""
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    build = _build_module()
    blocks = build.parse_markdown(doc.source.read_text(encoding="utf-8"))
    pdf = FPDF(format="A4")
    fonts = build.FONT_DIR
    for style, name in (("", "DejaVuSans"), ("B", "DejaVuSans-Bold"), ("I", "DejaVuSans-Oblique"), ("BI", "DejaVuSans-BoldOblique")):
        pdf.add_font("DejaVu", style, str(fonts / f"{name}.ttf"))
    pdf.set_auto_page_break(False)
    pdf.set_creation_date(build.FIXED_DATE)
    pdf.set_title(doc.title)
    margin, gutter, top, bottom = 15.0, 8.0, 22.0, 280.0
    column = (210 - 2 * margin - gutter) / 2
    header = two_column_header(doc)
    state = {"y": top, "pending": []}

    def new_page() -> None:
        pdf.add_page()
        pdf.set_font("DejaVu", "I", 8)
        pdf.set_text_color(80, 80, 80)
        pdf.text(margin, 12, f"{SITE} — Recueil des actes administratifs")
        pdf.text(210 - margin - pdf.get_string_width(header), 12, header)
        pdf.line(margin, 14, 210 - margin, 14)
        pdf.set_font("DejaVu", "", 9)
        number = f"— {pdf.page_no()} —"
        pdf.text(105 - pdf.get_string_width(number) / 2, 290, number)
        pdf.set_text_color(0, 0, 0)
        state["y"] = top

    def wrap(text: str, style: str, size: float) -> list[str]:
        pdf.set_font("DejaVu", style, size)
        lines, current = [], ""
        for word in text.split():
            candidate = f"{current} {word}".strip()
            if pdf.get_string_width(candidate) <= column:
                current = candidate
                continue
            head, tail = _hyphenate(word, current, column, pdf.get_string_width)
            if head:
                lines.append(f"{current} {head}".strip())
                current = tail
            else:
                lines.append(current)
                current = word
        if current:
            lines.append(current)
        return lines

    def flush() -> None:
        """Lay the pending lines out in two balanced columns from the current y, writing them row by row."""
        lines: list[_Placed] = state["pending"]
        while lines:
            capacity = bottom - state["y"]
            total = sum(line.height for line in lines)
            target = total / 2 if total <= 2 * capacity else capacity
            columns: list[list[_Placed]] = [[], []]
            for index, limit in ((0, target), (1, capacity)):
                used = 0.0
                while lines and used + lines[0].height <= capacity and (index == 1 or used + lines[0].height / 2 <= limit):
                    used += lines[0].height
                    columns[index].append(lines.pop(0))
            rows: list[tuple[float, float, _Placed]] = []
            for x, col in ((margin, columns[0]), (margin + column + gutter, columns[1])):
                y = state["y"]
                for line in col:
                    rows.append((y, x, line))
                    y += line.height
            for y, x, line in sorted(rows, key=lambda r: (round(r[0], 1), r[1])):  # row by row across columns
                pdf.set_font("DejaVu", line.style, line.size)
                if line.text:
                    pdf.text(x, y + line.size * 0.35, line.text)
            state["y"] = max((y + line.height for y, _, line in rows), default=state["y"])
            if lines:
                new_page()
        state["pending"] = []

    def add(text: str, style: str = "", size: float = 9.5, before: float = 0.0) -> None:
        if before:
            state["pending"].append(_Placed("", style, size, before))
        state["pending"] += [_Placed(line, style, size, size * 0.48) for line in wrap(build.plain(text), style, size)]

    new_page()
    for block in blocks:
        if isinstance(block, build.Heading):
            add(block.text, "B", 9.5 if block.article else {1: 13, 2: 11, 3: 10}[block.level], before=2.5)
        elif isinstance(block, build.Paragraph):
            add(block.text, "I" if block.quote else "", before=1.2)
        elif isinstance(block, build.ListBlock):
            for i, item in enumerate(block.items):
                add(f"{block.labels[i] if block.labels else '–'} {item}", before=0.6)
        elif isinstance(block, build.Table):
            flush()
            pdf.set_y(state["y"] + 2)
            pdf.set_font("DejaVu", "", 8.5)
            if state["y"] > bottom - 40:
                new_page()
                pdf.set_y(state["y"])
            ncols = max(len(r) for r in block.rows)
            with pdf.table(text_align="LEFT", line_height=4.2, first_row_as_headings=True,
                           headings_style=FontFace(emphasis="BOLD"), width=210 - 2 * margin) as table:
                for r in block.rows:
                    row = table.row()
                    for cell in tuple(build.plain(c) for c in r) + ("",) * (ncols - len(r)):
                        row.cell(cell)
            state["y"] = pdf.get_y() + 3
            if state["y"] > bottom:
                new_page()
    flush()
    return bytes(pdf.output())


_VOWELS = set("aeiouyàâäéèêëîïôöùûüœ")


def _hyphenate(word: str, current: str, width: float, measure) -> tuple[str, str]:
    """Cut a long word between syllables (before a consonant that follows a vowel) so that its head and a
    hyphen fit after ``current``; ("", "") when it cannot be cut."""
    if len(word) < 8 or not word.isalpha():
        return "", ""
    for cut in range(len(word) - 3, 3, -1):
        if word[cut - 1].lower() in _VOWELS and word[cut].lower() not in _VOWELS and word[cut + 1].lower() in _VOWELS:
            head = word[:cut] + "-"
            if measure(f"{current} {head}".strip()) <= width:
                return head, word[cut:]
    return "", ""


# --- web page ----------------------------------------------------------------------------------------
def render_web(doc: SourceDoc) -> str:
    """The document as a page of a département's site: its content in ``<main>``, surrounded by the
    site's header, menu, breadcrumb, cookie banner, aside and footer."""
    build = _build_module()
    blocks = build.parse_markdown(doc.source.read_text(encoding="utf-8"))
    body: list[str] = []

    def inline(text: str) -> str:
        return "".join(f"<strong>{html.escape(p)}</strong>" if bold else html.escape(p) for p, bold in build.split_bold(text))

    for block in blocks:
        if isinstance(block, build.Heading):
            level = min(block.level + (1 if block.article else 0), 6)
            body.append(f"<h{level}>{inline(block.text)}</h{level}>")
        elif isinstance(block, build.Paragraph):
            body.append(f"<blockquote><p>{inline(block.text)}</p></blockquote>" if block.quote else f"<p>{inline(block.text)}</p>")
        elif isinstance(block, build.ListBlock):
            tag = "ol" if block.labels else "ul"
            body.append(f"<{tag}>" + "".join(f"<li>{inline(i)}</li>" for i in block.items) + f"</{tag}>")
        elif isinstance(block, build.Table):
            head, *rows = block.rows
            body.append('<div class="table-responsive"><table><thead><tr>' + "".join(f"<th>{inline(c)}</th>" for c in head)
                        + "</tr></thead><tbody>" + "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in r) + "</tr>" for r in rows)
                        + "</tbody></table></div>")
    nav = "".join(f'<li><a href="/{i}">{html.escape(item)}</a></li>' for i, item in enumerate(NAV))
    footer = "".join(f'<li><a href="/pied/{i}">{html.escape(item)}</a></li>' for i, item in enumerate(FOOTER_LINES))
    aside = f"<h2>{html.escape(ASIDE_LINES[0])}</h2><ul>" + "".join(
        f'<li><a href="/voir/{i}">{html.escape(item)}</a></li>' for i, item in enumerate(ASIDE_LINES[1:])) + "</ul>"
    return f"""<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(doc.title)} | {SITE}</title>
<link rel="stylesheet" href="/static/site.css">
<script>window.dataLayer = window.dataLayer || []; function gtag(){{dataLayer.push(arguments);}}</script>
</head>
<body class="page-article">
<div id="cookie-consent" class="cookie-banner" role="dialog" aria-label="Gestion des cookies">
<p>{html.escape(COOKIE_TEXT)}</p>
<button type="button">Accepter les cookies</button> <button type="button">Refuser</button>
</div>
<header class="site-header">
<a class="logo" href="/">{html.escape(SITE)} — Portail des solidarités</a>
<form class="search" action="/recherche"><input type="search" name="q" placeholder="Rechercher"></form>
</header>
<nav class="main-menu" aria-label="Menu principal"><ul>{nav}</ul></nav>
<nav class="breadcrumb" aria-label="Fil d'Ariane"><p>Vous êtes ici : Accueil › Aides et démarches</p></nav>
<main id="contenu">
<article class="content">
{chr(10).join(body)}
</article>
</main>
<aside class="related">{aside}</aside>
<footer class="site-footer"><ul>{footer}</ul></footer>
</body>
</html>
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Génère les rendus « réels » des documents de démonstration.")
    parser.add_argument("renderings", nargs="*", default=list(RENDERINGS), help=f"rendus : {', '.join(RENDERINGS + REFERENCES)}")
    parser.add_argument("--out", type=Path, required=True, help="dossier de sortie (un sous-dossier par rendu)")
    parser.add_argument("--ids", nargs="*", help="identifiants de documents (tous les documents à source par défaut)")
    args = parser.parse_args(argv)
    for rendering in args.renderings:
        folder = build_corpus(rendering, args.out / rendering, args.ids, with_others=False, office_cache=args.out / ".office")
        count = sum(1 for p in folder.rglob("*") if p.is_file() and p.name not in ("manifest.yaml", "furniture.json"))
        print(f"{rendering} : {count} fichier(s) dans {folder}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.exit(main())
