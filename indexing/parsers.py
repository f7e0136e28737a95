"""File parsers: every supported format becomes llama-index ``Document``s of plain structured text.

Conventions of the produced text, relied on by the chunker: headings are Markdown (``## Titre``),
list items start with ``- ``, table rows are ``cell | cell``, and PDF pages are separated by a
form feed (``\\f``) so that chunks keep their page number.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable

from llama_index.core.schema import Document

from indexing.code_context import chapter_contexts
from indexing.markers import NUMBERED_HEADING_PREFIX, PAGE_BREAK

SUPPORTED_SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm", ".docx", ".pdf", ".jsonl")


class ParseError(Exception):
    """A file that cannot be ingested; the message (French) says why."""


@dataclass
class ParsedFile:
    documents: list[Document]
    warnings: list[str] = field(default_factory=list)


def parse_file(path: Path, max_bytes: int, ocr: Any = None,
               on_ocr_page: Callable[[int, int], None] | None = None) -> ParsedFile:
    """Parse one file into documents (one per file, or one per record for JSONL).

    ``ocr`` (``OcrSettings``) turns on the OCR of scanned PDF pages; ``on_ocr_page(done, total)``
    follows it page by page."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ParseError(f"format non pris en charge ({suffix or 'sans extension'}) ; formats acceptés : "
                         + ", ".join(SUPPORTED_SUFFIXES))
    size = path.stat().st_size
    if size == 0:
        raise ParseError("fichier vide")
    if size > max_bytes:
        raise ParseError(f"fichier trop volumineux ({size / 1e6:.0f} Mo > {max_bytes / 1e6:.0f} Mo autorisés)")
    warning = None
    match suffix:
        case ".md" | ".markdown" | ".txt":
            text, warning = read_text(path)
            text = strip_markdown_emphasis(text)
            docs = [Document(text=text, metadata={"title": _markdown_title(text) or path.stem})]
        case ".html" | ".htm":
            raw, warning = read_text(path)
            title, text = html_to_text(raw)
            docs = [Document(text=text, metadata={"title": title or path.stem})]
        case ".docx":
            docs = [_parse_docx(path)]
        case ".pdf":
            return _parse_pdf(path, ocr, on_ocr_page)
        case ".jsonl":
            return _parse_jsonl(path)
    if not docs[0].text.strip():
        raise ParseError("aucun texte exploitable dans le fichier")
    return ParsedFile(docs, [warning] if warning else [])


def read_text(path: Path) -> tuple[str, str | None]:
    """Decode text as UTF-8, else as Windows-1252 with a warning; binary content is refused."""
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise ParseError("contenu binaire dans un fichier texte (fichier corrompu ou mal nommé ?)")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "encodage non UTF-8 (lu comme Windows-1252)"


