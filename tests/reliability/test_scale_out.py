"""Scale-out as README describes it: two replicas behind nginx (service/deploy/nginx.example.conf)
sharing one Redis cache; Redis and replica failures keep requests answered."""

from __future__ import annotations

import signal
import time
import uuid

import requests


def attention(url: str, text: str) -> requests.Response:
    return requests.post(url + "/v1/attention", json={"text": text}, timeout=30)


def test_replicas_share_one_redis_cache_through_nginx(nginx, replicas):
    text = f"shared cache {uuid.uuid4().hex[:8]}"
    first = attention(nginx.url, text)
    assert first.status_code == 200 and first.json()["cached"] is False
    # each replica, asked directly, finds the entry the other one (or itself) computed
    for replica in replicas:
        hit = attention(replica.url, text)
        assert hit.status_code == 200 and hit.json()["cached"] is True


def test_killed_replica_the_other_keeps_answering(nginx, replicas):
    replicas[0].proc.send_signal(signal.SIGKILL)
    replicas[0].proc.wait(10)
    answers = [attention(nginx.url, f"after the kill {i} {uuid.uuid4().hex[:6]}") for i in range(12)]
    assert [r.status_code for r in answers] == [200] * 12
    assert attention(replicas[1].url, "straight to the survivor").status_code == 200


def test_redis_stopped_then_back(redis_server, replicas):
    replica = replicas[0]
    redis_server.stop()
    down = [attention(replica.url, f"redis is down {i}") for i in range(3)]
    assert [r.status_code for r in down] == [200, 200, 200]
    assert all(r.json()["cached"] is False for r in down)
    assert replica.get("/readyz").json()["cache"]["errors"] >= 1

    redis_server.start()  # same port, empty: the replica reconnects once its bypass cooldown ends
    text = f"redis is back {uuid.uuid4().hex[:8]}"
    deadline = time.monotonic() + 30
    cached = False
    while not cached and time.monotonic() < deadline:
        assert attention(replica.url, text).status_code == 200
        cached = attention(replica.url, text).json()["cached"]
        time.sleep(0.5)
    assert cached, "cache hits did not resume after Redis came back"
    assert attention(replicas[1].url, text).json()["cached"] is True  # and it is shared again
