"""HTML of the chat UI (answers with clickable citation markers, source panel, comparison table,
documents) and the plain-text "Sources" block of the OpenAI-compatible API. Every text that comes from
a document, a model or a user is escaped."""

from __future__ import annotations

import re
from html import escape
from typing import Any

from assistant.answering.schema import AssistantResponse, Citation, Comparison
from assistant.application import file_label
from assistant.answering.territories import territory_label
from assistant.retrieval.retriever import OCR_NOTE, format_location
from assistant.settings import DOC_TYPE_LABELS
from assistant.text.french import fold

MARKER_RE = re.compile(r"\[(\d{1,3})\]")
MODE_LABELS = {"generatif": "Génératif", "extractif": "Extractif"}
STATUS_LABELS = {
    "conforme": ("✓", "Conforme"),
    "divergent": ("⚠", "Divergent"),
    "contraire": ("✗", "Contraire"),
    "non_trouve": ("?", "Non trouvé"),
}
VALIDITY_LABELS = {"en_vigueur": "En vigueur", "abroge": "Abrogé"}


def location(c: Citation | dict[str, Any]) -> str:
    """« Titre › section › article, p. 3 »."""
    get = c.get if isinstance(c, dict) else lambda k: getattr(c, k)
    return format_location(get("title"), get("section_path") or "", get("article"), get("page"), bool(get("ocr")))


def link_markers(escaped_text: str, key: str, markers: set[int]) -> str:
    """``[1]`` → a link that opens the source panel (only for markers that have a citation)."""

    def link(match: re.Match) -> str:
        marker = int(match.group(1))
        if marker not in markers:
            return match.group(0)
        return (f'<a class="cite" href="#cite-{key}-{marker}" role="button" '
                f'aria-label="Ouvrir la source {marker}">[{marker}]</a>')

    return MARKER_RE.sub(link, escaped_text)


