"""Bearer token, queue limit (503 + Retry-After) and a dead Redis cache, against a second real service."""

from __future__ import annotations

import re
import threading
import uuid

import requests
from service_testlib import API_TOKEN


def test_healthz_needs_no_token(limited_server):
    resp = requests.get(limited_server.url + "/healthz", timeout=10)
    assert resp.status_code == 200


def test_everything_else_needs_the_token(limited_server):
    for path in ("/readyz", "/v1/models", "/v1/models/smollm2-135m/heads", "/metrics", "/openapi.json"):
        resp = requests.get(limited_server.url + path, timeout=10)
        assert resp.status_code == 401, path
        assert resp.json()["error"]["code"] == "unauthorized"
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    resp = requests.post(limited_server.url + "/v1/attention", json={"text": "hi"}, timeout=10)
    assert resp.status_code == 401


def test_wrong_token_and_wrong_scheme_are_refused(limited_server):
    for header in (f"Bearer {API_TOKEN}x", "Bearer ", API_TOKEN, f"Basic {API_TOKEN}"):
        resp = requests.post(limited_server.url + "/v1/attention", json={"text": "hi"},
                             headers={"Authorization": header}, timeout=10)
        assert resp.status_code == 401, header


def test_right_token_works(limited_server):
    resp = limited_server.post({"text": "with a token"})
    assert resp.status_code == 200
    assert limited_server.get("/v1/models").status_code == 200


def test_token_off_by_default(server):
    assert requests.get(server.url + "/v1/models", timeout=10).status_code == 200


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


def test_queue_limit_answers_503_with_retry_after(limited_server):
    """Queue limit 0: while one request runs, the others are refused, not queued."""
    statuses: list[int] = []
    bodies: list[requests.Response] = []
    lock = threading.Lock()

    def hit(i: int, barrier: threading.Barrier):
        barrier.wait()
        text = f"Queue pressure number {i} {uuid.uuid4().hex} with some more words to tokenise"
        resp = limited_server.post({"text": text})
        with lock:
            statuses.append(resp.status_code)
            bodies.append(resp)

    for _ in range(5):  # each round is 8 simultaneous SmolLM2 requests; one round nearly always suffices
        barrier = threading.Barrier(8)
        threads = [threading.Thread(target=hit, args=(i, barrier)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if 503 in statuses:
            break
    assert set(statuses) <= {200, 503}
    assert 200 in statuses and 503 in statuses
    refused = next(r for r in bodies if r.status_code == 503)
    assert refused.headers["Retry-After"] == "1"
    assert refused.json()["error"]["code"] == "overloaded"
    assert limited_server.proc.poll() is None
    m = re.search(r"^headgaze_queue_rejections_total (\S+)$", limited_server.get("/metrics").text, re.M)
    assert m and float(m.group(1)) == statuses.count(503)
    assert limited_server.get("/readyz").json()["queue"] == {"limit": 0, "in_flight": 0}
