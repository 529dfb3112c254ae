"""`rag eval`'s support group: the share of an answer's claims that its passages support.

The answer's sentences come checked (`rag.check`): a claim sentence is supported when a
shown passage supports it (and it is cited to that passage). Framing words ("Yes.") and
abstentions are no claims. An answer with no claim (an abstention) has no value (None),
so the mean runs over the answers that make claims. Pure function, no model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def support_scores(sentences: Sequence[Any]) -> dict[str, float | None]:
    """{"supported": share of claim sentences supported, or None without claims}."""
    claims = [s for s in sentences if s.claim]
    if not claims:
        return {"supported": None}
    return {"supported": sum(bool(s.supported) for s in claims) / len(claims)}
