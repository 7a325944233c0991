"""`headgaze service` and `headgaze dashboard` flags, their environment variables, and bad values.

Bad values go through the real command line (a subprocess each): one line on stderr, exit code 2,
no traceback, and nothing started.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from headgaze.dashboard.config import DASHBOARD_OPTIONS
from headgaze.dashboard.config import parse_args as dashboard_args
from headgaze.service.web.config import SERVICE_OPTIONS, parse_args
from tests.support.env import REPO, clean_env


@pytest.fixture(autouse=True)
def _no_headgaze_env(monkeypatch):
    for name in [k for k in os.environ if k.startswith("HEADGAZE_")]:
        monkeypatch.delenv(name)


def test_defaults():
    a = parse_args([])
    assert (a.host, a.port, a.models_dir, a.device, a.threads) == ("127.0.0.1", 8000, "models", "auto", None)
    assert (a.max_chars, a.max_tokens, a.queue_limit, a.cache, a.api_token, a.spinning) == (4000, 512, 8, "simple", None, False)
    assert (a.max_full_tokens, a.store_mb, a.batch_mb) == (128, 256, 320)
    assert parse_args(["--store-mb", "0", "--max-chars", "10000"]).store_mb == 0
    assert a.verify is True and a.max_batch == 8 and a.log_level == "INFO"
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


@pytest.mark.parametrize(("value", "expected"), [("off", False), ("0", False), ("false", False), ("no", False),
                                                 ("on", True), ("1", True), ("true", True), ("yes", True)])
def test_boolean_environment_values_mean_what_they_say(monkeypatch, value, expected):
    monkeypatch.setenv("HEADGAZE_ORT_SPINNING", value)
    monkeypatch.setenv("HEADGAZE_VERIFY", value)
    a = parse_args([])
    assert (a.spinning, a.verify) == (expected, expected)


def test_dashboard_defaults_and_environment(monkeypatch):
    a = dashboard_args([])
    assert (a.service_url, a.embedded, a.host, a.port, a.prefix, a.threads, a.service_timeout, a.frame_ancestors) == (
        None, False, "127.0.0.1", 8050, "/", 8, 10.0, None)
    monkeypatch.setenv("HEADGAZE_SERVICE_URL", "http://svc:8000/")
    monkeypatch.setenv("HEADGAZE_DASHBOARD_PORT", "8061")
    monkeypatch.setenv("HEADGAZE_FRAME_ANCESTORS", "'self' https://tools.internal")
    a = dashboard_args([])
    assert (a.service_url, a.port, a.frame_ancestors) == ("http://svc:8000", 8061, "'self' https://tools.internal")
    assert dashboard_args(["--embedded"]).service_url is None  # the flag beats the environment


def test_every_option_has_an_environment_variable_listed_in_the_docs():
    for options, page in ((SERVICE_OPTIONS, "docs/api.md"), (DASHBOARD_OPTIONS, "docs/dashboard.md")):
        text = (REPO / page).read_text()
        for opt in options:
            assert opt.envvar and opt.envvar.startswith("HEADGAZE_"), opt.name
            rows = [line for line in text.splitlines() if line.startswith("| `" + opt.opts[0] + "`")]
            assert any(f"| `{opt.envvar}` |" in row for row in rows), f"{page} has no row for {opt.opts[0]} / {opt.envvar}"


def run(module: str, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", f"headgaze.{module}", *args], cwd=REPO, env=clean_env(**env),
                          capture_output=True, text=True, timeout=60)


BAD_SERVICE = [
    ([], {"HEADGAZE_ORT_SPINNING": "maybe"}, "HEADGAZE_ORT_SPINNING"),
    ([], {"HEADGAZE_MAX_BATCH": "abc"}, "'abc' is not a valid integer"),
    (["--max-batch", "0"], {}, "0 is not in the range x>=1"),
    (["--port", "abc"], {}, "--port"),
    ([], {"HEADGAZE_PORT": "70000"}, "HEADGAZE_PORT"),
    (["--queue-limit", "-1"], {}, "--queue-limit"),
    (["--max-chars", "0"], {}, "--max-chars"),
    (["--max-chars", "10001"], {}, "10001 is not in the range 1<=x<=10000"),
    (["--max-full-tokens", "0"], {}, "--max-full-tokens"),
    ([], {"HEADGAZE_STORE_MB": "-1"}, "HEADGAZE_STORE_MB"),
    (["--batch-mb", "0"], {}, "--batch-mb"),
    (["--max-tokens", "1"], {}, "--max-tokens"),
    (["--threads", "0"], {}, "--threads"),
    ([], {"HEADGAZE_HTTP_THREADS": "two"}, "HEADGAZE_HTTP_THREADS"),
    ([], {"HEADGAZE_CACHE_TIMEOUT": "0"}, "HEADGAZE_CACHE_TIMEOUT"),
    (["--cache-entries", "-5"], {}, "--cache-entries"),
    (["--device", "tpu"], {}, "--device"),
    ([], {"HEADGAZE_CACHE_URL": "ftp://cache"}, "unsupported cache URL"),
    ([], {"HEADGAZE_VERIFY": "perhaps"}, "HEADGAZE_VERIFY"),
    (["--log-level", "LOUD"], {}, "--log-level"),
    (["--no-such-flag"], {}, "--no-such-flag"),
]

BAD_DASHBOARD = [
    (["--service-url", "localhost:8000"], {}, "http(s)://"),
    ([], {"HEADGAZE_SERVICE_URL": "http://host:port"}, "invalid port"),
    (["--embedded", "--service-url", "http://127.0.0.1:8000"], {}, "exclude each other"),
    ([], {"HEADGAZE_DASHBOARD_PORT": "0"}, "HEADGAZE_DASHBOARD_PORT"),
    (["--threads", "x"], {}, "--threads"),
    ([], {"HEADGAZE_SERVICE_TIMEOUT": "0"}, "HEADGAZE_SERVICE_TIMEOUT"),
    ([], {"HEADGAZE_FRAME_ANCESTORS": "'self'; script-src *"}, "CSP source list"),
    (["--prefix", "/a b/"], {}, "URL path"),
    ([], {"HEADGAZE_EMBEDDED": "sometimes"}, "HEADGAZE_EMBEDDED"),
    ([], {"HEADGAZE_DASHBOARD_MAX_CHARS": "0"}, "HEADGAZE_DASHBOARD_MAX_CHARS"),
]


@pytest.mark.parametrize(("module", "args", "env", "says"), [("service", *case) for case in BAD_SERVICE]
                         + [("dashboard", *case) for case in BAD_DASHBOARD])
def test_bad_value_is_one_line_and_exit_code_2(module, args, env, says):
    proc = run(module, args, env)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"headgaze {module}: error: "), proc.stderr
    assert says in lines[0]
    assert proc.stdout == ""


@pytest.mark.parametrize("module", ["service", "dashboard"])
def test_port_in_use_is_one_line_and_exit_code_2(minilm_dir, module):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run(module, ["--port", str(port), "--models-dir", str(minilm_dir)], {})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"headgaze {module}: error: cannot listen on 127.0.0.1:{port}: Address already in use")
    assert "Traceback" not in proc.stderr
