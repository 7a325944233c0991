"""`python -m service` flags and their environment-variable fallbacks."""

from __future__ import annotations

import pytest

from service.config import parse_args


def test_defaults(monkeypatch):
    for k in ("HEADGAZE_PORT", "HEADGAZE_CACHE_URL", "HEADGAZE_API_TOKEN", "HEADGAZE_HOST", "HEADGAZE_QUEUE_LIMIT"):
        monkeypatch.delenv(k, raising=False)
    a = parse_args([])
    assert (a.host, a.port, a.models_dir, a.device, a.threads) == ("127.0.0.1", 8000, "models", "auto", None)
    assert (a.max_chars, a.max_tokens, a.queue_limit, a.cache, a.api_token, a.spinning) == (200, 128, 8, "simple", None, False)
    assert a.verify is True
    assert a.http_threads == a.queue_limit + 4 and a.cache_entries == 256


def test_environment_fallbacks_and_flag_precedence(monkeypatch):
    monkeypatch.setenv("HEADGAZE_PORT", "9001")
    monkeypatch.setenv("HEADGAZE_CACHE_URL", "redis://cache:6379/2")
    monkeypatch.setenv("HEADGAZE_API_TOKEN", "s3cret")
    monkeypatch.setenv("HEADGAZE_ORT_SPINNING", "1")
    a = parse_args([])
    assert (a.port, a.cache, a.api_token, a.spinning) == (9001, "redis://cache:6379/2", "s3cret", True)
    a = parse_args(["--port", "9002", "--cache", "none", "--no-spinning"])
    assert (a.port, a.cache, a.spinning) == (9002, "none", False)


@pytest.mark.parametrize("argv", [["--port", "abc"], ["--queue-limit", "-1"], ["--max-chars", "0"], ["--device", "tpu"]])
def test_bad_values_exit_with_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2
    assert "error" in capsys.readouterr().err
