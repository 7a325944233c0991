"""Head statistics on constructed matrices with known answers, and on real model output."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest
from tokenizers import Tokenizer

from headgaze.service.analysis.head_analysis import head_scores, heads_stats, prefix_medians, repeat_scores
from headgaze.service.runtime.batching import pad_batch
from tests.support.graph_weights import run_outputs

T = 6


def stack(*heads: np.ndarray) -> np.ndarray:
    """[1, H, T, T] from H matrices."""
    return np.stack(heads)[None].astype(np.float32)


def causal_uniform(t=T):
    a = np.tril(np.ones((t, t)))
    return a / a.sum(-1, keepdims=True)


def previous_token(t=T):
    a = np.zeros((t, t))
    a[0, 0] = 1
    a[np.arange(1, t), np.arange(t - 1)] = 1
    return a


def first_token(t=T):
    a = np.zeros((t, t))
    a[:, 0] = 1
    return a


def test_constructed_causal_heads_have_known_scores_and_tags():
    att = stack(np.eye(T), previous_token(), first_token(), causal_uniform())
    scores = head_scores(att, causal=True)
    np.testing.assert_allclose(scores["self"][0], [1, 0, 0, np.mean([1 / (i + 1) for i in range(1, T)])])
    # row 1's previous token is also the first token, hence the 1 / (T - 1) cross terms
    np.testing.assert_allclose(scores["previous"][0], [0, 1, 1 / (T - 1), np.mean([1 / (i + 1) for i in range(1, T)])])
    np.testing.assert_allclose(scores["first"][0], [0, 1 / (T - 1), 1, np.mean([1 / (i + 1) for i in range(1, T)])])
    np.testing.assert_allclose(scores["entropy"][0], [0, 0, 0, 1], atol=1e-12)  # uniform over visible keys → 1
    assert scores["next"] is None  # causal models cannot look ahead
    tags = heads_stats(att, causal=True)["tags"][0]
    assert tags == [["self", "focused"], ["previous-token", "focused"], ["first-token", "focused"], ["broad"]]


def test_row_zero_is_ignored_for_causal_models():
    """Row 0 of a causal model always attends to itself; it must not count as 'self' or 'first'."""
    scores = head_scores(stack(previous_token()), causal=True)
    assert scores["self"][0, 0] == 0.0  # counting row 0 would give 1 / T
    assert scores["first"][0, 0] == pytest.approx(1 / (T - 1))  # only row 1 looks at token 0; with row 0: 2 / T


def test_bidirectional_next_token_and_uniform():
    nxt = np.zeros((T, T))
    nxt[np.arange(T - 1), np.arange(1, T)] = 1
    nxt[T - 1, T - 1] = 1
    uniform = np.full((T, T), 1 / T)
    scores = head_scores(stack(nxt, uniform), causal=False)
    assert scores["next"][0, 0] == pytest.approx(1.0)
    assert scores["next"][0, 1] == pytest.approx(1 / T)
    assert scores["entropy"][0, 1] == pytest.approx(1.0)
    assert heads_stats(stack(nxt, uniform), causal=False)["tags"][0] == [["next-token", "focused"], ["broad"]]


def test_max_weight_and_argmax_per_query():
    stats = heads_stats(stack(previous_token()), causal=True)
    assert stats["argmax"][0][0] == [0, 0, 1, 2, 3, 4]
    assert stats["max_weight"][0][0] == [1.0] * T


def test_one_token_text_has_no_scores_but_does_not_fail():
    scores = head_scores(np.ones((2, 3, 1, 1)), causal=True)
    assert all(v is None for v in scores.values())
    assert heads_stats(np.ones((2, 3, 1, 1)), causal=True)["tags"] == [[[], [], []], [[], [], []]]


def test_induction_and_duplicate_scores_on_a_constructed_repeat():
    length, offset = 4, 1
    t = offset + 2 * length
    induction, duplicate = np.eye(t), np.eye(t)
    for i in range(offset + length, t):
        induction[i] = 0
        induction[i, i - length + 1] = 1
        duplicate[i] = 0
        duplicate[i, i - length] = 1
    scores = repeat_scores(stack(induction, duplicate), offset, length)
    np.testing.assert_allclose(scores["induction"][0], [1, 0])
    np.testing.assert_allclose(scores["duplicate"][0], [0, 1])


@pytest.mark.parametrize("model_id", ["smollm2-135m", "minilm-l6"])
def test_stats_on_real_model_output_are_in_range(models_dir, model_id):
    folder = models_dir / model_id
    manifest = json.loads((folder / "manifest.json").read_text())
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    ids = Tokenizer.from_file(str(folder / "tokenizer.json")).encode("fluffy blue monster eats cake").ids
    layers = manifest["layers"]
    names = [f"{kind}.{i}" for kind in ("attentions", "value_norms") for i in range(layers)]
    # the weights as the service gets them (a q/k model is served without attentions outputs)
    feeds = pad_batch([ids], [i.name for i in session.get_inputs()])
    outs = list(run_outputs(session, feeds, manifest, names).values())
    att, vn = np.concatenate(outs[:layers], axis=0), np.concatenate(outs[layers:], axis=0)
    np.testing.assert_allclose(att.sum(-1), 1.0, atol=1e-4)
    stats = heads_stats(att, manifest["causal"], vn)
    for name, values in stats["scores"].items():
        if values is None:
            assert name == "next" and manifest["causal"]
            continue
        arr = np.asarray(values)
        assert arr.shape == (manifest["layers"], manifest["heads"])
        if name in ("first_norm", "sink"):  # a ratio of norms: not bounded by 1
            assert np.all(arr >= 0), name
        else:
            assert np.all((arr >= 0) & (arr <= 1)), name
    assert stats["scores"]["sink"] == heads_stats(att, manifest["causal"], vn)["scores"]["sink"]
    no_norms = heads_stats(att, manifest["causal"])
    assert no_norms["scores"]["sink"] is None and no_norms["scores"]["first_norm"] is None
    assert not any("sink" in head for row in no_norms["tags"] for head in row)
    assert np.asarray(stats["argmax"]).shape == (manifest["layers"], manifest["heads"], len(ids))


def test_sink_score_weighs_first_token_attention_by_its_relative_value_norm():
    """Causal, 4 tokens: every row pours 0.8 into token 0; value norms n = [1, 2, 4, 6].
    Row i's other visible keys are 1..i: medians 2, 3, 4 → r = 1/2, 1/3, 1/4."""
    att = np.zeros((1, 2, 4, 4))
    for i in range(4):
        att[0, :, i, 0] = 0.8 if i else 1.0
        att[0, :, i, 1:i + 1] = 0.2 / i if i else 0
    vn = np.array([[[1.0, 2, 4, 6], [8.0, 2, 4, 6]]])  # head 1: the first token passes on a lot
    scores = head_scores(att, causal=True, value_norms=vn)
    r = np.array([1 / 2, 1 / 3, 1 / 4])
    np.testing.assert_allclose(scores["first_norm"][0], [r.mean(), (8 * r).mean()])
    np.testing.assert_allclose(scores["sink"][0], [(0.8 * r).mean(), (0.8 * 8 * r).mean()])
    tags = heads_stats(att, causal=True, value_norms=vn)["tags"][0]
    assert "sink" in tags[0] and "first-token" in tags[0]
    assert "sink" not in tags[1] and "first-token" in tags[1]


