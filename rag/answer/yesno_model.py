"""The yes/no decision when no rule settles it: a logistic model over the question's
wording and how well the evidence holds each of its claims.

Features (`features()`; their names are stored with the weights and checked on load):
- how the question asks: cue words ("consistent", "change", "differ", "same", "not",
  "both", "while", "before", "after", "than" ...), its number of claims, its length, and
  whether it is about time (dates, before / after);
- what the evidence says: for each claim, the best sentence's closeness in meaning and
  its share of the claim's subject, and a negation on one side only.

Trained by bench/train_yesno.py on MultiHop-RAG's dev questions only (scikit-learn at
training time; numpy dot product here). Most of its signal is the question's wording:
the claims these questions make are paraphrased far from the articles' sentences, and
the offline encoder tells support from contradiction poorly. Measured, not assumed: the
training script prints both, cross-validated.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rag.answer.context import Context
from rag.answer.plan import Part, main_clause

MODEL_PATH = Path(__file__).resolve().parent.parent / "models" / "yesno.json"

CUES = (
    "consisten", "inconsisten", "change", "differ", "same", "similar", "agree", "disagree",
    "both", "while", "whereas", " or ", "not ", "identical", "more ", "less", "before",
    "after", "between", "align", "contradict", "portray", "increase", "decrease", "than ",
    "also", "still", "remain", "continue", "indicate", "suggest", "report", "all ", "only",
    "fail", "without", "no ", "never", "focus", "discuss", "mention", "different",
)  # fmt: skip
EVIDENCE = (
    "dense_min",
    "dense_mean",
    "cover_min",
    "cover_mean",
    "negation_mismatch",
    "claims",
    "words",
    "temporal",
)
FEATURES = tuple(f"cue:{c.strip()}" for c in CUES) + EVIDENCE


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the evidence says of a yes/no question's claims (computed by rag.answer.yesno)."""

    dense: list[float]
    cover: list[float]
    negation_mismatch: int


_TEMPORAL = re.compile(
    r"\b(?:before|after|prior|following|subsequent|later|earlier|between .* and)\b"
    r"|\b(?:january|february|march|april|may|june|july|august|september|october|november|"
    r"december)\b|\b20\d\d\b",
    re.I,
)


def features(part: Part, ev: Evidence) -> list[float]:
    q = f" {main_clause(part.text).lower()} "
    out = [float(c in q) for c in CUES]
    dense = ev.dense or [0.0]
    cover = ev.cover or [0.0]
    out += [
        min(dense),
        sum(dense) / len(dense),
        min(cover),
        sum(cover) / len(cover),
        float(ev.negation_mismatch),
        float(len(ev.dense)),
        len(part.text.split()) / 50.0,
        float(bool(_TEMPORAL.search(part.text))),
    ]
    return out


class YesNoModel:
    def __init__(self, spec: dict) -> None:
        if list(spec["features"]) != list(FEATURES):
            raise ValueError("the yes/no model was trained on other features; retrain it")
        self.weights = [float(w) for w in spec["weights"]]
        self.bias = float(spec["bias"])
        self.mean = [float(x) for x in spec["mean"]]
        self.scale = [float(x) or 1.0 for x in spec["scale"]]

    def p_yes(self, x: list[float]) -> float:
        z = self.bias + sum(
            w * (v - m) / s
            for w, v, m, s in zip(self.weights, x, self.mean, self.scale, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-z))


@lru_cache(maxsize=2)
def load(path: str | None = None) -> YesNoModel | None:
    """The bundled model; None when its file is missing (the rules decide alone). A model
    trained on other features is an error: retrain it (bench/train_yesno.py)."""
    try:
        text = Path(path or MODEL_PATH).read_text(encoding="utf-8")
    except OSError:
        return None
    return YesNoModel(json.loads(text))


def p_yes(ctx: Context, part: Part, ev: Evidence) -> float | None:
    model = load()
    return None if model is None else model.p_yes(features(part, ev))
