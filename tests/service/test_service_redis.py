"""The Redis cache backend against a real redis-server: shared hits, then Redis dying mid-flight is bypassed."""

from __future__ import annotations

import uuid

import pytest
import redis
from service_testlib import RedisServer, Server, clean_env


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path).start()  # fails clearly when redis-server is missing (.ci/run installs it)
    yield server.proc, server.port, redis.Redis(port=server.port)
    server.stop()


def test_redis_cache_hits_and_survives_redis_dying(redis_server, minilm_dir, tmp_path):
    proc, port, client = redis_server
    srv = Server(["--models-dir", str(minilm_dir), "--cache", f"redis://127.0.0.1:{port}/0"], clean_env(),
                 tmp_path / "service.log")
    try:
        srv.wait_ready()
        text = f"shared through redis {uuid.uuid4().hex[:6]}"
        assert srv.post({"text": text}).json()["cached"] is False
        assert srv.post({"text": text}).json()["cached"] is True
        assert any(k.startswith(b"headgaze:hg1:minilm-l6:") for k in client.keys("*"))
        proc.terminate()
        proc.wait(10)
        resp = srv.post({"text": text})  # the entry is gone with Redis; the request is still answered
        assert resp.status_code == 200 and resp.json()["cached"] is False
        assert srv.post({"text": "another text"}).status_code == 200
        ready = srv.get("/readyz").json()
        assert ready["cache"]["errors"] >= 1
        assert "cache get failed" in srv.log()
    finally:
        srv.stop()
