"""The embedding backends agree with each other, and span vectors come from the same pass."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from rag.embed import get_encoder

from .conftest import MULTIHOP

# Stated tolerances: the fp32 ONNX export reproduces sentence-transformers; int8 weights
# move a vector by about a degree (measured: mean cosine 0.994, worst 0.98 on news chunks)
FP32_MIN_COS = 0.9999
INT8_MIN_COS = 0.97
INT8_MEAN_COS = 0.99


@pytest.fixture(scope="module")
def texts() -> list[str]:
    records = json.loads((MULTIHOP / "corpus.json").read_text(encoding="utf-8"))[:12]
    chunks = [r["title"] + "\n\n" + r["body"][:1200] for r in records]
    return [*chunks, "why did Russia lift the ban", "Who won the match?"]


@pytest.fixture(scope="module")
def reference(texts: list[str]) -> np.ndarray:
    return get_encoder("all-MiniLM-L6-v2", "torch").encode(texts, batch_size=4)


@pytest.mark.parametrize(
    ("backend", "worst", "mean"),
    [
        ("onnx", FP32_MIN_COS, FP32_MIN_COS),
        ("onnx-int8", INT8_MIN_COS, INT8_MEAN_COS),
    ],
)
def test_backends_agree_with_sentence_transformers(
    texts: list[str], reference: np.ndarray, backend: str, worst: float, mean: float
) -> None:
    enc = get_encoder("all-MiniLM-L6-v2", backend)
    got = enc.encode(texts, batch_size=5)  # other batches than the reference: padding differs
    cos = np.sum(got * reference, axis=1)
    assert got.shape == reference.shape and got.dtype == np.float32
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)
    assert cos.min() >= worst and cos.mean() >= mean, cos
    one = get_encoder("all-MiniLM-L6-v2", backend, for_queries=True).encode(texts[-2:])
    assert np.sum(one * reference[-2:], axis=1).min() >= worst  # the one-thread session too


@pytest.mark.parametrize("backend", ["torch", "onnx", "onnx-int8"])
def test_span_vectors_are_mean_pooled_token_vectors(backend: str, texts: list[str]) -> None:
    enc: Any = get_encoder("all-MiniLM-L6-v2", backend)
    text = texts[0]
    whole = (0, len(text))
    first = (0, text.index("\n"))
    vecs, spans = enc.encode_with_spans([text, "short"], [[whole, first, (5000, 5001)], []])
    assert spans[0].shape == (3, enc.dim) and spans[1].shape == (0, enc.dim)
    # the whole text's span vector is the mean pooling of the text: its own vector
    assert float(spans[0][0] @ vecs[0]) > 0.999
    assert float(spans[0][1] @ vecs[0]) < 0.99  # a part differs from the whole
    assert not spans[0][2].any()  # beyond the text: no tokens, zero vector
