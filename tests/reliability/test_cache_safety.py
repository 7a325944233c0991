"""Cache entries are never unpickled: a poisoned Redis or cache folder cannot run code in a replica."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import redis
from flask_caching.backends import FileSystemCache

from headgaze.service.runtime.cache import SafeCache, cache_key, make_backend
from headgaze.service.runtime.cache_codec import MAGIC, CorruptEntry, pack, unpack
from headgaze.service.runtime.engine import Engine


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))  # unpickling this creates the marker file


def test_codec_round_trip_is_exact():
    rng = np.random.default_rng(0)
    arrays = {"attentions": rng.random((2, 3, 4, 4), dtype=np.float32),
              "value_norms": rng.random((2, 3, 4), dtype=np.float32),
              "queries": rng.random((2, 3, 4, 5), dtype=np.float32), "keys": rng.random((2, 1, 4, 5), dtype=np.float32)}
    tokens = [{"text": "ß", "id": 1, "start": 0, "end": 1, "special": False}]
    for kept in (["attentions"], list(arrays)):
        got_tokens, got = unpack(pack(tokens, {name: arrays[name] for name in kept}))
        assert got_tokens == tokens and list(got) == kept
        for name in kept:
            assert got[name].dtype == np.float32
            np.testing.assert_array_equal(got[name], arrays[name])


def test_codec_keeps_a_qk_result_with_its_integer_argmax():
    """A from_qk model's entry: no attentions, the summary's argmax keys stay int32."""
    rng = np.random.default_rng(1)
    arrays = {"value_norms": rng.random((2, 3, 4), dtype=np.float32), "queries": rng.random((2, 3, 4, 5), dtype=np.float32),
              "keys": rng.random((2, 1, 4, 5), dtype=np.float32), "thumbs": rng.random((2, 3, 4, 4), dtype=np.float32),
              "rows": rng.random((2, 3, 4, 6), dtype=np.float32), "argmax": rng.integers(0, 4, (2, 3, 4), dtype=np.int32)}
    _, got = unpack(pack([], arrays))
    assert list(got) == list(arrays) and got["argmax"].dtype == np.int32 and got["rows"].dtype == np.float32
    for name, want in arrays.items():
        np.testing.assert_array_equal(got[name], want)
    with pytest.raises(CorruptEntry):  # neither attentions nor queries: not an entry
        unpack(pack([], {"value_norms": arrays["value_norms"]}))


@pytest.mark.parametrize("backend", ["redis", "filesystem"])
def test_poisoned_entry_is_a_miss_not_code(backend, redis_server, minilm_only, tmp_path):
    url = redis_server.url if backend == "redis" else f"filesystem://{tmp_path}/cache"
    engine = Engine(minilm_only, cache=SafeCache(make_backend(url), cooldown=0), warmup=False)
    text = "poisoned entry"
    key = cache_key("minilm-l6", engine._model("minilm-l6").manifest.onnx_sha256, text)
    marker = tmp_path / "pwned"
    payload = pickle.dumps(Evil(marker))
    if backend == "redis":
        redis.Redis(port=redis_server.port).set(b"headgaze:" + key.encode(), b"!" + payload)
    else:  # a stock (pickling) FileSystemCache writes the poisoned file
        FileSystemCache(str(tmp_path / "cache")).set(key, Evil(marker))
    assert engine.cache.get(key) is None  # read as a miss, not unpickled
    assert not marker.exists()
    result = engine.attention(text)
    assert result.cached is False and result.attentions.shape[0] == 6
    assert not marker.exists()
    stored = engine.cache.backend.get(key)
    assert isinstance(stored, bytes) and stored.startswith(MAGIC)  # overwritten with a real entry
    assert engine.attention(text).cached is True
