"""The marks the parsers leave in a document's text and the chunker reads back (shared, so neither module
imports the other)."""

PAGE_BREAK = "\f"  # between the pages of a paged document (PDF)
# The number of a numbered heading ("2. Titre", "2.3 Titre", "2.3. Titre"); a bare "3 Difficulté grave" is a
# table row.
NUMBERED_HEADING_PREFIX = r"(\d{1,2}(?=\.)(?:\.\d{1,2}){0,3})\.?\s+(?=[A-ZÀ-ÖØ-Ý«])"
