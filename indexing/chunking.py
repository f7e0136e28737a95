"""Structure-aware chunking of French administrative and legal text.

Sections are cut on headings (Markdown ``#``, ``Titre``/``Chapitre``/``Section``, numbered headings
``2.3``) and on citable units (``Article L. 232-1``, ``Art. R. 146-28``, ``Annexe 2-1``, FAQ
questions). Each chunk carries its heading path (document › section › article) and its page. A
section longer than the size limit is split on paragraphs, then lines, then sentences; overlap is
only used for that fallback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

from llama_index.core.node_parser import NodeParser
from llama_index.core.schema import BaseNode, Document, TextNode

from assistant.text.french import NOT_AFTER_ABBREVIATION
from indexing.markers import NUMBERED_HEADING_PREFIX, PAGE_BREAK

LEAF_LEVEL = 9  # articles, annexes and FAQ questions: the citable units, below every heading level
PATH_SEPARATOR = " › "

_MARKDOWN_RE = re.compile(r"^(#{1,6})\s+(.+?)\s*#*$")
_ARTICLE_RE = re.compile(
    r"^(?:\*\*)?(?:Article|Art\.)\s+(premier|1er|[LRDA]\.?\s?\*?\d+(?:[-.]\d+)*|\d+(?:[-.]\d+)*)\b",
    re.IGNORECASE,
)
_ANNEX_RE = re.compile(r"^(?:\*\*)?Annexe\s+(\d+(?:[-.]\d+)*|[IVX]+)\b", re.IGNORECASE)
_QUESTION_RE = re.compile(r"^(?:\*\*)?(?:Question\s+\d+|Q\s?\d+)\s*[.:—–-]", re.IGNORECASE)
_DIVISION_LEVELS = {"livre": 1, "titre": 2, "partie": 2, "volet": 2, "chapitre": 3, "section": 4, "sous-section": 5, "paragraphe": 6}
_DIVISION_RE = re.compile(
    r"^(Livre|Titre|Partie|Volet|Chapitre|Sous-section|Section|Paragraphe)\s+([IVXLC]+|\d+|premier|préliminaire)\b",
    re.IGNORECASE,
)
_NUMBERED_RE = re.compile("^" + NUMBERED_HEADING_PREFIX + r"(.{2,91})$")
_SENTENCE_END_RE = re.compile(rf"(?<=[.!?;]){NOT_AFTER_ABBREVIATION}\s+(?=[A-ZÀ-ÖØ-Ý«(\d-])")


@dataclass
class ChunkSpec:
    text: str
    section_path: tuple[str, ...]
    page: int | None
    article: str | None


def heading_of(line: str, markdown: bool = False) -> tuple[int, str] | None:
    """(level, label) when ``line`` is a heading, else None.

    In a Markdown document (``markdown=True``) divisions and numbered headings are expected as ``#``
    headings, so plain lines only count when they are citable units (article, annex, question).
    """
    if match := _MARKDOWN_RE.match(line):
        label = _clean_label(match.group(2))
        inner = heading_of(label)
        # "### Article L. 232-1" is an article wherever it sits in the Markdown hierarchy.
        return (LEAF_LEVEL, inner[1]) if inner and inner[0] == LEAF_LEVEL else (len(match.group(1)), label)
    if len(line) > 160 or " | " in line:  # a table row ("Volet 1 — Familial | Travailleur social") is no heading
        return None
    if _ARTICLE_RE.match(line) or _ANNEX_RE.match(line) or _QUESTION_RE.match(line):
        return LEAF_LEVEL, _clean_label(line)
    if markdown:
        return None
    if match := _DIVISION_RE.match(line):
        return _DIVISION_LEVELS[match.group(1).lower()], _clean_label(line)
    if (match := _NUMBERED_RE.match(line)) and not line.rstrip().endswith((".", ",", ";", ":")):
        return 1 + match.group(1).count("."), _clean_label(line)
    return None


def _clean_label(text: str) -> str:
    return text.strip().strip("*#").strip()


def article_label(label: str) -> str | None:
    """``Article L. 232-1 — Conditions`` → ``L. 232-1``; ``Annexe 2-5`` → ``Annexe 2-5``."""
    if match := _ARTICLE_RE.match(label):
        return match.group(1).replace("*", "")
    if match := _ANNEX_RE.match(label):
        return f"Annexe {match.group(1)}"
    return None


def split_structure(text: str, max_chars: int, overlap_chars: int) -> list[ChunkSpec]:
    """Cut ``text`` (Markdown-like, pages separated by form feeds) into citable chunks."""
    stack: list[tuple[int, str]] = []
    sections: list[tuple[tuple[str, ...], list[tuple[int | None, str]]]] = []
    body: list[tuple[int | None, str]] = []
    paged = PAGE_BREAK in text
    markdown = re.search(r"^#{1,6}\s", text, re.MULTILINE) is not None

    def close_section() -> None:
        if any(line.strip() for _, line in body):
            sections.append((tuple(label for _, label in stack), list(body)))
        body.clear()

    last_number: tuple[int, ...] | None = None
    for page_index, page_text in enumerate(text.split(PAGE_BREAK)):
        page = page_index + 1 if paged else None
        for raw in page_text.splitlines():
            line = raw.strip()
            heading = heading_of(line, markdown) if line else None
            if heading is not None and not markdown and (numbered := _NUMBERED_RE.match(line)):
                number = tuple(int(n) for n in numbered.group(1).split("."))
                if _follows(last_number, number):
                    last_number = number
                else:  # "1. Aides humaines 3 960 €" after "2.6": a numbered table row
                    heading = None
            if heading is None:
                body.append((page, line))
                continue
            close_section()
            level, label = heading
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, label))
    close_section()

    chunks: list[ChunkSpec] = []
    for path, lines in sections:
        article = next((a for a in (article_label(p) for p in reversed(path)) if a), None)
        for piece_text, page in _split_section(lines, max_chars, overlap_chars):
            chunks.append(ChunkSpec(piece_text, path, page, article))
    return chunks


def _follows(previous: tuple[int, ...] | None, number: tuple[int, ...]) -> bool:
    """Whether heading ``number`` can come after heading ``previous``: its first child, or the next
    sibling of it or of an ancestor, or that sibling's first child — one skipped number tolerated each
    time (a heading lost by the reading, e.g. misread by OCR, must not hide all its siblings)."""
    if previous is None or number in (previous + (1,), previous + (2,)):
        return True
    for depth in range(1, len(previous) + 1):
        sibling = previous[: depth - 1]
        step = number[depth - 1] - previous[depth - 1] if len(number) >= depth and number[: depth - 1] == sibling else 0
        if 0 < step <= 2 and (len(number) == depth or (len(number) == depth + 1 and number[-1] == 1)):
            return True
    return False


def _paragraphs(lines: list[tuple[int | None, str]]) -> list[tuple[int | None, str]]:
    """Join lines into paragraphs (blank-line separated, and at page breaks: each paragraph keeps its own page,
    the one its citation opens); list items and table rows stay lines."""
    paragraphs: list[tuple[int | None, str]] = []
    current: list[str] = []
    start_page: int | None = None
    last_page: int | None = None
    for page, line in lines + [(None, "")]:
        if line and current and page != last_page:
            paragraphs.append((start_page, "\n".join(current)))
            current = []
        last_page = page
        if not line:
            if current:
                paragraphs.append((start_page, "\n".join(current)))
            current, start_page = [], None
            continue
        if not current:
            start_page = page
        current.append(line)
    return paragraphs


def _split_section(
    lines: list[tuple[int | None, str]], max_chars: int, overlap_chars: int
) -> list[tuple[str, int | None]]:
    units: list[tuple[int | None, str]] = []
    for page, paragraph in _paragraphs(lines):
        if len(paragraph) <= max_chars:
            units.append((page, paragraph))
            continue
        for line in paragraph.split("\n"):
            if len(line) <= max_chars:
                units.append((page, line))
            else:
                units.extend((page, piece) for piece in _split_long(line, max_chars, overlap_chars))
    pieces: list[tuple[str, int | None]] = []
    current: list[str] = []
    current_page: int | None = None
    for page, unit in units:
        if current and sum(len(u) + 2 for u in current) + len(unit) > max_chars:
            pieces.append(("\n\n".join(current), current_page))
            tail = _overlap_tail(current[-1], overlap_chars)
            fits = tail and len(tail) + 2 + len(unit) <= max_chars and tail not in unit
            current, current_page = ([tail] if fits else []), page
        if not current:
            current_page = page
        current.append(unit)
    if current:
        pieces.append(("\n\n".join(current), current_page))
    return pieces


def _overlap_tail(text: str, overlap_chars: int) -> str:
    """The last sentences of ``text`` that fit in ``overlap_chars``, verbatim (the fallback overlap)."""
    if overlap_chars <= 0:
        return ""
    if len(text) <= overlap_chars:
        return text
    return next((text[end.end():] for end in _SENTENCE_END_RE.finditer(text) if len(text) - end.end() <= overlap_chars), "")


def _split_long(text: str, max_chars: int, overlap_chars: int) -> list[str]:
    """Sentences packed up to ``max_chars``; a sentence longer than that is cut in windows."""
    pieces: list[str] = []
    current = ""
    for sentence in _SENTENCE_END_RE.split(text):
        while len(sentence) > max_chars:
            cut = sentence.rfind(" ", 0, max_chars)
            cut = cut if cut > max_chars // 2 else max_chars
            pieces.append(sentence[:cut].strip())
            sentence = sentence[max(cut - overlap_chars, 1):].strip()
        if current and len(current) + len(sentence) + 1 > max_chars:
            pieces.append(current)
            current = (_overlap_tail(current, overlap_chars) + " " + sentence).strip()
            if len(current) > max_chars:
                current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        pieces.append(current)
    return pieces


class FrenchStructureNodeParser(NodeParser):
    """llama-index node parser over :func:`split_structure`: one ``TextNode`` per chunk."""

    max_chars: int = 1200
    overlap_chars: int = 150

    def _parse_nodes(self, nodes: Sequence[BaseNode], show_progress: bool = False, **kwargs: Any) -> list[BaseNode]:
        out: list[BaseNode] = []
        for node in nodes:
            document_text = node.get_content()
            title = str(node.metadata.get("title") or "")
            for index, spec in enumerate(split_structure(document_text, self.max_chars, self.overlap_chars)):
                path = spec.section_path
                if path and title and path[0] == title:
                    path = path[1:]  # the document's own H1 repeats its title
                metadata = {
                    **node.metadata,
                    "section_path": PATH_SEPARATOR.join(path),
                    "page": spec.page,
                    "article": spec.article,
                    "chunk_index": index,
                }
                out.append(TextNode(text=spec.text, metadata=metadata))
        return out

    def get_nodes(self, document: Document) -> list[TextNode]:
        return self.get_nodes_from_documents([document])  # type: ignore[return-value]
