"""The steps of an answer, one module each, called in this order by :mod:`assistant.answering.workflow`:

1. :mod:`.analyse` — mask the personal data, choose the mode, analyse the question (a comparison goes to
   :mod:`.compare`);
2. :mod:`.search` — the LLM's tool calls or the deterministic search plan, merged;
3. :mod:`.select` — the evidence sentences and the judge's verdict (too weak: abstention);
4. :mod:`.answer_generative` (the LLM's draft, streamed) or :mod:`.answer_extractive` (the sentences quoted);
5. :mod:`.verify` — each sentence against its cited passages.

Each step is a plain function of the shared :class:`~assistant.answering.components.AnswerComponents` and of
what the previous steps produced; the workflow owns the order, the events, the timings and the streaming.
"""
