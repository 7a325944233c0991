"""`hide_first` on `detail=grid` through real HTTP: the thumbnails are pooled after hiding token 0
(exactly the max over each block of the renormalised weights), heads_stats stay those of the raw
weights, and a bad value or a full-detail request get a one-line 400.

Every response is validated against the served /openapi.json by the `server` fixture.
"""

from __future__ import annotations

import numpy as np
import pytest

from headgaze.service.common.encoding import decode

TEXT = "The sink token takes most of the weight in many heads."


def grid(server, **extra) -> dict:
    return server.post({"text": TEXT, "model": "smollm2-135m", "detail": "grid", **extra},
                       params={"format": "json"}).json()


def test_hidden_thumbnails_are_the_renormalised_weights(server):
    full = server.post({"text": TEXT, "model": "smollm2-135m"}, params={"format": "json"}).json()
    att = decode(full["attentions"]).astype(np.float64)
    raw, hidden = grid(server), grid(server, hide_first=True)
    T = len(full["tokens"])
    assert hidden["grid"]["cells"] == [[i, i + 1] for i in range(T)]  # short text: one cell per token
    kept = att.copy()
    kept[..., 0] = 0
    total = kept.sum(-1, keepdims=True)
    expected = np.where(total > 1e-12, kept / np.where(total > 1e-12, total, 1), 0)  # row 0 (causal): zeros
    np.testing.assert_allclose(decode(hidden["grid"]), expected, atol=1e-6)
    np.testing.assert_allclose(decode(raw["grid"]), att, atol=1e-6)
    assert hidden["heads_stats"] == raw["heads_stats"] and hidden["cached"] is True


@pytest.mark.parametrize("extra, code", [({"hide_first": "yes"}, "invalid_type"),
                                         ({"hide_first": 1}, "invalid_type"),
                                         ({"detail": "full", "hide_first": True}, "invalid_hide_first")])
def test_bad_hide_first_is_a_400(server, extra, code):
    resp = server.post({"text": TEXT, "detail": "grid", **extra})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == code
    assert "\n" not in resp.json()["error"]["message"]
