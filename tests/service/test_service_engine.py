"""The in-process engine, its cache backends and provider selection, on the real exported models."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import onnxruntime as ort
import pytest

from headgaze.service.common.errors import ConfigError, ServiceError
from headgaze.service.runtime.cache import SafeCache, cache_key, make_backend
from headgaze.service.runtime.engine import Engine
from headgaze.service.runtime.providers import choose_providers
from tests.support.env import REPO
from tests.support.net import free_port


def test_default_model_and_summaries(engine):
    assert engine.default_model == "smollm2-135m"
    assert {m["id"] for m in engine.models()} == {"smollm2-135m", "minilm-l6"}


@pytest.mark.parametrize("text", ["Ça coûte 12,50 € 🙂", "שלום 👩🏽‍💻", "e\u0301\u0302x", "🇫🇷🇩🇪"])
def test_straddling_byte_tokens_show_a_valid_substring(engine, text):
    res = engine.attention(text)
    assert len({(t["start"], t["end"]) for t in res.tokens}) < len(res.tokens)  # some tokens share a character
    for tok in res.tokens[1:]:
        assert tok["text"] == text[tok["start"]:tok["end"]] and tok["text"]
    assert res.attentions.dtype == np.float32
    assert res.attentions.shape == (30, 9, len(res.tokens), len(res.tokens))


def test_unknown_token_is_not_special(engine):
    res = engine.attention("I 🙂 it", model="minilm-l6")
    unk = [t for t in res.tokens if t["id"] == 100]
    assert unk == [{"text": "🙂", "id": 100, "start": 2, "end": 3, "special": False}]


def test_engine_raises_service_errors(engine):
    cases = [("", None, "empty_text"), ("x" * 4001, None, "text_too_long"), ("hi", "nope", "unknown_model"),
             (b"bytes", None, "invalid_type"), ("a\x00", None, "invalid_characters")]
    for text, model, code in cases:
        with pytest.raises(ServiceError) as exc:
            engine.attention(text, model)
        assert exc.value.code == code


def test_filesystem_cache_survives_a_restart(minilm_dir, tmp_path):
    url = f"filesystem://{tmp_path / 'cache'}"
    first = Engine(minilm_dir, cache=make_backend(url), warmup=False)
    a = first.attention("persisted attention")
    assert a.cached is False
    assert any((tmp_path / "cache").iterdir())
    second = Engine(minilm_dir, cache=make_backend(url), warmup=False)
    b = second.attention("persisted attention")
    assert b.cached is True and b.tokens == a.tokens
    np.testing.assert_array_equal(a.attentions, b.attentions)


def test_cache_none_never_hits(minilm_dir):
    eng = Engine(minilm_dir, cache=make_backend("none"), warmup=False, store_mb=0)
    assert not eng.attention("x y").cached and not eng.attention("x y").cached


def test_the_recent_results_store_answers_repeats_and_is_bounded(minilm_dir):
    eng = Engine(minilm_dir, cache=make_backend("none"), warmup=False, store_mb=1)
    assert not eng.attention("x y").cached and eng.attention("x y").cached
    long = "word " * 200  # 202 tokens: 6·12·202²·2 bytes of float16 > 1 MiB, never kept
    assert not eng.attention_grid(long).cached and not eng.attention_grid(long).cached
    assert 0 < eng.store.bytes <= 1 << 20


class Broken:
    def get(self, key):
        raise ConnectionError("backend down")

    def set(self, key, value):
        raise ConnectionError("backend down")


def test_safe_cache_bypasses_a_broken_backend(minilm_dir):
    eng = Engine(minilm_dir, cache=SafeCache(Broken(), cooldown=0), warmup=False)
    assert eng.attention("still answered").cached is False
    assert eng.cache.errors == 2


def test_cache_key_depends_on_model_sha_and_text():
    keys = {cache_key("m", "a" * 64, "t"), cache_key("m", "b" * 64, "t"), cache_key("n", "a" * 64, "t"),
            cache_key("m", "a" * 64, "u")}
    assert len(keys) == 4


def test_bad_cache_url_is_a_config_error():
    with pytest.raises(ConfigError):
        make_backend("memcached://localhost")


def test_provider_selection():
    assert choose_providers("cpu") == ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        assert choose_providers("auto") == ["CPUExecutionProvider"]
        with pytest.raises(ConfigError, match="CUDAExecutionProvider"):
            choose_providers("cuda")
    with pytest.raises(ConfigError):
        choose_providers("tpu")


def run_service(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "headgaze.service", "--port", str(free_port()), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=timeout)


@pytest.mark.skipif("CUDAExecutionProvider" in ort.get_available_providers(), reason="a CUDA build is installed")
def test_asking_for_cuda_without_it_fails_clearly(models_dir):
    proc = run_service("--models-dir", str(models_dir), "--device", "cuda")
    assert proc.returncode == 2
    assert "--device cuda" in proc.stderr and "CUDAExecutionProvider" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_models_dir_fails_clearly(tmp_path):
    proc = run_service("--models-dir", str(tmp_path / "nowhere"))
    assert proc.returncode == 2 and "make export" in proc.stderr and "Traceback" not in proc.stderr


def test_torch_is_not_imported_while_serving(minilm_dir):
    script = textwrap.dedent(f"""
        import sys
        from headgaze.service.web.api import create_app
        from headgaze.service.runtime.engine import Engine
        app = create_app(Engine({str(minilm_dir)!r}))
        resp = app.test_client().post("/v1/attention", json={{"text": "no torch here"}})
        assert resp.status_code == 200, resp.data
        print("torch" in sys.modules, "transformers" in sys.modules)
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False"]


