"""Step 5, verify: every sentence of the draft checked against the passages it cites
(:class:`~assistant.answering.verification.CitationVerifier`).

A generated draft where the model said it cannot answer becomes an abstention; its unsupported sentences
are removed; when none is supported, the extractive answer replaces it (the evidence was judged sufficient,
so the assistant quotes rather than abstains).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from assistant.answering import prompts
from assistant.answering.extractive import Evidence
from assistant.answering.schema import AssistantResponse, Citation
from assistant.answering.steps.answer_extractive import quote_evidence
from assistant.answering.steps.select import abstain
from assistant.retrieval.retriever import Passage

if TYPE_CHECKING:
    from assistant.answering.components import AnswerComponents

UNVERIFIED_DRAFT = "La réponse générée n'a pu être vérifiée contre les sources : réponse extractive (citations exactes)."
MODEL_CANNOT_ANSWER = "Le modèle a jugé que les extraits ne permettent pas de répondre."


def verify_draft(components: AnswerComponents, response: AssistantResponse, passages: list[Passage], evidence: Evidence,
                 text: str, citations: list[Citation], generated: bool) -> str | None:
    """Fill ``response`` with the verified answer, its citations and its verification record (or the
    abstention); returns the answer text still to stream — the extractive answer, never streamed before —
    or None."""
    verifier = components.verifier
    if generated:
        t0 = time.perf_counter()
        if prompts.NO_ANSWER.rstrip(".") in text:
            abstain(response, passages, MODEL_CANNOT_ANSWER)
            return None
        answer, verification = verifier.run(text, citations)
        response.timings["verify"] = time.perf_counter() - t0
        used = {m for s in verification.sentences if s.supported for m in s.markers}
        cited = [c for c in citations if c.marker in used]
        if answer.strip() and cited:
            response.answer, response.verification, response.citations = answer, verification, cited
            if verification.removed:
                response.warnings.append(f"{len(verification.removed)} phrase(s) non étayée(s) retirée(s) de la réponse.")
            return None
        response.mode = "extractif"
        response.warnings.append(UNVERIFIED_DRAFT)
        text, citations = quote_evidence(evidence, passages)
    t0 = time.perf_counter()
    response.answer, response.verification = verifier.run(text, citations)
    response.timings["verify"] = response.timings.get("verify", 0.0) + time.perf_counter() - t0
    response.citations = citations
    return response.answer
