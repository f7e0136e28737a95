"""Web pages: the main content of a site's page, without its menus, cookie banner, aside and footer.

trafilatura (2.x) finds the main content; its XML (``<head rend="h2">``, ``<p>``, ``<list>``,
``<table>``…) is written in the parsers' conventions: Markdown headings, ``- `` items and
``cell | cell`` rows, so that the page title and headings become the section path.
"""

from __future__ import annotations

import re
from typing import Any

# Landmarks and names of page furniture: a page that has them is a site page, whose main content
# must be extracted; a bare document (``<article>`` or ``<body>`` with content only) is read whole.
_CHROME_TAGS = ("nav", "header", "footer", "aside")
_CHROME_ROLES = ("navigation", "banner", "contentinfo", "complementary", "search")
_CHROME_NAMES = re.compile(r"cookie|consent|rgpd|gdpr|menu|breadcrumb|fil-ariane|navbar|sidebar|footer|header", re.I)


def has_site_chrome(soup: Any) -> bool:
    """Whether an HTML page (BeautifulSoup) has navigation, banners, footers or a cookie notice."""
    if soup.find(_CHROME_TAGS) is not None or soup.find(attrs={"role": list(_CHROME_ROLES)}) is not None:
        return True
    for element in soup.find_all(attrs={"id": True}) + soup.find_all(attrs={"class": True}):
        names = " ".join([element.get("id") or ""] + list(element.get("class") or []))
        if _CHROME_NAMES.search(names):
            return True
    return False


def main_content(html: str) -> tuple[str | None, str] | None:
    """(title, text) of the page's main content, or None when trafilatura finds none."""
    import trafilatura

    document = trafilatura.bare_extraction(html, include_tables=True, include_formatting=True, include_links=False,
                                           include_comments=False, favor_recall=True, deduplicate=False,
                                           with_metadata=True)
    if document is None or document.body is None:
        return None
    blocks: list[str] = []
    _blocks(document.body, blocks)
    text = "\n\n".join(b for b in blocks if b.strip())
    return (document.title or None), text


def _text(element: Any) -> str:
    return " ".join("".join(element.itertext()).split())


def _blocks(element: Any, out: list[str]) -> None:
    for child in element:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag == "head":
            level = int(child.get("rend", "h2")[1:] or 2) if re.fullmatch(r"h[1-6]", child.get("rend", "")) else 2
            if text := _text(child):
                out.append("#" * level + " " + text)
        elif tag == "list":
            out.append("\n".join("- " + t for item in child.iter("item") if (t := _own_item_text(item))))
        elif tag == "table":
            rows = [" | ".join(_text(cell) for cell in row.iter("cell")) for row in child.iter("row")]
            out.append("\n".join(r for r in rows if r.strip(" |")))
        elif tag in ("quote", "div", "section"):
            if child.text and child.text.strip():
                out.append(" ".join(child.text.split()))
            _blocks(child, out)
        elif tag:
            if text := _text(child):
                out.append(text)


def _own_item_text(item: Any) -> str:
    """An item's text without its nested list (whose items are listed on their own)."""
    parts = [item.text or ""]
    for child in item:
        if child.tag != "list":
            parts.append("".join(child.itertext()))
        parts.append(child.tail or "")
    return " ".join("".join(parts).split())
