"""The per-model head profile written by `make export` (heads_profile.json)."""

from __future__ import annotations

import json

import numpy as np

from service.head_analysis import TAGS
from service.head_profile import PROFILE_FILE


def load(models_dir, model_id):
    folder = models_dir / model_id
    return json.loads((folder / PROFILE_FILE).read_text()), json.loads((folder / "manifest.json").read_text())


def test_smollm2_profile_finds_previous_first_and_induction_heads(models_dir):
    """Checked on the real model before writing: 5 previous-token, 137 first-token, 12 induction heads."""
    profile, manifest = load(models_dir, "smollm2-135m")
    counts = profile["tag_counts"]
    assert counts["previous-token"] >= 1
    assert counts["first-token"] >= 1
    assert counts["induction"] >= 1
    assert manifest["heads_profile"]["tag_counts"] == counts
    tags = profile["tags"]
    assert len(tags) == 30 and all(len(row) == 9 for row in tags)
    assert sum(len(head) for row in tags for head in row) == sum(counts.values())


def test_profile_scores_have_the_model_geometry_and_stay_in_range(models_dir):
    for model_id in ("smollm2-135m", "minilm-l6"):
        profile, manifest = load(models_dir, model_id)
        assert set(profile["tag_counts"]) == set(TAGS)
        for name, values in profile["scores"].items():
            if values is None:
                continue
            arr = np.asarray(values)
            assert arr.shape == (manifest["layers"], manifest["heads"]), (model_id, name)
            assert np.all((arr >= 0) & (arr <= 1)), (model_id, name)


def test_encoder_has_no_induction_heads_but_a_next_token_score(models_dir):
    profile, _ = load(models_dir, "minilm-l6")
    assert profile["scores"]["next"] is not None
    assert profile["tag_counts"]["induction"] == 0  # bidirectional MiniLM: measured max induction score 0.03
