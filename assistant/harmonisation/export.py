"""The harmonisation matrix for committees: a self-contained HTML report, an XLSX workbook, CSV and JSON.

The HTML file embeds its style and a small filter script (no external resource): the matrix (one row per
question, one column per territory, a coloured status per cell with its reason), counts per territory and
per question, then every cell's detail — the national rule with its citation, the local practice quoted and
cited (document, section or article, page), the reason. The XLSX workbook holds the same in four sheets
(« Matrice », « Détail », « Synthèse », and « Changements » when a comparison with an earlier run is given).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from html import escape

from assistant.answering.schema import Citation
from assistant.answering.territories import territory_label
from assistant.harmonisation.matrix import STATUS_LABELS, STATUS_ORDER, HarmonisationMatrix, MatrixCell
from assistant.harmonisation.runs import RunDiff

FORMATS = ("html", "xlsx", "csv", "json")
STATUS_COLOURS = {"conforme": "#d8f0dc", "divergent": "#fff1c2", "contraire": "#f8d0cc", "non_trouve": "#e6e6e6"}
STATUS_SYMBOLS = {"conforme": "✓", "divergent": "≠", "contraire": "✗", "non_trouve": "?"}
DETAIL_COLUMNS = ["Question", "Libellé", "Territoire", "Statut", "Raison", "Pratique locale (extrait)", "Source locale",
                  "Règle nationale (référentiel)", "Règle nationale (extrait)", "Source nationale", "Décidé par",
                  "Lien source locale", "Lien source nationale"]


def citations_text(citations: Iterable[Citation]) -> str:
    return " ; ".join(dict.fromkeys(c.location() for c in citations))


def citation_links(citations: Iterable[Citation], base_url: str = "") -> dict[str, str]:
    """Each cited place (``Citation.location``) → its link to the document viewer: ``Citation.url``, relative to the
    server, or absolute under ``base_url`` (e.g. ``https://assistant.example.fr``)."""
    return {c.location(): base_url.rstrip("/") + c.url for c in citations}


def citations_html(citations: Iterable[Citation], fallback: str = "", base_url: str = "") -> str:
    """Each cited place linked to the document viewer."""
    links = citation_links(citations, base_url)
    return " ; ".join(f"<a href='{escape(url)}'>{escape(text)}</a>" for text, url in links.items()) or escape(fallback)


def detail_rows(matrix: HarmonisationMatrix, base_url: str = "") -> list[list[str]]:
    """One line per cell (``DETAIL_COLUMNS``), the cited places' viewer links last."""
    rows = {r.id: r for r in matrix.rows}
    out = []
    for row in matrix.rows:
        for code in matrix.territories:
            cell = matrix.cell(row.id, code)
            if cell is None:
                continue
            out.append([row.id, row.label, territory_label(code), STATUS_LABELS[cell.status], cell.reason, cell.quote,
                        citations_text(cell.citations), rows[row.id].national_rule, row.national_quote,
                        citations_text(row.national_citations), "LLM" if cell.decided_by == "llm" else "règles",
                        " ; ".join(citation_links(cell.citations, base_url).values()),
                        " ; ".join(citation_links(row.national_citations, base_url).values())])
    return out


# --- JSON and CSV ------------------------------------------------------------------------------------------
def to_json(matrix: HarmonisationMatrix, changes: RunDiff | None = None) -> str:
    data = json.loads(matrix.model_dump_json())
    data["counts_by_territory"] = {t: dict(c) for t, c in matrix.counts_by_territory().items()}
    data["counts_by_question"] = {q: dict(c) for q, c in matrix.counts_by_question().items()}
    if changes is not None:
        data["changes"] = json.loads(changes.model_dump_json())
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def to_csv(matrix: HarmonisationMatrix, base_url: str = "") -> str:
    """One line per cell (the committee's detail sheet), semicolon-separated for French spreadsheets."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(DETAIL_COLUMNS)
    writer.writerows(detail_rows(matrix, base_url))
    return out.getvalue()


# --- XLSX ------------------------------------------------------------------------------------------------
def to_xlsx(matrix: HarmonisationMatrix, changes: RunDiff | None = None, base_url: str = "") -> bytes:
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = "Matrice"
    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    fills = {s: PatternFill("solid", fgColor="FF" + c.lstrip("#").upper()) for s, c in STATUS_COLOURS.items()}
    sheet.append(["Question", "Règle nationale"] + [territory_label(t) for t in matrix.territories])
    for row in matrix.rows:
        line = [f"{row.id} — {row.label}", f"{row.national_rule}\nSource : {citations_text(row.national_citations) or row.national_reference}"]
        cells = [matrix.cell(row.id, t) for t in matrix.territories]
        sheet.append(line + [f"{STATUS_LABELS[c.status]} — {c.reason}" if c else "" for c in cells])
        for column, cell in enumerate(cells, start=3):
            if cell is None:
                continue
            target = sheet.cell(row=sheet.max_row, column=column)
            target.fill = fills[cell.status]
            if cell.quote and cell.status != "non_trouve":
                links = "\n".join(citation_links(cell.citations, base_url).values())
                target.comment = Comment(f"« {cell.quote[:800]} »\n{citations_text(cell.citations)}\n{links}",
                                         "Assistant Autonomie")
    for cell in sheet[1]:
        cell.font = bold
    for line in sheet.iter_rows(min_row=2):
        for cell in line:
            cell.alignment = wrap
    sheet.column_dimensions["A"].width = 32
    sheet.column_dimensions["B"].width = 48
    for column in range(3, 3 + len(matrix.territories)):
        sheet.column_dimensions[get_column_letter(column)].width = 30
    sheet.freeze_panes = "C2"

    detail = book.create_sheet("Détail")
    detail.append(DETAIL_COLUMNS)
    for values in detail_rows(matrix, base_url):
        detail.append(values)
    for cell in detail[1]:
        cell.font = bold
    status_by_label = {v: k for k, v in STATUS_LABELS.items()}
    for line in detail.iter_rows(min_row=2):
        line[3].fill = fills[status_by_label[line[3].value]]
        for cell in line:
            cell.alignment = wrap
        for source, link in ((line[6], line[11]), (line[9], line[12])):
            if link.value and " ; " not in link.value and link.value.startswith(("http://", "https://")):
                source.hyperlink = link.value  # one absolute link: the source's name opens it
    for column, width in zip("ABCDEFGHIJKLM", (8, 28, 22, 12, 40, 60, 40, 40, 60, 40, 10, 50, 50)):
        detail.column_dimensions[column].width = width
    detail.auto_filter.ref = detail.dimensions
    detail.freeze_panes = "A2"

    summary = book.create_sheet("Synthèse")
    summary.append(["Territoire", *(STATUS_LABELS[s] for s in STATUS_ORDER)])
    for code, counts in matrix.counts_by_territory().items():
        summary.append([territory_label(code), *(counts.get(s, 0) for s in STATUS_ORDER)])
    summary.append([])
    summary.append(["Question", *(STATUS_LABELS[s] for s in STATUS_ORDER)])
    labels = {r.id: f"{r.id} — {r.label}" for r in matrix.rows}
    for qid, counts in matrix.counts_by_question().items():
        summary.append([labels.get(qid, qid), *(counts.get(s, 0) for s in STATUS_ORDER)])
    summary.append([])
    summary.append(["Exécution", matrix.run_id or "", "Date", matrix.created_at, "Mode", matrix.mode,
                    "Groupes", ", ".join(matrix.groups) or "public"])
    summary.column_dimensions["A"].width = 44

    if changes is not None:
        sheet_changes = book.create_sheet("Changements")
        sheet_changes.append(["Question", "Territoire", "Changement", "Statut avant", "Statut après", "Extrait avant",
                              "Extrait après", "Raison après", "Documents modifiés"])
        for change in changes.changes:
            sheet_changes.append([f"{change.question_id} — {change.label}", territory_label(change.territory),
                                  change.kind, _status(change.before), _status(change.after),
                                  change.before.quote if change.before else "", change.after.quote if change.after else "",
                                  change.after.reason if change.after else "", ", ".join(change.documents)])
        for cell in sheet_changes[1]:
            cell.font = bold
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _status(cell: MatrixCell | None) -> str:
    return STATUS_LABELS[cell.status] if cell else "—"


# --- HTML ------------------------------------------------------------------------------------------------
# Every rule is scoped to ``.hm`` so that the same fragment can sit inside another page (the UI tab).
_CSS = """
.hm{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1b1b;line-height:1.4}
.hm h1{font-size:1.5rem;margin:0 0 .3rem}.hm h2{font-size:1.15rem;margin-top:2rem}.hm h3{font-size:1rem;margin-top:1.2rem}
.hm .meta{color:#444;font-size:.9rem}.hm .filters{display:flex;flex-wrap:wrap;gap:1rem;align-items:end;margin:1rem 0;
padding:.6rem .8rem;background:#f4f6f8;border-radius:6px}.hm .filters label{font-size:.85rem;display:flex;flex-direction:column}
.hm table{border-collapse:collapse;width:100%;font-size:.85rem}.hm th,.hm td{border:1px solid #bbb;padding:.35rem .45rem;
vertical-align:top;text-align:left}.hm thead th{background:#eef1f4;position:sticky;top:0}.hm td.s-conforme{background:#d8f0dc}
.hm td.s-divergent{background:#fff1c2}.hm td.s-contraire{background:#f8d0cc}.hm td.s-non_trouve{background:#e6e6e6;color:#333}
.hm .status{font-weight:600;display:block}.hm .reason{font-size:.8rem}.hm .rule{font-size:.8rem;color:#333;max-width:22rem}
.hm .legend span{display:inline-block;padding:.1rem .5rem;margin-right:.4rem;border:1px solid #bbb;border-radius:3px}
.hm .detail{margin:.6rem 0;padding:.6rem .8rem;border-left:5px solid #bbb;background:#fafafa}.hm .detail.s-conforme{border-color:#3b8b4b}
.hm .detail.s-divergent{border-color:#b38600}.hm .detail.s-contraire{border-color:#b3261e}.hm .detail.s-non_trouve{border-color:#777}
.hm blockquote{margin:.3rem 0 .3rem 1rem;font-style:italic}.hm .source{font-size:.8rem;color:#333}.hm .hidden{display:none}
.hm .changed{outline:3px solid #5b3cc4}.hm a{color:#0b4f9c}
@media print{.hm .filters{display:none}.hm thead th{position:static}}
"""

_SCRIPT = """
(function(){
  const pick = id => Array.from(document.getElementById(id).selectedOptions).map(o => o.value);
  function apply(){
    const statuses = pick('f-statut'), territories = pick('f-territoire'), questions = pick('f-question');
    const ok = (list, value) => list.length === 0 || list.includes(value);
    document.querySelectorAll('[data-territory]').forEach(el => {
      const visible = ok(territories, el.dataset.territory) && (!el.dataset.question || ok(questions, el.dataset.question));
      el.classList.toggle('hidden', !visible);
    });
    document.querySelectorAll('tr[data-row]').forEach(tr => tr.classList.toggle('hidden', !ok(questions, tr.dataset.row)));
    document.querySelectorAll('td[data-status]').forEach(td => td.style.opacity = ok(statuses, td.dataset.status) ? '1' : '.18');
    document.querySelectorAll('.detail').forEach(d => {
      const show = ok(statuses, d.dataset.status) && ok(territories, d.dataset.territory) && ok(questions, d.dataset.question);
      d.classList.toggle('hidden', !show);
    });
  }
  ['f-statut', 'f-territoire', 'f-question'].forEach(id => document.getElementById(id).addEventListener('change', apply));
  document.getElementById('f-reset').addEventListener('click', () => {
    document.querySelectorAll('.filters select option').forEach(o => o.selected = false); apply();
  });
})();
"""


def to_html(matrix: HarmonisationMatrix, changes: RunDiff | None = None, title: str = "Matrice d'harmonisation des pratiques",
            base_url: str = "") -> str:
    """A self-contained HTML report (inline style and script, no external resource)."""
    filters = ("<div class='filters' role='group' aria-label='Filtres'>"
               + _select("f-statut", "Statut", [(s, STATUS_LABELS[s]) for s in STATUS_ORDER])
               + _select("f-territoire", "Territoire", [(t, territory_label(t)) for t in matrix.territories])
               + _select("f-question", "Question", [(r.id, f"{r.id} — {r.label}") for r in matrix.rows])
               + "<button id='f-reset' type='button'>Tout afficher</button></div>")
    return ("<!DOCTYPE html><html lang='fr'><head><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
            f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
            f"{report_html(matrix, changes, title, filters, base_url=base_url)}<script>{_SCRIPT}</script></body></html>\n")


def report_html(matrix: HarmonisationMatrix, changes: RunDiff | None = None, title: str = "Matrice d'harmonisation des pratiques",
                filters: str = "", style: bool = False, base_url: str = "") -> str:
    """The report as a fragment (``<div class="hm">``): summary, changes, matrix, counts, every cell's detail;
    ``style`` puts the scoped stylesheet in it (for a page that does not have it, such as the UI tab)."""
    changed = {(c.question_id, c.territory) for c in changes.changes} if changes else set()
    totals = matrix.totals()
    head = (f"<h1>{escape(title)}</h1><p class='meta'>{len(matrix.rows)} question(s) × {len(matrix.territories)} territoire(s)"
            f" — exécution n° {matrix.run_id or '—'} du {escape(matrix.created_at)} — mode {escape(matrix.mode)} — "
            f"documents visibles : public{', ' + escape(', '.join(matrix.groups)) if matrix.groups else ''}.</p>"
            "<p class='legend'>" + "".join(f"<span style='background:{STATUS_COLOURS[s]}'>{STATUS_SYMBOLS[s]} "
                                            f"{STATUS_LABELS[s]} : {totals.get(s, 0)}</span>" for s in STATUS_ORDER) + "</p>")
    for warning in matrix.warnings:
        head += f"<p class='meta'>⚠ {escape(warning)}</p>"
    header = "".join(f"<th scope='col' data-territory='{escape(t)}'>{escape(territory_label(t))}</th>" for t in matrix.territories)
    lines = []
    for row in matrix.rows:
        cells = []
        for code in matrix.territories:
            cell = matrix.cell(row.id, code)
            if cell is None:
                cells.append(f"<td data-territory='{escape(code)}' data-question='{escape(row.id)}'></td>")
                continue
            mark = " changed" if (row.id, code) in changed else ""
            cells.append(f"<td class='s-{cell.status}{mark}' data-status='{cell.status}' data-territory='{escape(code)}' "
                         f"data-question='{escape(row.id)}'><a href='#c-{escape(row.id)}-{escape(code)}'>"
                         f"<span class='status'>{STATUS_SYMBOLS[cell.status]} {STATUS_LABELS[cell.status]}</span></a>"
                         f"<span class='reason'>{escape(cell.reason)}</span></td>")
        source = citations_text(row.national_citations) or row.national_reference
        lines.append(f"<tr data-row='{escape(row.id)}'><th scope='row'>{escape(row.id)} — {escape(row.label)}</th>"
                     f"<td class='rule'>{escape(row.national_rule)}<br><span class='source'>Source : {escape(source)}</span></td>"
                     + "".join(cells) + "</tr>")
    table = (f"<h2>Matrice</h2><table><caption class='meta'>Une ligne par question, une colonne par territoire ; cliquer "
             f"une cellule pour son détail.</caption><thead><tr><th scope='col'>Question</th><th scope='col'>Règle nationale</th>"
             f"{header}</tr></thead><tbody>{''.join(lines)}</tbody></table>")
    change_block = _changes_html(changes) if changes else ""
    css = f"<style>{_CSS}</style>" if style else ""
    return (f"<div class='hm'>{css}{head}{filters}{change_block}{table}{_counts_html(matrix)}"
            f"{_details_html(matrix, changed, base_url)}</div>")


def _select(element_id: str, label: str, options: list[tuple[str, str]]) -> str:
    inner = "".join(f"<option value='{escape(v)}'>{escape(text)}</option>" for v, text in options)
    size = min(6, max(2, len(options)))
    return f"<label for='{element_id}'>{label}<select id='{element_id}' multiple size='{size}'>{inner}</select></label>"


def _counts_html(matrix: HarmonisationMatrix) -> str:
    head = "".join(f"<th scope='col'>{STATUS_LABELS[s]}</th>" for s in STATUS_ORDER)
    by_territory = "".join(
        f"<tr data-territory='{escape(code)}'><th scope='row'>{escape(territory_label(code))}</th>"
        + "".join(f"<td>{counts.get(s, 0)}</td>" for s in STATUS_ORDER) + "</tr>"
        for code, counts in matrix.counts_by_territory().items())
    labels = {r.id: r.label for r in matrix.rows}
    by_question = "".join(
        f"<tr data-row='{escape(qid)}'><th scope='row'>{escape(qid)} — {escape(labels.get(qid, ''))}</th>"
        + "".join(f"<td>{counts.get(s, 0)}</td>" for s in STATUS_ORDER) + "</tr>"
        for qid, counts in matrix.counts_by_question().items())
    return (f"<h2>Décomptes</h2><table><caption class='meta'>Par territoire</caption><thead><tr><th scope='col'>Territoire</th>{head}"
            f"</tr></thead><tbody>{by_territory}</tbody></table><br><table><caption class='meta'>Par question</caption><thead><tr>"
            f"<th scope='col'>Question</th>{head}</tr></thead><tbody>{by_question}</tbody></table>")


def _details_html(matrix: HarmonisationMatrix, changed: set[tuple[str, str]], base_url: str = "") -> str:
    parts = ["<h2>Détail des cellules</h2>"]
    for row in matrix.rows:
        source = citations_html(row.national_citations, row.national_reference, base_url)
        parts.append(f"<h3 id='q-{escape(row.id)}' data-row='{escape(row.id)}'>{escape(row.id)} — {escape(row.label)}</h3>"
                     f"<p data-row='{escape(row.id)}'><strong>Question :</strong> {escape(row.question)}<br><strong>Règle nationale :"
                     f"</strong> {escape(row.national_rule)}</p><blockquote data-row='{escape(row.id)}'>« {escape(row.national_quote)} »"
                     f"</blockquote><p class='source' data-row='{escape(row.id)}'>Source : {source}</p>")
        for code in matrix.territories:
            cell = matrix.cell(row.id, code)
            if cell is None:
                continue
            mark = " changed" if (row.id, code) in changed else ""
            quote = (f"<blockquote>« {escape(cell.quote)} »</blockquote><p class='source'>Source : "
                     f"{citations_html(cell.citations, base_url=base_url)}</p>") if cell.status != "non_trouve" else f"<p>{escape(cell.quote)}</p>"
            parts.append(f"<div class='detail s-{cell.status}{mark}' id='c-{escape(row.id)}-{escape(code)}' data-status='{cell.status}' "
                         f"data-territory='{escape(code)}' data-question='{escape(row.id)}'><strong>{escape(territory_label(code))} — "
                         f"{STATUS_LABELS[cell.status]}</strong> : {escape(cell.reason)}{quote}"
                         f"<p class='source'>Note : {escape(cell.note)} (décidé par {'le LLM' if cell.decided_by == 'llm' else 'les règles'})"
                         "</p></div>")
    return "".join(parts)


def _changes_html(changes: RunDiff) -> str:
    if not changes.changes:
        return (f"<h2>Changements depuis l'exécution n° {changes.before}</h2><p>Aucune cellule n'a changé de statut ni d'extrait."
                "</p>")
    docs = "".join(f"<li>{escape(doc)}</li>" for doc in changes.changed_documents)
    rows = "".join(
        f"<tr><th scope='row'>{escape(c.question_id)} — {escape(c.label)}</th><td>{escape(territory_label(c.territory))}</td>"
        f"<td>{escape(c.kind)}</td><td>{_status(c.before)}<br><span class='reason'>{escape(c.before.quote if c.before else '')}</span></td>"
        f"<td>{_status(c.after)}<br><span class='reason'>{escape(c.after.quote if c.after else '')}</span></td></tr>"
        for c in changes.changes)
    return (f"<h2>Changements depuis l'exécution n° {changes.before}</h2>"
            + (f"<p>Documents modifiés :</p><ul>{docs}</ul>" if docs else "")
            + "<table><thead><tr><th scope='col'>Question</th><th scope='col'>Territoire</th><th scope='col'>Changement</th>"
              f"<th scope='col'>Avant</th><th scope='col'>Après</th></tr></thead><tbody>{rows}</tbody></table>")


def render(matrix: HarmonisationMatrix, fmt: str, changes: RunDiff | None = None, base_url: str = "") -> bytes:
    """The matrix in ``fmt`` (html, xlsx, csv, json), as bytes to write; the viewer links of the citations are
    relative to the server, or absolute under ``base_url``."""
    match fmt:
        case "html":
            return to_html(matrix, changes, base_url=base_url).encode("utf-8")
        case "xlsx":
            return to_xlsx(matrix, changes, base_url)
        case "csv":
            return ("\ufeff" + to_csv(matrix, base_url)).encode("utf-8")  # BOM: spreadsheets read the accents right
        case "json":
            return to_json(matrix, changes).encode("utf-8")
    raise ValueError(f"Format inconnu « {fmt} » ; formats possibles : {', '.join(FORMATS)}.")
