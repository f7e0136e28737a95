"""Step 3, select: the evidence sentences of the passages and the judge's verdict on them — too weak, the
assistant abstains (:func:`abstain`); doubtful, the answer carries a warning."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.answering import prompts
from assistant.answering.extractive import Evidence
from assistant.answering.schema import AssistantResponse
from assistant.retrieval.retriever import Passage
from assistant.text.injection import WARNING as INJECTION_WARNING, is_instruction

if TYPE_CHECKING:
    from assistant.answering.components import AnswerComponents

PARTIAL_EVIDENCE = ("Les extraits trouvés ne répondent peut-être qu'en partie à la question : "
                    "vérifiez les passages cités avant de vous appuyer sur cette réponse.")
WEAK_EVIDENCE = "Les documents trouvés ne traitent pas suffisamment de cette question."


def select_evidence(components: AnswerComponents, response: AssistantResponse, passages: list[Passage]) -> Evidence:
    """The evidence sentences of ``passages``; the response gets a warning when some passages read as
    instructions to the assistant (their sentences are never quoted)."""
    evidence = components.selector.run(response.standalone_question, passages)
    if any(p.suspected_instructions or is_instruction(f"{p.section_path}\n{p.text}") for p in passages):
        response.warnings.append(INJECTION_WARNING)
    return evidence


def judge_evidence(components: AnswerComponents, response: AssistantResponse, evidence: Evidence) -> bool:
    """Whether the evidence is sufficient to answer; the response records the answerability and the confidence,
    and the warning when the evidence is doubtful."""
    verdict = components.judge.run(evidence)
    response.answerability = verdict.strength
    response.confidence = "faible" if not verdict.sufficient else "moyenne" if verdict.doubtful else "élevée"
    if verdict.sufficient and verdict.doubtful:
        response.warnings.append(PARTIAL_EVIDENCE)
    return verdict.sufficient


def abstain(response: AssistantResponse, passages: list[Passage], reason: str) -> AssistantResponse:
    """The response turned into an abstention: the reason and the nearest documents consulted, no citation."""
    response.abstained = True
    response.abstention_reason = reason
    nearest = "\n".join(f"- {p.location()}" for p in passages[:3])
    response.answer = (
        f"{prompts.NO_ANSWER} {reason}"
        + (f"\nDocuments les plus proches consultés :\n{nearest}" if nearest else "")
        + "\nReformulez la question, précisez le territoire ou le dispositif, ou consultez le service compétent."
    )
    response.citations = []
    return response
