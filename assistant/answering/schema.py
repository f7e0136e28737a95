"""The response object shared by the CLI, the UI, the HTTP API and the evaluation."""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, computed_field

from assistant.retrieval.retriever import Passage

AnswerMode = Literal["generatif", "extractif"]
PracticeStatus = Literal["conforme", "divergent", "contraire", "non_trouve"]


class Turn(BaseModel):
    role: Literal["user", "assistant"]
    content: str


class Citation(Passage):
    """``[marker]`` in the answer points to this passage: the retrieved chunk itself (every field of
    :class:`Passage`), its marker and the words quoted from it. Its text is served as ``passage``."""

    model_config = ConfigDict(serialize_by_alias=True)

    marker: int
    text: str = Field(validation_alias=AliasChoices("text", "passage"), serialization_alias="passage")
    quote: str | None = Field(None, description="The exact words of the passage the sentence relies on.")
    # A citation read back from a stored answer (harmonisation runs) may predate these fields.
    point_id: str = ""
    score: float = 0.0
    chunk_index: int | None = Field(None, description="The passage's position in its document (viewer anchor).")
    suspected_instructions: tuple[str, ...] = Field((), exclude=True)

    @classmethod
    def of(cls, marker: int, passage: Passage, quote: str | None = None) -> "Citation":
        return cls(marker=marker, quote=quote, **passage.model_dump())

    @computed_field(description="Relative link to the document viewer, opened at the cited page or passage.")
    @property
    def url(self) -> str:
        return document_link(self.doc_id, self.chunk_index, self.page)


def document_link(doc_id: str, chunk_index: int | None = None, page: int | None = None) -> str:
    """The one place a citation's link is formatted: ``/documents/<id>?passage=<chunk>`` then ``#page=N`` (paged
    documents) or ``#passage-<chunk>`` (the highlighted passage), served by ``ui/viewer.py``."""
    link = "/documents/" + quote(doc_id, safe="/")
    if chunk_index is not None:
        link += f"?passage={chunk_index}"
    if page:
        return link + f"#page={page}"
    return link + (f"#passage-{chunk_index}" if chunk_index is not None else "")


class SentenceCheck(BaseModel):
    sentence: str
    markers: list[int]
    supported: bool
    support: float = Field(description="Share of the sentence's content words and numbers found in its passages.")
    reason: str = ""


class Verification(BaseModel):
    checked: int = 0
    supported: int = 0
    sentences: list[SentenceCheck] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    unknown_markers: list[int] = Field(default_factory=list)

    @property
    def all_supported(self) -> bool:
        return self.checked == self.supported and not self.unknown_markers


class TerritoryPractice(BaseModel):
    territory: str
    name: str
    practice: str
    citations: list[Citation] = Field(default_factory=list)
    status: PracticeStatus
    note: str = ""


class Comparison(BaseModel):
    question: str
    national_rule: str
    national_citations: list[Citation] = Field(default_factory=list)
    territories: list[TerritoryPractice] = Field(default_factory=list)
    summary: str = ""


class AssistantResponse(BaseModel):
    question: str
    standalone_question: str
    mode: AnswerMode
    answer: str
    citations: list[Citation] = Field(default_factory=list)
    verification: Verification = Field(default_factory=Verification)
    abstained: bool = False
    abstention_reason: str | None = None
    answerability: float | None = Field(None, description="Fitted probability that the corpus answers the question.")
    confidence: Literal["élevée", "moyenne", "faible"] | None = Field(
        None, description="Band of the answerability against the fitted thresholds (faible: abstention).")
    glossary_added: list[str] = Field(default_factory=list)
    territories: list[str] = Field(default_factory=list)
    pii_masked: list[str] = Field(default_factory=list, description="Kinds of personal data masked (never the values).")
    comparison: Comparison | None = None
    tool_calls: list[str] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)
    tokens: dict[str, int] = Field(default_factory=dict, description="LLM tokens of the answer (in, out); empty when the server did not report them.")
    warnings: list[str] = Field(default_factory=list)
