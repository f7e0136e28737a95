"""The document viewer (``GET /documents/{doc_id}``): the original file of a citation, opened where it cites.

- PDF: every page rendered (pypdfium2) as a lazily loaded image in a page frame ``id="page=N"`` (so the
  citation's ``#page=N`` scrolls there), the cited passage highlighted over its page with the words'
  boxes (pdfplumber), the original file one click away (``?original=1#page=N``, the browser's PDF viewer);
- Markdown, text, HTML and Word: the original rendered as HTML (markdown-it without raw HTML, HTML cleaned
  of scripts, styles and forms, Word paragraphs, lists and tables), the blocks of the cited passage wrapped
  in ``<mark>``, the first one ``id="passage-K"`` (the citation's ``#passage-K``);
- a JSONL record, or a source file no longer on disk: the indexed passages in reading order, the cited one
  marked.

Pages carry no script and a strict Content-Security-Policy: a document's own markup can never run code.
"""

from __future__ import annotations

import io
import re
from difflib import SequenceMatcher
from functools import lru_cache
from html import escape
from pathlib import Path
from typing import Any

from lxml import html as lxml_html

from assistant.retrieval.retriever import format_location
from assistant.settings import PROJECT_ROOT
from assistant.text.french import fold
from indexing.pdfium import PDFIUM_LOCK