def test_sink_score_bidirectional_uses_every_other_token():
    att = np.full((1, 1, 3, 3), 1 / 3)
    vn = np.array([[[1.0, 4, 2]]])  # median of the others: 3
    scores = head_scores(att, causal=False, value_norms=vn)
    np.testing.assert_allclose(scores["first_norm"], [[1 / 3]])
    np.testing.assert_allclose(scores["sink"], [[1 / 9]])
    assert head_scores(np.ones((1, 1, 1, 1)), causal=False, value_norms=np.ones((1, 1, 1)))["sink"] is None


@pytest.mark.parametrize("shape", [(1,), (2, 5), (3, 4, 1), (2, 3, 64)])
def test_prefix_medians_equal_numpy_median_of_every_prefix(shape):
    """The causal first-token ratio's medians (row i sees keys 1..i): equal to np.median, ties and
    even counts included."""
    rng = np.random.default_rng(len(shape))
    x = rng.gamma(2.0, size=shape)
    x[..., ::3] = 1.5  # ties
    reference = np.stack([np.median(x[..., :k + 1], axis=-1) for k in range(shape[-1])], axis=-1)
    assert np.array_equal(prefix_medians(x), reference)
    assert prefix_medians(np.array([4.0, 1.0, 3.0, 2.0])).tolist() == [4.0, 2.5, 3.0, 2.5]
