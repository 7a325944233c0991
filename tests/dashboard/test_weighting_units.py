"""Issue 11 in the dashboard, without a browser: the weighting switch's data (thumbnails and heads
weighted by the service, cached apart), the q·k fetch (one request per head, refused with the
manifest's reason for a model without q/k), the About sentence from the profile, the sink score in
the head's stats, the CSV name and the switch's options."""

from __future__ import annotations

import json

import numpy as np
import pytest

from headgaze.dashboard.about import first_token_text
from headgaze.dashboard.data import DashboardError
from headgaze.dashboard.head_panels import stats_table
from headgaze.dashboard.heads import TAG_LABELS, TAGS, head_summary, tag_counts
from headgaze.dashboard.layout import weighting_options
from headgaze.dashboard.shown import csv_name
from headgaze.service.analysis.weighting import weigh
from tests.dashboard.fakes import FakeBackend
from tests.dashboard.test_units import Counting, make_data

TEXT = "one two three four"


@pytest.fixture
def counted(minilm_engine):
    backend = Counting(minilm_engine)
    return backend, make_data(backend)


def test_value_norm_grid_and_head_are_the_services_weighting_cached_apart(counted, minilm_engine):
    backend, data = counted
    raw = data.grid(TEXT, "minilm-l6")
    weighted = data.grid(TEXT, "minilm-l6", weighting="value_norm")
    assert backend.calls == 2 and weighted["key"] == raw["key"]
    assert not np.allclose(weighted["grid"], raw["grid"])
    assert data.grid(TEXT, "minilm-l6", weighting="value_norm")["dashboard_cached"] and backend.calls == 2
    full = minilm_engine.head(TEXT, "minilm-l6", 2, 3)
    np.testing.assert_allclose(data.head(raw, 2, 3, "value_norm"), weigh(full.attention, full.value_norms), atol=1e-6)
    np.testing.assert_allclose(data.head(raw, 2, 3), full.attention, atol=1e-6)
    assert backend.head_calls == 2
    layer = data.layer(raw, 2, "value_norm")
    np.testing.assert_allclose(layer.sum(-1), 1.0, atol=1e-5)
    with pytest.raises(DashboardError, match="Unknown weighting"):
        data.grid(TEXT, "minilm-l6", weighting="nope")


def test_qk_is_fetched_once_per_head_and_brings_the_raw_head_along(counted, minilm_engine):
    backend, data = counted
    res = data.grid(TEXT, "minilm-l6")
    qk = data.head_qk(res, 1, 4)
    again = data.head_qk(res, 1, 4)
    assert backend.head_calls == 1 and again["scale"] == qk["scale"]
    direct = minilm_engine.head(TEXT, "minilm-l6", 1, 4, qk=True)
    np.testing.assert_array_equal(qk["queries"], direct.queries)
    np.testing.assert_array_equal(qk["keys"], direct.keys)
    data.head(res, 1, 4)  # the raw weights came with the q/k answer
    assert backend.head_calls == 1


class NoQk(FakeBackend):
    def models(self):
        return [{**m, "qk": m["id"] != "fake-bert", "qk_reason": "exported without q/k (test)"}
                for m in super().models()]


def test_a_model_without_qk_says_why_and_keeps_attention_weights():
    data = make_data(NoQk())
    assert data.qk_reason("fake-bert") == "exported without q/k (test)"
    assert data.qk_reason("fake-causal") is None
    assert data.weighting("fake-bert", "value_norm") == "attention"
    assert data.weighting("fake-causal", "value_norm") == "value_norm"
    assert data.weighting("fake-causal", None) == "attention"
    res = data.grid("a b c", "fake-bert")
    with pytest.raises(DashboardError, match="exported without q/k") as err:
        data.head_qk(res, 0, 0)
    assert err.value.code == "qk_unavailable"
    opts = {o["value"]: o for o in weighting_options("exported without q/k (test)")}
    assert opts["value_norm"]["disabled"] and "exported without q/k" in opts["value_norm"]["title"]
    assert not {o["value"]: o for o in weighting_options(None)}["value_norm"]["disabled"]


def test_about_sentence_is_measured_from_the_profile(models_dir):
    prof = json.loads((models_dir / "smollm2-135m" / "heads_profile.json").read_text())
    ft = prof["first_token"]
    text = first_token_text(prof)
    assert f"{ft['first_token_heads']} of {ft['heads']} heads are first-token heads" in text
    assert f"in {ft['below_median']} of them" in text and ft["text"] in text
    assert first_token_text(None) == "" and first_token_text({"first_token": None}) == ""


def test_sink_is_a_tag_and_a_score_of_the_selected_head(minilm_engine):
    assert "sink" in TAGS and "sink" in TAG_LABELS
    res = minilm_engine.attention_grid("The fluffy blue monster ate the cookie.", "minilm-l6")
    stats = res.heads_stats
    counts = tag_counts(stats["tags"])
    assert counts["sink"] == sum("sink" in ts for row in stats["tags"] for ts in row)
    summary = head_summary(stats, None, 0, 0)
    assert summary["text_scores"]["sink"] == pytest.approx(stats["scores"]["sink"][0][0])
    assert "sink" in str(stats_table(summary))


def test_csv_name_says_what_was_done():
    assert csv_name("m", 1, 2) == "headgaze-m-layer1-head2.csv"
    assert csv_name("m", 1, 2, ["hide"], "value_norm") == "headgaze-m-layer1-head2-value-norm-weighted-first-token-hidden.csv"
