"""The offline answerer: answers the question that was asked, from the shown passages.

No network, no LLM, no model beyond the encoder retrieval already loaded; deterministic.

    question ─plan→ parts (kind, subject) ─evidence→ quotable sentences, scored
             ─compose (by kind)→ claims, each citing its passage → Draft

Modules: `plan` (what is asked), `evidence` (which sentences may be quoted, and their
scores), `subject` (is a sentence about what is asked), `values` (names, dates and
numbers in a sentence), `compose` (entity, value and point answers), `yesno` (yes/no and
either/or), `guard` (text addressed to a machine is never quoted), `core` (the whole).

What it does not do: paraphrase freely, or follow anything written in the articles. It
states what the evidence gives (a name, a date, a number, Yes or No) in a short frame and
quotes the sentences it rests on.
"""

from rag.answer.context import IndexFacts
from rag.answer.core import answer
from rag.answer.draft import ABSTAIN_PREFIX, Claim, Draft, abstention
from rag.answer.evidence import EmbedFn

__all__ = ["ABSTAIN_PREFIX", "Claim", "Draft", "EmbedFn", "IndexFacts", "abstention", "answer"]