def test_results_over_the_size_cap_are_not_cached(minilm_dir):
    eng = Engine(minilm_dir, cache=SafeCache(make_backend(None), max_item_bytes=100), warmup=False, store_mb=0)
    first = eng.attention("far more than one hundred bytes of attention")
    assert first.attentions.nbytes > 100
    assert eng.attention("far more than one hundred bytes of attention").cached is False
    # a q/k model's entry: queries, keys, value norms and the summary (thumbnails, rows, argmax), no T×T
    entry = sum(a.nbytes for a in (first.queries, first.keys, first.value_norms, *first.summary.values()))
    small = Engine(minilm_dir, cache=SafeCache(make_backend(None), max_item_bytes=entry),
                   warmup=False, store_mb=0)
    small.attention("far more than one hundred bytes of attention")
    assert small.attention("far more than one hundred bytes of attention").cached is True


def test_missing_head_profile_is_a_404_service_error(models_dir, tmp_path):
    d = tmp_path / "minilm-l6"
    d.mkdir()
    for name in ("manifest.json", "model.onnx", "hidden.onnx", "tokenizer.json"):
        (d / name).symlink_to(models_dir / "minilm-l6" / name)
    eng = Engine(tmp_path, warmup=False)
    with pytest.raises(ServiceError) as exc:
        eng.heads_profile("minilm-l6")
    assert (exc.value.status, exc.value.code) == (404, "no_profile")
    assert eng.causal("minilm-l6") is False


def test_fragment_memo_is_bounded_by_bytes():
    from headgaze.service.web.memo import FragmentMemo

    memo = FragmentMemo(max_bytes=100)
    calls = []
    for i in range(10):
        memo.get_or_make(i, lambda i=i: calls.append(i) or ["x" * 30])
    assert len(memo) == 2  # 34 bytes each: only the two newest fit in 100
    memo.get_or_make(9, lambda: calls.append("again") or [])
    assert "again" not in calls
    memo.get_or_make(0, lambda: calls.append("recomputed") or ["x" * 30])
    assert calls[-1] == "recomputed"


def _copy_minilm(models_dir, tmp_path):
    import shutil

    folder = tmp_path / "models" / "minilm-l6"
    shutil.copytree(models_dir / "minilm-l6", folder)
    return folder


def test_damaged_weights_are_refused_unless_verification_is_off(models_dir, tmp_path):
    folder = _copy_minilm(models_dir, tmp_path)
    with open(folder / "model.onnx", "r+b") as f:
        f.seek(40_000_000)
        f.write(b"\xff" * 64)
    with pytest.raises(ConfigError, match="sha256") as exc:
        Engine(folder.parent, warmup=False)
    assert str(folder / "model.onnx") in str(exc.value)
    Engine(folder.parent, warmup=False, verify=False)  # the graph still parses: only the check can tell


def test_truncated_model_and_bad_manifest_are_config_errors(models_dir, tmp_path):
    folder = _copy_minilm(models_dir, tmp_path)
    with open(folder / "model.onnx", "r+b") as f:
        f.truncate(1_000_000)
    with pytest.raises(ConfigError, match="truncated"):
        Engine(folder.parent, warmup=False)
    with pytest.raises(ConfigError, match="onnxruntime cannot load it"):
        Engine(folder.parent, warmup=False, verify=False)
    (folder / "manifest.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        Engine(folder.parent, warmup=False)