PAGE_SCALE = 1.5  # rendered pixels per PDF point (108 dpi)
MIN_RUN = 3  # words: a shorter match between a passage and a PDF page is a coincidence
BLOCK_TAGS = {"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "pre", "blockquote", "dd", "dt", "caption"}
CSP = ("default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'self'; "
       "base-uri 'none'; form-action 'none'")
MEDIA_TYPES = {".pdf": "application/pdf", ".md": "text/plain", ".markdown": "text/plain", ".txt": "text/plain",
               ".html": "text/plain", ".htm": "text/plain", ".jsonl": "text/plain",
               ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
_WORD_RE = re.compile(r"[^\W_]+")

STYLE = """
body { font-family: "Source Sans Pro", ui-sans-serif, system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
       margin: 0; color: #202124; background: #f1f3f4; line-height: 1.5; }
header { position: sticky; top: 0; z-index: 2; background: #ffffff; border-bottom: 1px solid #c4c7c5; padding: .6rem 1.2rem; }
header h1 { font-size: 1.15rem; margin: 0; }
header p { margin: .2rem 0 0 0; color: #3c4043; font-size: .92rem; }
header a { color: #1a3e8c; }
main { max-width: 60rem; margin: 1rem auto; padding: 1.2rem 1.6rem; background: #ffffff; border-radius: 8px; }
main.pdf { max-width: none; background: transparent; padding: 0; }
mark { background: #ffe066; color: #000000; padding: 0 .1rem; scroll-margin-top: 8rem; }
.note { color: #7a4100; background: #fff4e5; padding: .3rem .5rem; border-radius: 4px; }
table { border-collapse: collapse; } td, th { border: 1px solid #c4c7c5; padding: .3rem .5rem; vertical-align: top; }
.page { position: relative; margin: 0 auto 1rem auto; background: #ffffff; box-shadow: 0 1px 4px rgba(0,0,0,.25);
        scroll-margin-top: 6rem; }
.page img { display: block; width: 100%; height: auto; }
.page .page-number { position: absolute; top: -1.4rem; left: 0; font-size: .85rem; color: #3c4043; }
.page mark { position: absolute; padding: 0; background: rgba(255, 200, 0, .45); mix-blend-mode: multiply; }
.passages section { border-left: 4px solid transparent; padding-left: .8rem; margin-bottom: 1rem; }
.passages h2 { font-size: 1rem; color: #3c4043; margin: 0 0 .2rem 0; }
"""


class ViewerError(Exception):
    """A document that cannot be shown (French message, no server path)."""


# --- the source file -----------------------------------------------------------------------------------
def source_path(source_file: str | None, upload_dir: Path) -> Path | None:
    """The indexed ``source_file`` on disk, or None (JSONL records, files moved or deleted since indexing).

    Stored paths are absolute, or relative to the directory ingestion ran in (the project, usually), or to
    the upload area's parent (``uploads/<user>/<file>``)."""
    if not source_file or "#" in source_file:
        return None
    stored = Path(source_file)
    candidates = [stored] if stored.is_absolute() else [upload_dir.parent / stored, PROJECT_ROOT / stored,
                                                         Path.cwd() / stored]
    return next((p for p in candidates if p.is_file()), None)


def original_media_type(path: Path) -> str:
    return MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")


# --- the page ------------------------------------------------------------------------------------------
def viewer_page(meta: dict[str, Any], passages: list[dict[str, Any]], path: Path | None, passage: int | None,
                self_url: str, facts: str) -> str:
    """The whole HTML page for one document; ``passage`` is the cited chunk's index (None: no highlight)."""
    cited = next((p for p in passages if p.get("chunk_index") == passage), None) if passage is not None else None
    title = meta.get("title") or meta["doc_id"]
    links = []
    if path is not None:
        page_fragment = f"#page={cited['page']}" if cited and cited.get("page") else ""
        links.append(f'<a href="{escape(self_url)}?original=1{page_fragment}">Ouvrir le fichier original '
                     f'({escape(path.suffix.lstrip(".").upper())})</a>')
    note = ""
    if passage is not None and cited is None:
        note = '<p class="note">Le passage cité n\'existe plus dans ce document (document mis à jour depuis la réponse ?).</p>'
    suffix = path.suffix.lower() if path else ""
    if suffix == ".pdf":
        body, found = pdf_body(path, self_url, cited)
        main_class = "pdf"
    else:
        main_class = ""
        try:
            rendered = render_original(path) if path is not None and suffix != ".jsonl" else None
        except Exception:  # an unreadable original: the indexed passages still show the document
            rendered = None
        if rendered is None:
            why = ("Enregistrement d'un fichier JSONL : affiché à partir de ses passages indexés." if suffix == ".jsonl"
                   or "#" in (meta.get("source_file") or "") else "Fichier original indisponible sur le serveur : "
                   "le document est affiché à partir de ses passages indexés.")
            body, found = passages_body(passages, passage, why), cited is not None
        else:
            body, found = highlight_blocks(rendered, cited["text"] if cited else "", passage)
    if cited is not None and not found:
        note += ('<p class="note">Le passage cité n\'a pas pu être repéré dans la mise en page du fichier '
                 f'({"page numérisée ou " if suffix == ".pdf" else ""}texte transformé à l\'indexation) ; '
                 f"il figure {'à la page ' + str(cited['page']) if cited.get('page') else 'dans le document'}.</p>")
    return (f'<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>{escape(title)} — Assistant Autonomie</title>'
            f'<style>{STYLE}</style></head><body><header><h1>{escape(title)}</h1>'
            f'<p>{escape(facts)}{" · " if links else ""}{" · ".join(links)}</p>{note}</header>'
            f'<main class="{main_class}">{body}</main></body></html>')


def error_page(status: int, message: str) -> str:
    return (f'<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>Erreur {status} — Assistant Autonomie'
            f'</title><style>{STYLE}</style></head><body><main><h1>Document indisponible</h1><p>{escape(message)}</p>'
            '</main></body></html>')


# --- PDF -----------------------------------------------------------------------------------------------
@lru_cache(maxsize=32)
def _pdf_sizes(path: str, mtime: float) -> list[tuple[float, float]]:
    import pypdfium2

    with PDFIUM_LOCK:
        pdf = pypdfium2.PdfDocument(path)
        try:
            return [pdf.get_page_size(i) for i in range(len(pdf))]
        finally:
            pdf.close()


def pdf_page_count(path: Path) -> int:
    return len(_pdf_sizes(str(path), path.stat().st_mtime))


def pdf_page_png(path: Path, page: int) -> bytes:
    """Page ``page`` (1-based) as a PNG image."""
    if not 1 <= page <= pdf_page_count(path):
        raise ViewerError(f"Page {page} absente du document.")
    return _render_png(str(path), path.stat().st_mtime, page)


@lru_cache(maxsize=64)
def _render_png(path: str, mtime: float, page: int) -> bytes:
    import pypdfium2

    with PDFIUM_LOCK:
        pdf = pypdfium2.PdfDocument(path)
        try:
            image = pdf[page - 1].render(scale=PAGE_SCALE).to_pil()
        finally:
            pdf.close()
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def pdf_boxes(path: Path, page: int, text: str) -> dict[int, list[tuple[float, float, float, float]]]:
    """The cited text's word boxes, as fractions of their page (left, top, width, height), on ``page`` and the
    next one (a passage may run over a page break). Runs of fewer than ``MIN_RUN`` words are ignored."""
    import pdfplumber

    wanted = _tokens(text)
    if not wanted:
        return {}
    words: list[tuple[str, int, tuple[float, float, float, float]]] = []
    with pdfplumber.open(path) as pdf:
        for number in (page, page + 1):
            if number > len(pdf.pages):
                break
            p = pdf.pages[number - 1]
            width, height = float(p.width), float(p.height)
            for w in p.extract_words(keep_blank_chars=False, use_text_flow=True):
                box = (w["x0"] / width, w["top"] / height, (w["x1"] - w["x0"]) / width, (w["bottom"] - w["top"]) / height)
                words.extend((token, number, box) for token in _tokens(w["text"]))
    matcher = SequenceMatcher(None, [w[0] for w in words], wanted, autojunk=False)
    boxes: dict[int, list[tuple[float, float, float, float]]] = {}
    for start, _, size in matcher.get_matching_blocks():
        if size >= MIN_RUN:
            for _, number, box in words[start:start + size]:
                if not boxes.get(number) or boxes[number][-1] != box:
                    boxes.setdefault(number, []).append(box)
    return boxes


def pdf_body(path: Path, self_url: str, cited: dict[str, Any] | None) -> tuple[str, bool]:
    sizes = _pdf_sizes(str(path), path.stat().st_mtime)
    cited_page = (cited.get("page") or 1) if cited else None
    boxes = pdf_boxes(path, cited_page, cited["text"]) if cited else {}
    frames, anchored = [], False
    for number, (width, height) in enumerate(sizes, start=1):
        marks = []
        for left, top, w, h in ((round(100 * v, 3) for v in box) for box in boxes.get(number, [])):
            ident = f' id="passage-{cited["chunk_index"]}"' if not anchored else ""
            anchored = True
            marks.append(f'<mark{ident} style="left:{left}%;top:{top}%;width:{w}%;height:{h}%"></mark>')
        loading = "eager" if number == cited_page else "lazy"
        frames.append(
            f'<section class="page" id="page={number}" aria-label="Page {number}" style="width:min(100%,{width * PAGE_SCALE:.0f}px);'
            f'aspect-ratio:{width:.2f}/{height:.2f}"><span class="page-number">Page {number}</span>'
            f'<img src="{escape(self_url)}?rendu={number}" alt="Page {number} du document" loading="{loading}" '
            f'width="{width * PAGE_SCALE:.0f}" height="{height * PAGE_SCALE:.0f}">{"".join(marks)}</section>')
    return "".join(frames), bool(boxes)


# --- Markdown, text, HTML, Word ------------------------------------------------------------------------
def render_original(path: Path) -> str | None:
    """The original file as HTML (a fragment), or None for formats shown from their passages."""
    suffix = path.suffix.lower()
    if suffix in (".md", ".markdown"):
        from markdown_it import MarkdownIt

        from indexing.parsers import read_text

        return MarkdownIt("commonmark", {"html": False}).enable("table").render(read_text(path)[0])
    if suffix == ".txt":
        from indexing.parsers import read_text

        paragraphs = re.split(r"\n\s*\n", read_text(path)[0])
        return "".join(f"<p>{escape(p.strip()).replace(chr(10), '<br>')}</p>" for p in paragraphs if p.strip())
    if suffix in (".html", ".htm"):
        from indexing.parsers import read_text

        return clean_html(read_text(path)[0])
    if suffix == ".docx":
        return docx_html(path)
    return None


def clean_html(raw: str) -> str:
    """A web page's body without scripts, styles, forms, frames, embedded objects or event attributes."""
    from lxml_html_clean import Cleaner

    cleaner = Cleaner(scripts=True, javascript=True, comments=True, style=True, inline_style=True, links=True,
                      meta=True, page_structure=True, processing_instructions=True, embedded=True, frames=True,
                      forms=True, annoying_tags=True, remove_unknown_tags=True, safe_attrs_only=True,
                      kill_tags=["nav", "noscript", "img"])
    document = lxml_html.document_fromstring(raw)
    body = document.find("body")
    root = body if body is not None else document
    return "".join(cleaner.clean_html(lxml_html.tostring(child, encoding="unicode")) for child in root)


def docx_html(path: Path) -> str:
    """Headings, paragraphs, list items and tables of a Word document, in order."""
    from indexing.word import open_word, word_blocks

    out: list[str] = []
    in_list = False
    for block in word_blocks(open_word(path)):
        if in_list and block.kind != "item":
            out.append("</ul>")
            in_list = False
        if block.kind == "heading":
            out.append(f"<h{block.level}>{escape(block.text)}</h{block.level}>")
        elif block.kind == "item":
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{escape(block.text)}</li>")
        elif block.kind == "paragraph":
            out.append(f"<p>{escape(block.text)}</p>")
        else:
            rows = "".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in block.rows)
            out.append(f"<table>{rows}</table>")
    if in_list:
        out.append("</ul>")
    return "".join(out)


def highlight_blocks(fragment: str, passage_text: str, chunk_index: int | None) -> tuple[str, bool]:
    """Wraps in ``<mark>`` the blocks (paragraphs, items, cells, headings) of ``fragment`` that hold the
    passage: the longest run of consecutive blocks each inside the passage, holding it, or overlapping one of
    its ends by six words or more. The first mark gets ``id="passage-<chunk_index>"``."""
    root = lxml_html.fragment_fromstring(fragment or "<p></p>", create_parent="div")
    wanted = " " + " ".join(_tokens(passage_text)) + " "
    if not wanted.strip():
        return lxml_html.tostring(root, encoding="unicode")[5:-6], False
    leaves = [el for el in root.iter() if isinstance(el.tag, str) and el.tag in BLOCK_TAGS
              and not any(isinstance(d.tag, str) and d.tag in BLOCK_TAGS for d in el.iterdescendants())]
    scores = []
    for leaf in leaves:
        tokens = _tokens(leaf.text_content())
        scores.append(len(tokens) if tokens and _belongs(tokens, wanted) else (None if not tokens else 0))
    best: tuple[int, int, int] = (0, -1, -1)  # (words, first, last)
    run_words, run_start = 0, None
    for i, score in enumerate(scores):
        if score is None:  # an empty block neither breaks nor extends a run
            continue
        if score:
            if run_start is None:
                run_start, run_words = i, 0
            run_words += score
            if run_words > best[0]:
                best = (run_words, run_start, i)
        else:
            run_start = None
    run = [leaf for leaf, score in zip(leaves[best[1]:best[2] + 1], scores[best[1]:best[2] + 1]) if score]
    while len(run) > 1 and len(_tokens(run[0].text_content())) < MIN_RUN:  # a one-word heading found in the passage
        run.pop(0)
    while len(run) > 1 and len(_tokens(run[-1].text_content())) < MIN_RUN:
        run.pop()
    if not run:
        return lxml_html.tostring(root, encoding="unicode")[5:-6], False
    first = True
    for leaf in run:
        mark = lxml_html.Element("mark")
        if first and chunk_index is not None:
            mark.set("id", f"passage-{chunk_index}")
        first = False
        mark.text, leaf.text = leaf.text, None
        for child in list(leaf):
            mark.append(child)
        leaf.append(mark)
    return lxml_html.tostring(root, encoding="unicode")[5:-6], True


def _belongs(tokens: list[str], wanted: str, overlap: int = 6) -> bool:
    block = " " + " ".join(tokens) + " "
    if block in wanted or wanted in block:
        return True
    words = wanted.split()
    for size in range(min(len(tokens), len(words)) - 1, overlap - 1, -1):
        if tokens[-size:] == words[:size] or tokens[:size] == words[-size:]:
            return True
    return False


def passages_body(passages: list[dict[str, Any]], cited: int | None, note: str) -> str:
    """A document shown from its indexed passages (JSONL records, originals no longer on disk)."""
    sections = []
    for p in passages:
        text = escape(p["text"]).replace("\n", "<br>")
        if p.get("chunk_index") == cited:
            text = f'<mark id="passage-{cited}">{text}</mark>'
        place = format_location("", p.get("section_path") or "", p.get("article"), p.get("page"))
        heading = f"<h2>{escape(place)}</h2>" if place else ""
        sections.append(f"<section>{heading}<p>{text}</p></section>")
    return f'<p class="note">{escape(note)}</p><div class="passages">{"".join(sections)}</div>'


def _tokens(text: str) -> list[str]:
    return _WORD_RE.findall(fold(text or ""))
