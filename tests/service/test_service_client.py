"""service.client.ServiceClient against the real service: results, errors, unreachable and slow services."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from headgaze.service.client import ServiceClient
from headgaze.service.common.errors import ServiceError, ServiceUnavailable
from headgaze.service.runtime.engine import AttentionResult
from tests.support.env import API_TOKEN, REPO
from tests.support.net import free_port


def test_client_attention_matches_engine(server, engine):
    client = ServiceClient(server.url)
    text = "The client decodes float16."
    res = client.attention(text, model="minilm-l6")
    local = engine.attention(text, model="minilm-l6")
    assert isinstance(res, AttentionResult)
    assert res.model == "minilm-l6" and (res.layers, res.heads) == (6, 12)
    assert res.attentions.dtype == np.float32 and res.attentions.shape == local.attentions.shape
    assert res.tokens == local.tokens
    np.testing.assert_allclose(res.attentions, local.attentions, atol=5e-4, rtol=0)
    assert {"tokenize", "inference", "total"} <= set(res.timing_ms)
    assert client.attention(text, model="minilm-l6").cached is True


def test_client_and_engine_carry_causal_and_the_services_heads_stats(server, engine):
    from headgaze.service.analysis.head_analysis import heads_stats

    client = ServiceClient(server.url)
    for model, causal in (("minilm-l6", False), ("smollm2-135m", True)):
        text = f"Carry causal for {model}."
        res, local = client.attention(text, model=model), engine.attention(text, model=model)
        assert res.causal is causal and local.causal is causal
        assert local.heads_stats is None  # the engine leaves the statistics to its caller
        expected = heads_stats(local.attentions, causal, local.value_norms)
        assert res.heads_stats["tags"] == expected["tags"]
        assert (res.heads_stats["scores"]["next"] is None) is causal
        np.testing.assert_allclose(res.heads_stats["scores"]["first"], expected["scores"]["first"], atol=2e-3)
        np.testing.assert_allclose(res.heads_stats["scores"]["sink"], expected["scores"]["sink"], atol=2e-3)
        np.testing.assert_allclose(res.value_norms, local.value_norms, rtol=1e-3)  # float16 on the wire


def test_client_models_and_health(server):
    client = ServiceClient(server.url + "/")
    assert {m["id"] for m in client.models()} == {"smollm2-135m", "minilm-l6"}
    assert client.health()["status"] == "ok"


def test_client_heads_profile_is_the_served_profile(server, engine):
    client = ServiceClient(server.url)
    prof = client.heads_profile("smollm2-135m")
    assert prof == engine.heads_profile("smollm2-135m")
    assert len(prof["tags"]) == 30 and all(len(row) == 9 for row in prof["tags"])
    assert prof["tag_counts"]["first-token"] == sum("first-token" in ts for row in prof["tags"] for ts in row)
    with pytest.raises(ServiceError) as exc:
        client.heads_profile("nope")
    assert (exc.value.status, exc.value.code) == (404, "unknown_model")


def test_client_raises_service_errors(server):
    client = ServiceClient(server.url)
    with pytest.raises(ServiceError) as exc:
        client.attention("hi", model="nope")
    assert (exc.value.status, exc.value.code) == (404, "unknown_model")
    with pytest.raises(ServiceError) as exc:
        client.attention("  ")
    assert (exc.value.status, exc.value.code) == (422, "empty_text")
    assert not isinstance(exc.value, ServiceUnavailable)


def test_client_token(limited_server):
    with pytest.raises(ServiceError) as exc:
        ServiceClient(limited_server.url).models()
    assert exc.value.status == 401
    assert ServiceClient(limited_server.url, token=API_TOKEN).attention("ok").layers == 30


def test_unreachable_service_is_service_unavailable():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServiceUnavailable) as exc:
        ServiceClient(url, timeout=2).attention("hi")
    assert exc.value.status == 503 and exc.value.code == "service_unavailable"
    assert url in exc.value.message


def test_silent_service_times_out_as_unavailable():
    with socket.socket() as listener:  # accepts connections (backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(ServiceUnavailable) as exc:
            ServiceClient(url, timeout=0.5).health()
    assert "0.5s" in exc.value.message and url in exc.value.message


def test_client_import_is_light():
    """A dashboard that only talks HTTP does not pay for onnxruntime/tokenizers (or torch)."""
    import subprocess
    import sys

    code = "import sys, service.client; print(sorted(m for m in ('onnxruntime', 'tokenizers', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
