"""service/common/half.py: onnxruntime's Cast gives numpy's float16 bit for bit, including the values where
the two could differ (ties, subnormals, overflow, signed zeros, inf, nan)."""

from __future__ import annotations

import numpy as np

from headgaze.service.common.half import to_float16


def test_random_weights_equal_numpy_bit_for_bit():
    rng = np.random.default_rng(0)
    # softmax-like rows: most weights tiny (float16 subnormals), a few large
    logits = rng.normal(0, 6, size=(3, 4, 64, 64)).astype(np.float32)
    att = np.exp(logits - logits.max(-1, keepdims=True))
    att /= att.sum(-1, keepdims=True)
    ours = to_float16(att)
    assert ours.dtype == np.float16 and ours.shape == att.shape
    assert np.array_equal(ours.view(np.uint16), att.astype(np.float16).view(np.uint16))
    assert 0.05 < np.mean((ours > 0) & (ours < np.float16(6.1e-5))) < 0.95  # the subnormal range is exercised


def test_edge_values_equal_numpy_bit_for_bit():
    tiny = np.float32(2.0 ** -24)  # the smallest float16 subnormal
    edges = np.array([0.0, -0.0, 1.0, -1.0, 65504.0, 65520.0, 1e6, -1e6, np.inf, -np.inf, tiny, tiny / 2,
                      tiny * 1.5, tiny * 0.49, 6.1e-5, 1.0 + 2.0 ** -11, 1.0 + 3 * 2.0 ** -11, 3e-8],
                     dtype=np.float32)
    ours = to_float16(edges)
    with np.errstate(over="ignore"):  # numpy warns on the values that become inf, as they should
        theirs = edges.astype(np.float16)
    assert np.array_equal(ours.view(np.uint16), theirs.view(np.uint16))
    assert np.isnan(to_float16(np.array([np.nan], np.float32)))[0]


def test_strided_and_empty_inputs():
    a = np.arange(60, dtype=np.float32).reshape(3, 4, 5) / 7
    view = a[:, 1:3, ::2]  # not contiguous
    assert np.array_equal(to_float16(view), view.astype(np.float16))
    empty = to_float16(np.zeros((2, 0, 3), np.float32))
    assert empty.shape == (2, 0, 3) and empty.dtype == np.float16
