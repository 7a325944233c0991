"""The Redis cache backend against a real redis-server: shared hits, then Redis dying mid-flight is bypassed."""

from __future__ import annotations

import uuid

from tests.support.service import ServiceProcess


def test_redis_cache_hits_and_survives_redis_dying(redis_server, minilm_dir, tmp_path):
    client = redis_server.client()
    # no recent-results store: every repeat goes to Redis
    srv = ServiceProcess(["--models-dir", str(minilm_dir), "--cache", redis_server.url, "--store-mb", "0"],
                         tmp_path / "service.log")
    try:
        srv.start()
        text = f"shared through redis {uuid.uuid4().hex[:6]}"
        assert srv.post({"text": text}).json()["cached"] is False
        assert srv.post({"text": text}).json()["cached"] is True
        assert any(k.startswith(b"headgaze:hg2:minilm-l6:") for k in client.keys("*"))
        redis_server.stop()
        resp = srv.post({"text": text})  # the entry is gone with Redis; the request is still answered
        assert resp.status_code == 200 and resp.json()["cached"] is False
        assert srv.post({"text": "another text"}).status_code == 200
        ready = srv.get("/readyz").json()
        assert ready["cache"]["errors"] >= 1
        assert "cache get failed" in srv.log()
    finally:
        srv.stop()
