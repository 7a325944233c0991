"""The per-model head profile written by `make export` (heads_profile.json)."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest
from tokenizers import Tokenizer

from headgaze.service.analysis.head_analysis import ALL_TAGS
from headgaze.service.analysis.head_profile import PROFILE_FILE
from headgaze.service.runtime.batching import pad_batch
from tests.support.graph_weights import run_outputs


def load(models_dir, model_id):
    folder = models_dir / model_id
    return json.loads((folder / PROFILE_FILE).read_text()), json.loads((folder / "manifest.json").read_text())


# Counts of the current export (printed by `make export`: "head tags: previous-token 4, first-token 173,
# ..."). SmolLM2's plain texts start without a BOS since the export follows the GGUF's add_bos_token =
# false (was: <|im_start|> first; first-token 137, sink 129): the first word is now the sink. The profile is deterministic (fixed probe texts, seed 0); a head whose mean score sits within
# rounding of a threshold may flip with another onnxruntime/torch build, so each count may differ by
# at most TOLERANCE heads. A larger change means the analysis or the export changed: update on purpose.
EXPECTED_COUNTS = {
    "smollm2-135m": {"previous-token": 4, "first-token": 173, "self": 3, "next-token": 0, "broad": 9,
                     "focused": 35, "sink": 164, "induction": 10, "duplicate-token": 7},
    "minilm-l6": {"previous-token": 1, "first-token": 24, "self": 0, "next-token": 1, "broad": 10,
                  "focused": 1, "sink": 24, "induction": 0, "duplicate-token": 2},
}
TOLERANCE = 1
# The tag rules, written out here so that the test checks service/analysis/head_analysis.py, not itself.
RULES = {"previous-token": [("previous", ">", 0.5)], "first-token": [("first", ">", 0.6)], "self": [("self", ">", 0.5)],
         "next-token": [("next", ">", 0.5)], "broad": [("entropy", ">", 0.8)], "focused": [("entropy", "<", 0.2)],
         "sink": [("first", ">", 0.6), ("first_norm", "<", 0.5)],
         "induction": [("induction", ">", 0.3)], "duplicate-token": [("duplicate", ">", 0.3)]}


@pytest.mark.parametrize("model_id", sorted(EXPECTED_COUNTS))
def test_profile_counts_are_the_measured_ones(models_dir, model_id):
    profile, manifest = load(models_dir, model_id)
    counts = profile["tag_counts"]
    assert set(counts) == set(EXPECTED_COUNTS[model_id])
    off = {tag: (counts[tag], want) for tag, want in EXPECTED_COUNTS[model_id].items()
           if abs(counts[tag] - want) > TOLERANCE}
    assert not off, f"{model_id} tag counts (got, expected) beyond ±{TOLERANCE}: {off}"
    assert manifest["heads_profile"]["tag_counts"] == counts


@pytest.mark.parametrize("model_id", sorted(EXPECTED_COUNTS))
def test_tags_and_counts_follow_from_the_scores(models_dir, model_id):
    """Recompute every head's tags from the profile's scores with the documented thresholds."""
    profile, manifest = load(models_dir, model_id)
    layers, heads = manifest["layers"], manifest["heads"]
    tags = profile["tags"]
    assert len(tags) == layers and all(len(row) == heads for row in tags)
    for tag, rule in RULES.items():
        for layer in range(layers):
            for head in range(heads):
                expected = all(profile["scores"][score] is not None
                               and (profile["scores"][score][layer][head] > limit if op == ">"
                                    else profile["scores"][score][layer][head] < limit)
                               for score, op, limit in rule)
                assert (tag in tags[layer][head]) == expected, (model_id, tag, layer, head)
        assert profile["tag_counts"][tag] == sum(tag in h for row in tags for h in row)
    assert profile["thresholds"] == {tag: " and ".join(f"{s} {op} {v}" for s, op, v in rule) for tag, rule in RULES.items()}


def test_profile_scores_have_the_model_geometry_and_stay_in_range(models_dir):
    for model_id in ("smollm2-135m", "minilm-l6"):
        profile, manifest = load(models_dir, model_id)
        assert set(profile["tag_counts"]) == set(ALL_TAGS)
        for name, values in profile["scores"].items():
            if values is None:
                continue
            arr = np.asarray(values)
            assert arr.shape == (manifest["layers"], manifest["heads"]), (model_id, name)
            top = np.inf if name in ("first_norm", "sink") else 1  # ratios of value norms are not bounded by 1
            assert np.all((arr >= 0) & (arr <= top)), (model_id, name)


def test_profile_measures_the_about_sentence(models_dir):
    """The issue's measurement on SmolLM2 ("The fluffy blue monster ate the cookie."): 180 of 270 heads
    were first-token heads on <|im_start|>, in 179 of them the first token's value norm below the other
    tokens' median. Without a BOS (the GGUF's add_bos_token = false) the first word "The" is the sink:
    191 first-token heads, 189 of them below the median (median ratio 0.19 vs 0.40 for the other heads).
    Recomputed here from the ONNX outputs."""
    profile, manifest = load(models_dir, "smollm2-135m")
    got = profile["first_token"]
    assert manifest["heads_profile"]["first_token"] == got
    assert (got["heads"], got["first_token_heads"], got["below_median"]) == (270, 191, 189)
    assert abs(got["median_ratio_first_token_heads"] - 0.193) < 0.01  # with <|im_start|> first: 0.23
    assert abs(got["median_ratio_other_heads"] - 0.404) < 0.01  # with <|im_start|> first: 0.51
    folder = models_dir / "smollm2-135m"
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    ids = Tokenizer.from_file(str(folder / "tokenizer.json")).encode(got["text"]).ids
    names = [f"{kind}.{i}" for kind in ("attentions", "value_norms") for i in range(30)]
    # the weights as the service gets them (served without attentions outputs: from q and k)
    outs = list(run_outputs(session, pad_batch([ids], [i.name for i in session.get_inputs()]), manifest, names).values())
    att, vn = np.concatenate(outs[:30]), np.concatenate(outs[30:])
    first = att[..., 1:, 0].mean(-1) > 0.6
    below = vn[..., 0] < np.median(vn[..., 1:], axis=-1)
    assert (int(first.sum()), int((first & below).sum())) == (got["first_token_heads"], got["below_median"])


def test_encoder_has_no_induction_heads_but_a_next_token_score(models_dir):
    profile, _ = load(models_dir, "minilm-l6")
    assert profile["scores"]["next"] is not None
    assert profile["tag_counts"]["induction"] == 0  # bidirectional MiniLM: measured max induction score 0.03