def text_blocks(text: str, key: str, markers: set[int]) -> str:
    """Paragraphs and ``- `` lists of plain text as HTML, with linked markers."""
    html: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if items:
            html.append("<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
            items.clear()

    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            flush()
            continue
        content = link_markers(escape(stripped[2:] if stripped.startswith("- ") else stripped), key, markers)
        if stripped.startswith("- "):
            items.append(content)
        else:
            flush()
            html.append(f"<p>{content}</p>")
    flush()
    return "".join(html)


def badges(response: AssistantResponse) -> str:
    spans = [f'<span class="badge badge-{response.mode}">Mode {MODE_LABELS.get(response.mode, response.mode)}</span>']
    if response.abstained:
        spans.append('<span class="badge badge-abstention">Abstention : sources insuffisantes</span>')
    elif response.confidence:
        score = f" ({response.answerability:.2f})".replace(".", ",") if response.answerability is not None else ""
        spans.append(f'<span class="badge badge-confiance-{response.confidence}" title="Probabilité estimée que les '
                     f'documents trouvés répondent à la question">Confiance {response.confidence}{score}</span>')
    if response.comparison is not None:
        spans.append('<span class="badge badge-comparaison">Comparaison</span>')
    if codes := rule_territories(response):
        spans.append('<span class="badge badge-territoire" title="Territoires des documents sur lesquels la réponse '
                     f's\'appuie">Règles : {escape(", ".join(territory_label(c) for c in codes))}</span>')
    return '<div class="badges">' + "".join(spans) + "</div>"


def rule_territories(response: AssistantResponse) -> list[str]:
    """Whose rules the answer draws from: the cited documents' territories (national first), else the territories
    the question was searched in."""
    cited = {c.territory or "national" for c in response.citations}
    if response.comparison is not None:
        cited |= {c.territory or "national" for row in response.comparison.territories for c in row.citations}
    codes = cited or set(response.territories)
    return sorted(codes, key=lambda c: (c != "national", c))


def citation_list(citations: list[Citation], key: str) -> str:
    if not citations:
        return ""
    items = "".join(
        f'<li>{link_markers(escape(f"[{c.marker}]"), key, {c.marker})} {escape(location(c))} '
        f'<span class="meta">— {escape(territory_label(c.territory))}{escape(", " + c.date) if c.date else ""}</span> '
        f'{document_anchor(c)}</li>'
        for c in citations
    )
    return f'<div class="sources"><p class="sources-title">Sources</p><ul>{items}</ul></div>'


def document_anchor(citation: Citation, label: str = "Voir dans le document") -> str:
    """A link to the document viewer at the cited page or passage (new tab)."""
    where = f"page {citation.page}" if citation.page else "passage surligné"
    return (f'<a class="doc-link" href="{escape(citation.url)}" target="_blank" rel="noopener" '
            f'aria-label="{escape(label)} : {escape(citation.title)}, {where}">{escape(label)} ↗</a>')


def answer_html(response: AssistantResponse, key: str) -> str:
    """A finished answer: badges, text with clickable markers, warnings, sources."""
    markers = {c.marker for c in response.citations}
    warnings = "".join(f'<p class="warning">⚠ {escape(w)}</p>' for w in response.warnings)
    return (f'<div class="answer">{badges(response)}<div class="answer-text">{text_blocks(response.answer, key, markers)}</div>'
            f"{warnings}{citation_list(response.citations, key)}</div>")


def streaming_html(text: str) -> str:
    return f'<div class="answer streaming"><div class="answer-text">{text_blocks(text, "", set())}</div></div>'


def highlight(passage: str, quote: str | None) -> str:
    """The passage, escaped, with the quoted words (``Citation.quote``, parts joined by « […] ») marked."""
    spans: list[tuple[int, int]] = []
    for part in re.split(r"\s*\[…\]\s*", quote or ""):
        words = part.split()
        if not words:
            continue
        pattern = re.compile(r"\s+".join(re.escape(w) for w in words))
        match = pattern.search(passage)
        if match:
            spans.append(match.span())
    spans.sort()
    out, position = [], 0
    for start, end in spans:
        if start < position:
            start = position
        if start >= end:
            continue
        out.append(escape(passage[position:start]))
        out.append(f"<mark>{escape(passage[start:end])}</mark>")
        position = end
    out.append(escape(passage[position:]))
    return "".join(out).replace("\n", "<br>")


def source_panel(citation: Citation) -> str:
    rows = [
        ("Document", citation.title),
        ("Type", DOC_TYPE_LABELS.get(citation.doc_type, citation.doc_type)),
        ("Section", citation.section_path),
        ("Article", citation.article),
        ("Page", f"{citation.page}{OCR_NOTE}" if citation.page and citation.ocr else citation.page),
        ("Territoire", territory_label(citation.territory)),
        ("Date", citation.date),
        ("Fichier", file_label(citation.source_file)),
    ]
    details = "".join(f"<dt>{label}</dt><dd>{escape(str(value))}</dd>" for label, value in rows if value not in (None, ""))
    return (f'<article class="source-panel" aria-label="Source {citation.marker}">'
            f"<h3>[{citation.marker}] {escape(citation.title)}</h3><dl>{details}</dl>"
            f'<p class="passage-title">Passage cité (mots repris surlignés) :</p>'
            f'<blockquote class="passage">{highlight(citation.text, citation.quote)}</blockquote>'
            f'<p>{document_anchor(citation, "Ouvrir le document à ce passage")}</p></article>')


def empty_panel(message: str = "Cliquez sur un renvoi [1] d'une réponse pour afficher le passage source.") -> str:
    return f'<div class="source-panel empty"><p>{escape(message)}</p></div>'


def status_flag(status: str) -> str:
    icon, label = STATUS_LABELS.get(status, ("?", status))
    return f'<span class="flag flag-{status}"><span aria-hidden="true">{icon}</span> {label}</span>'


def citations_cell(citations: list[Citation]) -> str:
    if not citations:
        return "—"
    return "".join(
        f'<p class="citation"><strong>[{c.marker}] {escape(location(c))}</strong> {document_anchor(c)}'
        + (f"<br>« {escape(c.quote)} »" if c.quote else "") + "</p>"
        for c in citations
    )


def comparison_html(comparison: Comparison) -> str:
    """The national rule above a table: territoire, pratique trouvée, citation, statut (flagged)."""
    rows = "".join(
        f'<tr class="status-{row.status}"><th scope="row">{escape(territory_label(row.territory))}</th>'
        f"<td>{text_blocks(row.practice, '', set())}</td><td>{citations_cell(row.citations)}</td>"
        f"<td>{status_flag(row.status)}<p class=\"note\">{escape(row.note)}</p></td></tr>"
        for row in comparison.territories
    )
    return (
        '<section class="comparison">'
        f'<h3>Règle nationale</h3><div class="national-rule">{text_blocks(comparison.national_rule, "", set())}'
        f"{citations_cell(comparison.national_citations)}</div>"
        f'<p class="summary"><strong>{escape(comparison.summary)}</strong></p>'
        '<table class="comparison-table"><caption>Pratiques des territoires comparées à la règle nationale</caption>'
        '<thead><tr><th scope="col">Territoire</th><th scope="col">Pratique trouvée</th>'
        '<th scope="col">Citation</th><th scope="col">Statut</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></section>"
    )


def documents_table(docs: list[dict[str, Any]], query: str = "", types: list[str] | None = None,
                    territories: list[str] | None = None, validity: str | None = None) -> str:
    """The Sources tab's list of documents (``AssistantApplication.documents``), kept to those matching the search (words of the
    title, identifier or file name, accents and case ignored) and the filters; each title opens the viewer."""
    words = fold(query).split()
    shown = [d for d in docs
             if (not types or d["doc_type"] in types)
             and (not territories or (d["territory"] or "national") in territories)
             and (not validity or d["validity"] == validity)
             and all(w in fold(" ".join(str(d[k] or "") for k in ("title", "doc_id", "source_file"))) for w in words)]
    if not docs:
        return '<p class="note" role="status">Aucun document indexé visible pour vous.</p>'
    rows = "".join(
        f'<tr><th scope="row"><a href="{escape(d["url"])}" target="_blank" rel="noopener">{escape(d["title"] or d["doc_id"])}</a></th>'
        f'<td>{escape(DOC_TYPE_LABELS.get(d["doc_type"], d["doc_type"] or ""))}</td>'
        f'<td>{escape(territory_label(d["territory"]))}</td><td>{escape(d["date"] or "")}</td>'
        f'<td>{escape(VALIDITY_LABELS.get(d["validity"], d["validity"] or ""))}</td><td>{d["passages"]}</td>'
        f'<td class="doc-id">{escape(d["doc_id"])}</td></tr>'
        for d in shown)
    return (f'<table class="documents-table"><caption role="status">{len(shown)} document(s) sur {len(docs)}</caption>'
            '<thead><tr><th scope="col">Titre</th><th scope="col">Type</th><th scope="col">Territoire</th>'
            '<th scope="col">Date</th><th scope="col">Validité</th><th scope="col">Passages</th>'
            f'<th scope="col">Identifiant</th></tr></thead><tbody>{rows}</tbody></table>')


def document_html(document: dict[str, Any]) -> str:
    meta, passages = document["document"], document["passages"]
    items = "".join(
        f'<li><div class="passage-place">{escape(_passage_place(p))}</div>'
        f'<div class="passage-text">{escape(p["text"]).replace(chr(10), "<br>")}</div></li>'
        for p in passages
    )
    facts = document_facts(meta)
    return (f'<article class="document"><h3>{escape(meta["title"] or meta["doc_id"])}</h3>'
            f'<p class="meta">{escape(facts)} · {meta["passages"]} passage(s) · {escape(file_label(meta["source_file"]))}</p>'
            f'<ol class="passages">{items}</ol></article>')


def document_facts(meta: dict[str, Any]) -> str:
    """« Circulaire · National · 2024-03-15 · En vigueur »."""
    validity = VALIDITY_LABELS.get(meta["validity"], meta["validity"] or "")
    return " · ".join(x for x in (DOC_TYPE_LABELS.get(meta["doc_type"], meta["doc_type"] or ""),
                                  territory_label(meta["territory"]), meta["date"] or "", validity) if x)


def _passage_place(passage: dict[str, Any]) -> str:
    return format_location("", passage["section_path"] or "", passage.get("article"), passage["page"]) or "—"


def sources_text(citations: list[Citation]) -> str:
    """Plain-text "Sources" block appended to the OpenAI-compatible answers."""
    if not citations:
        return ""
    lines = [f"[{c.marker}] {location(c)} — {territory_label(c.territory)}" + (f", {c.date}" if c.date else "")
             + f" — {c.url}" for c in citations]
    return "\n\nSources :\n" + "\n".join(lines)
