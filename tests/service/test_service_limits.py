"""Bearer token, queue limit (503 + Retry-After) and a dead Redis cache, against a second real service."""

from __future__ import annotations

import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.env import API_TOKEN
from tests.support.net import ServerThread
from tests.support.openapi import OpenApiCheck
from tests.support.wait import wait_until


def test_healthz_needs_no_token(limited_server):
    resp = limited_server.get("/healthz", auth=False)
    assert resp.status_code == 200


def test_everything_else_needs_the_token(limited_server):
    for path in ("/readyz", "/v1/models", "/v1/models/smollm2-135m/heads", "/metrics", "/openapi.json"):
        resp = limited_server.get(path, auth=False)
        assert resp.status_code == 401, path
        assert resp.json()["error"]["code"] == "unauthorized"
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    resp = limited_server.request("POST", "/v1/attention", json={"text": "hi"}, auth=False)
    assert resp.status_code == 401


def test_wrong_token_and_wrong_scheme_are_refused(limited_server):
    for header in (f"Bearer {API_TOKEN}x", "Bearer ", API_TOKEN, f"Basic {API_TOKEN}"):
        resp = limited_server.request("POST", "/v1/attention", json={"text": "hi"}, auth=False,
                                      headers={"Authorization": header})
        assert resp.status_code == 401, header


def test_right_token_works(limited_server):
    resp = limited_server.post({"text": "with a token"})
    assert resp.status_code == 200
    assert limited_server.get("/v1/models").status_code == 200


def test_token_off_by_default(server):
    assert server.get("/v1/models").status_code == 200


def test_dead_redis_is_bypassed(limited_server):
    text = f"redis is down {uuid.uuid4().hex[:6]}"
    first = limited_server.post({"text": text, "model": "minilm-l6"})
    second = limited_server.post({"text": text, "model": "minilm-l6"})
    assert first.status_code == second.status_code == 200
    assert first.json()["cached"] is False and second.json()["cached"] is False
    ready = limited_server.get("/readyz").json()
    assert ready["cache"]["backend"].startswith("redis://") and ready["cache"]["errors"] >= 1
    m = re.search(r"^headgaze_cache_errors (\S+)$", limited_server.get("/metrics").text, re.M)
    assert m and float(m.group(1)) >= 1
    assert "cache get failed" in limited_server.log()


class GatedEngine:
    """Wraps a real Engine: every compute call (what both attention endpoints run) waits at a gate until the test opens it."""

    def __init__(self, engine):
        self._engine = engine
        self.gate = threading.Event()
        self.entered = threading.Semaphore(0)

    def compute(self, *args, **kwargs):
        self.entered.release()
        assert self.gate.wait(60), "the test never opened the gate"
        return self._engine.compute(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._engine, name)


@pytest.fixture(scope="module")
def minilm_engine(minilm_dir):
    from headgaze.service.runtime.engine import Engine

    return Engine(minilm_dir, warmup=False)


@pytest.mark.parametrize("queue_limit", [0, 1])
def test_queue_limit_answers_503_with_retry_after(minilm_engine, queue_limit):
    """One request runs (held at the gate) and `queue_limit` wait; the next is refused at once, not queued."""
    from headgaze.service.web.api import create_app

    engine = GatedEngine(minilm_engine)
    srv = ServerThread(create_app(engine, queue_limit=queue_limit))
    check = OpenApiCheck.from_url(srv.url)

    def post(i: int) -> requests.Response:
        resp = requests.post(srv.url + "/v1/attention", json={"text": f"held request {i} {uuid.uuid4().hex[:6]}"},
                             timeout=60)
        check(resp)
        return resp

    def get(path: str) -> requests.Response:
        resp = requests.get(srv.url + path, timeout=10)
        check(resp)
        return resp

    def in_flight() -> int:
        return get("/readyz").json()["queue"]["in_flight"]

    try:
        with ThreadPoolExecutor(queue_limit + 1) as pool:
            held = [pool.submit(post, i) for i in range(queue_limit + 1)]
            assert engine.entered.acquire(timeout=30), "the first request never reached the engine"
            wait_until(lambda: in_flight() == queue_limit + 1, f"{queue_limit + 1} requests are admitted")
            refused = post(99)
            engine.gate.set()
            answers = [f.result(60) for f in held]
        assert refused.status_code == 503, refused.text
        assert refused.headers["Retry-After"] == "1"
        assert refused.json()["error"]["code"] == "overloaded"
        assert [a.status_code for a in answers] == [200] * (queue_limit + 1)
        metrics = get("/metrics").text
        m = re.search(r"^headgaze_queue_rejections_total (\S+)$", metrics, re.M)
        assert m and float(m.group(1)) == 1
        assert get("/readyz").json()["queue"] == {"limit": queue_limit, "in_flight": 0}
    finally:
        engine.gate.set()
        srv.close()


def test_queue_limit_zero_of_the_real_service_is_reported(limited_server):
    assert limited_server.get("/readyz").json()["queue"] == {"limit": 0, "in_flight": 0}