def _markdown_title(text: str) -> str | None:
    match = re.search(r"^#\s+(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else None


def html_to_text(html: str) -> tuple[str | None, str]:
    """HTML → (title, text with Markdown headings, bullet items and ``a | b`` table rows).

    A site's page (navigation, banners, footer, cookie notice) is reduced to its main content
    (``indexing.web``); a bare document is read whole."""
    from bs4 import BeautifulSoup

    from indexing.web import has_site_chrome, main_content

    soup = BeautifulSoup(html, "html.parser")
    if has_site_chrome(soup) and (content := main_content(html)) and content[1].strip():
        return content
    for tag in soup(["script", "style", "nav", "noscript"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    blocks: list[str] = []
    body = soup.body or soup
    for element in body.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "table", "blockquote", "pre", "dt", "dd"]):
        if element.find_parent(["table"]) is not None and element.name != "table":
            continue
        if element.name in ("p", "li") and element.find_parent(["li", "blockquote"]) is not None:
            continue
        if element.name == "table":
            rows = []
            for tr in element.find_all("tr"):
                cells = [c.get_text(" ", strip=True) for c in tr.find_all(["td", "th"])]
                if any(cells):
                    rows.append(" | ".join(cells))
            blocks.append("\n".join(rows))
            continue
        text = " ".join(element.get_text(" ", strip=True).split())
        if not text:
            continue
        if element.name[0] == "h" and element.name[1:].isdigit():
            blocks.append("#" * int(element.name[1]) + " " + text)
            title = title or (text if element.name == "h1" else None)
        elif element.name == "li":
            blocks.append("- " + text)
        else:
            blocks.append(text)
    if not blocks:  # fragments without block tags (e.g. CASF records with <br/> only)
        blocks = [line.strip() for line in soup.get_text("\n").splitlines() if line.strip()]
    return title, "\n\n".join(blocks)


def _parse_docx(path: Path) -> Document:
    from docx.opc.exceptions import PackageNotFoundError

    from indexing.word import open_word, word_blocks

    try:
        document = open_word(path)
    except (PackageNotFoundError, KeyError, ValueError) as exc:
        raise ParseError(f"document Word illisible ou corrompu ({exc.__class__.__name__})") from exc
    except Exception as exc:  # zipfile.BadZipFile and friends
        raise ParseError(f"document Word illisible ou corrompu ({exc.__class__.__name__})") from exc
    blocks: list[str] = []
    for block in word_blocks(document):
        if block.kind == "table":
            rows = [" | ".join(row) for row in block.rows]
            blocks.append("\n".join(r for r in rows if r.strip(" |")))
        else:
            blocks.append({"heading": "#" * block.level + " ", "item": "- "}.get(block.kind, "") + block.text)
    title = document.core_properties.title or _markdown_title("\n".join(blocks)) or path.stem
    return Document(text="\n\n".join(blocks), metadata={"title": title})


def _parse_pdf(path: Path, ocr: Any = None, on_ocr_page: Callable[[int, int], None] | None = None) -> ParsedFile:
    """Pages separated by form feeds; pages read by OCR are listed in ``metadata["ocr_pages"]``."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    from indexing.pdf import read_pdf

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ParseError("PDF protégé par un mot de passe")
        meta_title = (reader.metadata.title if reader.metadata else None) or None
        extracted = read_pdf(path, ocr, on_ocr_page)
    except ParseError:
        raise
    except (PdfReadError, ValueError, KeyError, OSError, TypeError) as exc:
        raise ParseError(f"PDF illisible ou corrompu ({exc.__class__.__name__})") from exc
    except Exception as exc:  # pdfminer's own errors (PDFSyntaxError, PdfminerException…)
        if "password" in str(exc).lower() or "decrypt" in str(exc).lower():
            raise ParseError("PDF protégé par un mot de passe") from exc
        raise ParseError(f"PDF illisible ou corrompu ({exc.__class__.__name__})") from exc
    pages = [_unwrap_lines(page) for page in extracted.pages]
    unread = sorted(set(extracted.scanned_pages) - set(extracted.ocr_pages))
    warnings = list(extracted.warnings)
    if unread:
        why = (warnings[0] if warnings else "la reconnaissance de caractères (OCR) est désactivée "
               "(réglage ingestion.ocr.enabled, variable AUTONOMIE_INGESTION__OCR__ENABLED)")
        pages_text = _page_list(unread)
        if not any(p.strip() for p in pages):
            raise ParseError(f"PDF sans couche texte (document numérisé, {pages_text}) : {why}")
        warnings.append(f"{pages_text} sans couche texte (numérisée(s)) non lue(s) : {why}")
    elif not any(p.strip() for p in pages):
        raise ParseError("PDF sans texte extractible")
    if extracted.ocr_pages:
        warnings.append(f"texte issu d'une numérisation (OCR) : {_page_list(extracted.ocr_pages)}")
    metadata: dict[str, Any] = {"title": meta_title or path.stem, "paged": True}
    if extracted.ocr_pages:
        metadata["ocr_pages"] = extracted.ocr_pages
    return ParsedFile([Document(text=PAGE_BREAK.join(pages), metadata=metadata)], warnings)


def _page_list(pages: list[int]) -> str:
    shown = ", ".join(str(p) for p in pages[:12]) + (" …" if len(pages) > 12 else "")
    return f"page{'s' if len(pages) > 1 else ''} {shown}"


_CONTINUATION_RE = re.compile(r"^[a-zà-ÿœ0-9(«»,;:%€)]")
# A numbered heading (indexing/markers.py) starts a line of its own, even after a line without final
# punctuation (another heading, a table row).
_NUMBERED_HEADING_RE = re.compile("^" + NUMBERED_HEADING_PREFIX)


def _unwrap_lines(page: str) -> str:
    """Re-join lines that PDF layout wrapped mid-sentence; collapse runs of spaces."""
    out: list[str] = []
    for raw in page.splitlines():
        line = " ".join(raw.split())
        if (out and out[-1] and line and not out[-1].endswith((".", ":", ";", "!", "?"))
                and _CONTINUATION_RE.match(line) and not _NUMBERED_HEADING_RE.match(line)):
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(line)
    return "\n".join(out)


_EMPHASIS_RE = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")


def strip_markdown_emphasis(text: str) -> str:
    """``**six mois**`` → ``six mois``: emphasis marks are layout, not words to quote."""
    return _EMPHASIS_RE.sub(r"\2", text)


# Keys of a JSONL record that are document metadata rather than text.
RECORD_METADATA_KEYS = (
    "doc_type", "territory", "date", "validity", "valid_from", "valid_until", "replaced_by",
    "visibility", "audience", "source_url",
)


def _parse_jsonl(path: Path) -> ParsedFile:
    text, warning = read_text(path)
    docs: list[Document] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record: dict[str, Any] = json.loads(line)
            record_id, body = str(record["id"]).strip(), record["text"]
            if not record_id or not isinstance(body, str) or not body.strip():
                raise ValueError
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            problems.append(str(number))
            continue
        if re.search(r"<(table|p|br|td|div)\b", body, re.IGNORECASE):
            body = html_to_text(body)[1]
        metadata = {k: record[k] for k in RECORD_METADATA_KEYS if record.get(k) is not None}
        metadata["title"] = str(record.get("title") or record_id)
        docs.append(Document(text=body, id_=record_id, metadata={"record_id": record_id, **metadata}))
    for document, context in zip(docs, chapter_contexts([d.metadata["title"] for d in docs], [d.text for d in docs])):
        if context:
            document.metadata["context"] = context
    if not docs:
        raise ParseError("aucun enregistrement JSONL valide (champs « id » et « text » requis)")
    warnings = [warning] if warning else []
    if problems:
        shown = ", ".join(problems[:10]) + (" …" if len(problems) > 10 else "")
        warnings.append(f"{len(problems)} ligne(s) JSONL invalide(s) ignorée(s) : {shown}")
    return ParsedFile(docs, warnings)
