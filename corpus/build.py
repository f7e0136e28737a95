"""Build the generated DOCX and PDF files of the demonstration corpus.

Each manifest entry (``corpus/manifest.yaml`` and ``corpus/manifest.d/*.yaml``) that names a
``source:`` is rendered from that Markdown-subset file into its ``file:`` with python-docx
(``format: docx``) or fpdf2 (``format: pdf``). Output is deterministic: re-running the builder
changes no bytes.

Markdown subset: ``#``/``##``/``###`` headings, paragraphs, ``> `` notes, ``- `` bullets,
``1. `` numbered items, ``| a | b |`` tables, ``**bold**``, stand-alone article lines
(``Article L. 232-1``, ``Art. D. 245-4``, ``Annexe 2-1``) and ``<!-- pagebreak -->``.

Usage: ``python corpus/build.py [ID ...]`` or ``python corpus/build.py --check``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import math
import re
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import yaml

CORPUS_DIR = Path(__file__).resolve().parent
FIXED_DATE = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
AUTHOR = "Assistant Autonomie — corpus de démonstration"
CHARS_PER_PAGE = 2700  # page estimate for DOCX files, which have no fixed layout

PAGEBREAK = "<!-- pagebreak -->"
HEADING_RE = re.compile(r"^(#{1,6})\s+(.+?)\s*#*$")
BULLET_RE = re.compile(r"^\s*[-*]\s+(.*)$")
NUMBERED_RE = re.compile(r"^\s*(\d{1,3}[.)])\s+(.*)$")
ARTICLE_RE = re.compile(
    r"^(?:(?:Article|Art\.)\s+(?:premier|(?:[LRD]\.?\s*)?\d[\w.\-]*(?:\s+(?:bis|ter|quater))?)"
    r"|Annexe\s+\d[\w.\-]*)(?:\s+[—–-]\s+[^|]{1,150})?$"
)
TABLE_SEPARATOR_RE = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?$")


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class Heading:
    level: int  # 1-3 for '#' headings; articles sit one level below the enclosing heading (max 4)
    text: str
    article: bool = False


@dataclass(frozen=True)
class Paragraph:
    text: str
    quote: bool = False


@dataclass(frozen=True)
class ListBlock:
    items: tuple[str, ...]
    labels: tuple[str, ...] | None = None  # item numbers ("1.", "2)") for numbered lists


@dataclass(frozen=True)
class Table:
    rows: tuple[tuple[str, ...], ...]  # first row is the header


@dataclass(frozen=True)
class PageBreak:
    pass


Block = Heading | Paragraph | ListBlock | Table | PageBreak


def parse_markdown(text: str) -> list[Block]:
    """Parse the corpus Markdown subset into a flat list of blocks."""
    blocks: list[Block] = []
    para: list[str] = []
    quote: list[str] = []
    items: list[str] = []
    labels: list[str] = []
    rows: list[tuple[str, ...]] = []
    section_level = 1

    def flush() -> None:
        if para:
            blocks.append(Paragraph(" ".join(para)))
        if quote:
            blocks.append(Paragraph(" ".join(quote), quote=True))
        if items:
            blocks.append(ListBlock(tuple(items), tuple(labels) if labels else None))
        if rows:
            blocks.append(Table(tuple(rows)))
        para.clear(), quote.clear(), items.clear(), labels.clear(), rows.clear()

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            flush()
        elif line == PAGEBREAK:
            flush()
            blocks.append(PageBreak())
        elif line.startswith("<!--"):
            continue
        elif m := HEADING_RE.match(line):
            flush()
            section_level = min(len(m.group(1)), 3)
            blocks.append(Heading(section_level, m.group(2)))
        elif ARTICLE_RE.match(line):
            flush()
            blocks.append(Heading(section_level + 1, line, article=True))
        elif line.startswith("|"):
            if not rows:
                flush()
            if not TABLE_SEPARATOR_RE.match(line):
                rows.append(tuple(c.strip() for c in line.strip("|").split("|")))
        elif line.startswith(">"):
            if not quote:
                flush()
            quote.append(line.lstrip("> ").strip())
        elif (m := BULLET_RE.match(raw)) and not labels:
            if not items:
                flush()
            items.append(m.group(1).strip())
        elif (m := NUMBERED_RE.match(raw)) and (labels or not items) and (not para or para[-1].endswith(":")):
            if not items:
                flush()
            labels.append(m.group(1))
            items.append(m.group(2).strip())
        elif items and raw[:1].isspace():
            items[-1] += " " + line  # indented continuation of a list item
        else:
            if items or rows or quote:
                flush()
            para.append(line)
    flush()
    return blocks


def split_bold(text: str) -> list[tuple[str, bool]]:
    """Split ``a **b** c`` into ``[("a ", False), ("b", True), (" c", False)]``."""
    parts = text.split("**")
    if len(parts) % 2 == 0:  # unbalanced marker: keep it literally
        return [(text, False)]
    return [(p, i % 2 == 1) for i, p in enumerate(parts) if p]


def plain(text: str) -> str:
    return "".join(p for p, _ in split_bold(text))


# --------------------------------------------------------------------------- PDF

# Spaces that must not become line breaks: before ; : ! ? », after «, inside numbers and units.
NBSP_RE = re.compile(r"(?<=\S) (?=[;:!?»])|(?<=«) |(?<=\d) (?=\d{3}\b|€|%)|(?<=n°) ")
LATIN1_MAP = str.maketrans(
    {
        "œ": "oe", "Œ": "OE", "’": "'", "‘": "'", "“": '"', "”": '"', "—": "-", "–": "-",
        "…": "...", "€": "EUR", "•": "-", "\u202f": " ", "\u2009": " ", "≥": ">=", "≤": "<=",
        "→": "->", "‑": "-",
    }
)


def _pdf_class():
    from fpdf import FPDF

    class CorpusPDF(FPDF):
        # Only **bold** is interpreted; '__', '--', '~~', links and escapes stay literal.
        MARKDOWN_MARKERS = (FPDF.MARKDOWN_BOLD_MARKER,)
        MARKDOWN_ESCAPE_CHARACTER = "\x00"
        MARKDOWN_LINK_REGEX = re.compile(r"(?!)")

        doc_title = ""
        family = "Helvetica"
        unicode = False

        def clean(self, text: str) -> str:
            text = NBSP_RE.sub("\u00a0", text)
            if self.unicode:
                return text
            return text.translate(LATIN1_MAP).encode("latin-1", "replace").decode("latin-1")

        def header(self) -> None:
            self.set_font(self.family, "I", 8)
            self.set_text_color(90, 90, 90)
            title, ellipsis = self.clean(self.doc_title), "…" if self.unicode else "..."
            while self.get_string_width(title) > self.epw and len(title) > 4:
                title = title[:-5].rstrip() + ellipsis
            self.cell(self.epw, 5, title, align="C", new_x="LMARGIN", new_y="NEXT")
            self.line(self.l_margin, self.get_y() + 1, self.w - self.r_margin, self.get_y() + 1)
            self.set_text_color(0, 0, 0)
            self.ln(6)

        def footer(self) -> None:
            self.set_y(-15)
            self.set_font(self.family, "", 9)
            self.cell(0, 10, f"Page {self.page_no()} / {{nb}}", align="C")

    return CorpusPDF


def render_pdf(blocks: list[Block], title: str, font_dir: Path | None = FONT_DIR) -> tuple[bytes, int]:
    """Render blocks to PDF bytes; returns (bytes, page count)."""
    from fpdf.fonts import FontFace

    pdf = _pdf_class()(format="A4")
    pdf.doc_title = title
    regular = font_dir / "DejaVuSans.ttf" if font_dir else None
    if regular and regular.is_file():
        pdf.family, pdf.unicode = "DejaVu", True
        for style, name in (("", "DejaVuSans"), ("B", "DejaVuSans-Bold"),
                            ("I", "DejaVuSans-Oblique"), ("BI", "DejaVuSans-BoldOblique")):
            path = font_dir / f"{name}.ttf"
            pdf.add_font("DejaVu", style, str(path if path.is_file() else regular))
    pdf.set_title(title)
    pdf.set_author(AUTHOR)
    pdf.set_creator("corpus/build.py")
    pdf.set_lang("fr-FR")
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_margins(20, 15, 20)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()
    body, line_h = 10.5, 5.4
    sizes = {1: 16, 2: 13, 3: 11.5}

    def text_block(text: str, style: str = "", size: float = body, indent: float = 0) -> None:
        pdf.set_font(pdf.family, style, size)
        pdf.set_x(pdf.l_margin + indent)
        pdf.multi_cell(pdf.epw - indent, line_h, pdf.clean(text), markdown=True,
                       new_x="LMARGIN", new_y="NEXT")

    for block in blocks:
        if isinstance(block, PageBreak):
            if pdf.get_y() > pdf.t_margin + 15:
                pdf.add_page()
        elif isinstance(block, Heading):
            if pdf.get_y() > pdf.page_break_trigger - 30:  # keep headings with their text
                pdf.add_page()
            size = body if block.article else sizes[block.level]
            pdf.ln(2 if block.article else 4)
            pdf.set_font(pdf.family, "B", size)
            pdf.multi_cell(pdf.epw, size * 0.5, pdf.clean(plain(block.text)),
                           align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1.5)
        elif isinstance(block, Paragraph):
            text_block(block.text, "I" if block.quote else "", body - 0.5 if block.quote else body,
                       indent=6 if block.quote else 0)
            pdf.ln(2.5)
        elif isinstance(block, ListBlock):
            bullet = "•" if pdf.unicode else "-"
            for i, item in enumerate(block.items):
                pdf.set_font(pdf.family, "", body)
                pdf.set_x(pdf.l_margin + 4)
                pdf.cell(6, line_h, block.labels[i] if block.labels else bullet)
                pdf.multi_cell(pdf.epw - 10, line_h, pdf.clean(item), markdown=True,
                               new_x="LMARGIN", new_y="NEXT")
                pdf.ln(0.8)
            pdf.ln(1.7)
        elif isinstance(block, Table):
            ncols = max(len(r) for r in block.rows)
            rows = [tuple(pdf.clean(c) for c in r) + ("",) * (ncols - len(r)) for r in block.rows]
            widths = [max(8, min(40, max(len(plain(r[i])) for r in rows))) for i in range(ncols)]
            pdf.set_font(pdf.family, "", body - 1)
            col_mm = [pdf.epw * w / sum(widths) - 2 for w in widths]
            height = sum(max(math.ceil(pdf.get_string_width(plain(c)) * 1.1 / col_mm[i]) or 1
                             for i, c in enumerate(r)) * (line_h - 0.4) + 1 for r in rows)
            if height < 120 and pdf.get_y() + height > pdf.page_break_trigger:
                pdf.add_page()  # keep short tables on one page
            with pdf.table(col_widths=tuple(widths), text_align="LEFT", line_height=line_h - 0.4,
                           markdown=True, first_row_as_headings=True,
                           headings_style=FontFace(emphasis="BOLD", fill_color=(225, 230, 240))) as table:
                for r in rows:
                    row = table.row()
                    for cell in r:
                        row.cell(cell)
            pdf.ln(3)
    data = bytes(pdf.output())
    return data, pdf.pages_count


# --------------------------------------------------------------------------- DOCX


def render_docx(blocks: list[Block], title: str) -> tuple[bytes, int]:
    """Render blocks to DOCX bytes; returns (bytes, estimated page count)."""
    from docx import Document
    from docx.shared import Mm, Pt

    doc = Document()
    doc.styles["Normal"].font.size = Pt(11)
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)  # A4 instead of the template's Letter
    section.left_margin = section.right_margin = Mm(25)
    props = doc.core_properties
    props.title, props.author, props.last_modified_by = title, AUTHOR, "corpus/build.py"
    props.created = props.modified = FIXED_DATE.replace(tzinfo=None)
    props.revision, props.language = 1, "fr-FR"
    props.comments = "Corpus de démonstration"
    header = section.header.paragraphs[0]
    header.text = title
    header.style = doc.styles["Header"]

    def add_runs(par, text: str) -> None:
        for part, bold in split_bold(text):
            par.add_run(part).bold = bold or None

    chars = 0
    for block in blocks:
        if isinstance(block, PageBreak):
            doc.add_page_break()
        elif isinstance(block, Heading):
            doc.add_heading(plain(block.text), level=block.level)
            chars += len(block.text) + 80
        elif isinstance(block, Paragraph):
            add_runs(doc.add_paragraph(style="Quote" if block.quote else None), block.text)
            chars += len(block.text)
        elif isinstance(block, ListBlock):
            for i, item in enumerate(block.items):
                if block.labels:
                    par = doc.add_paragraph(style="List Paragraph")
                    par.add_run(block.labels[i] + " ")
                else:
                    par = doc.add_paragraph(style="List Bullet")
                add_runs(par, item)
                chars += len(item) + 40
        elif isinstance(block, Table):
            ncols = max(len(r) for r in block.rows)
            table = doc.add_table(rows=len(block.rows), cols=ncols, style="Table Grid")
            for r, row in enumerate(block.rows):
                for c, text in enumerate(row):
                    cell_par = table.cell(r, c).paragraphs[0]
                    add_runs(cell_par, text)
                    if r == 0:
                        for run in cell_par.runs:
                            run.bold = True
                chars += sum(len(t) for t in row) + 60
    buf = io.BytesIO()
    doc.save(buf)
    return _normalize_zip(buf.getvalue()), max(1, round(chars / CHARS_PER_PAGE))


def _normalize_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed timestamps so that identical content gives identical bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(2025, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


# --------------------------------------------------------------------------- manifest & CLI


@dataclass(frozen=True)
class Target:
    id: str
    source: Path
    output: Path
    format: str
    title: str


def load_targets(corpus_dir: Path = CORPUS_DIR) -> list[Target]:
    """Manifest entries with a ``source:``, from manifest.yaml and manifest.d/*.yaml (by id)."""
    files = [corpus_dir / "manifest.yaml", *sorted((corpus_dir / "manifest.d").glob("*.yaml"))]
    targets: dict[str, Target] = {}
    for path in files:
        if not path.is_file():
            continue
        for entry in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            if not entry.get("source"):
                continue
            fmt = entry["format"]
            if fmt not in ("docx", "pdf") or not entry["file"].endswith("." + fmt):
                raise ValueError(f"{path.name}: entrée {entry['id']} : format {fmt!r} incohérent avec {entry['file']}")
            targets[entry["id"]] = Target(entry["id"], corpus_dir / entry["source"], corpus_dir / entry["file"],
                                          fmt, entry["title"])
    return sorted(targets.values(), key=lambda t: str(t.output))


def render(target: Target) -> tuple[bytes, int]:
    blocks = parse_markdown(target.source.read_text(encoding="utf-8"))
    if target.format == "pdf":
        return render_pdf(blocks, target.title)
    return render_docx(blocks, target.title)


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(CORPUS_DIR.parent))
    except ValueError:
        return str(path)


def rendered_content(data: bytes, fmt: str) -> object:
    """What a generated file says, comparable across machines: a PDF's metadata and page texts (the
    embedded font subset depends on the installed DejaVu and fontTools versions), a DOCX's bytes."""
    if fmt != "pdf":
        return data
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return dict(reader.metadata or {}), [page.extract_text() for page in reader.pages]


def check(targets: list[Target]) -> int:
    """Report missing or stale generated files (by content, never by mtime: a clone's mtimes are
    checkout order); returns the number of problems."""
    problems = 0
    for t in targets:
        if not t.output.is_file():
            print(f"Manquant : {_rel(t.output)} (source {_rel(t.source)})")
            problems += 1
        elif rendered_content(render(t)[0], t.format) != rendered_content(t.output.read_bytes(), t.format):
            print(f"Périmé : {_rel(t.output)} ne correspond plus au rendu de {_rel(t.source)}")
            problems += 1
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Génère les fichiers DOCX/PDF du corpus de démonstration.")
    parser.add_argument("ids", nargs="*", help="identifiants de documents à générer (tous par défaut)")
    parser.add_argument("--check", action="store_true",
                        help="vérifie sans rien écrire que chaque fichier généré existe et est à jour")
    args = parser.parse_args(argv)
    targets = load_targets()
    if args.ids:
        unknown = set(args.ids) - {t.id for t in targets}
        if unknown:
            print(f"Identifiant(s) inconnu(s) : {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        targets = [t for t in targets if t.id in args.ids]
    missing = [t for t in targets if not t.source.is_file()]
    for t in missing:
        print(f"Source introuvable : {_rel(t.source)} (document {t.id})", file=sys.stderr)
    if missing:
        return 2
    declared = {t.source.resolve() for t in load_targets()}
    for src in sorted((CORPUS_DIR / "sources").rglob("*.md")):
        if src.resolve() not in declared:
            print(f"Attention : source sans entrée de manifeste : {_rel(src)}", file=sys.stderr)
    if args.check:
        problems = check(targets)
        if problems:
            print(f"{problems} fichier(s) à régénérer : lancer « python corpus/build.py ».")
            return 1
        print(f"Corpus à jour : {len(targets)} fichier(s) généré(s) vérifié(s).")
        return 0
    total = 0
    for t in targets:
        data, pages = render(t)
        t.output.parent.mkdir(parents=True, exist_ok=True)
        t.output.write_bytes(data)
        total += pages
        approx = "" if t.format == "pdf" else "≈ "
        print(f"Généré : {_rel(t.output)} ({approx}{pages} pages)")
    print(f"{len(targets)} fichier(s) généré(s), {total} pages au total.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
