"""``headgaze serve`` (what `make serve` runs): the attention service and the dashboard, supervised.

Both run as child processes under waitress (service on 127.0.0.1:8000, dashboard on
127.0.0.1:8050 by default). The launcher waits until each answers and prints both URLs; then it
keeps them up: a child that dies is restarted with back-off and the restart is logged
(dashboard/supervisor.py), so killing the service never takes the dashboard down. Ctrl-C or
SIGTERM stops both cleanly. ``wait_http`` is also used by tests.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .supervisor import Supervised, log, stop

__all__ = ["answers", "main", "stop", "wait_http"]


def wait_http(url: str, timeout: float = 120.0, proc: subprocess.Popen | None = None) -> None:
    """Poll ``url`` until it answers 200; fail early if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with code {proc.returncode} before {url} was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
                last = f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout:.0f}s ({last})")


def service_argv(port: int = 8000, models_dir: str | os.PathLike = "models", host: str = "127.0.0.1",
                 extra: list[str] | None = None) -> list[str]:
    return [sys.executable, "-m", "headgaze.service", "--host", host, "--port", str(port), "--models-dir", str(models_dir),
            *(extra or [])]


def dashboard_argv(port: int = 8050, service_url: str = "http://127.0.0.1:8000", host: str = "127.0.0.1") -> list[str]:
    return [sys.executable, "-m", "headgaze.dashboard", "--service-url", service_url, "--host", host, "--port",
            str(port)]


def service_env() -> dict[str, str]:
    """The service's environment: glibc keeps 2 malloc arenas (unless set), which keeps a long-text
    service's peak RSS with both models and a full results store under 1.5 GB (see README)."""
    return {**os.environ, "MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", "2")}


def answers(url: str) -> bool:
    """``url`` answers 200 right now."""
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="headgaze serve", description="service + dashboard, supervised")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--service-port", type=int, default=8000)
    p.add_argument("--dashboard-port", type=int, default=8050)
    p.add_argument("--models-dir", default="models")
    p.add_argument("--restart-delay", type=float, default=1.0,
                   help="seconds before restarting a child that died; doubles on each quick failure (default 1)")
    p.add_argument("--max-restart-delay", type=float, default=30.0, help="longest back-off (default 30)")
    args = p.parse_args(argv)
    if args.restart_delay <= 0 or args.max_restart_delay < args.restart_delay:
        p.error("--restart-delay must be > 0 and <= --max-restart-delay")

    def _stop_signal(signum, _frame):
        raise KeyboardInterrupt

    # SIGTERM and SIGINT both mean a clean shutdown below. SIGINT is set explicitly: Python leaves it
    # ignored when the launcher inherits it ignored (any command started with `&` from a script), and
    # the launcher then could not be stopped with SIGINT at all.
    signal.signal(signal.SIGTERM, _stop_signal)
    signal.signal(signal.SIGINT, _stop_signal)

    if not any(Path(args.models_dir).glob("*/manifest.json")):
        print(f"headgaze serve: error: no exported models in {args.models_dir}/ — run `headgaze export` (or `make export`) first.", file=sys.stderr)
        return 2
    service_url = f"http://{args.host}:{args.service_port}"
    dash_url = f"http://{args.host}:{args.dashboard_port}/"
    backoff = {"first_delay": args.restart_delay, "max_delay": args.max_restart_delay}
    children = [
        Supervised("service", service_argv(args.service_port, Path(args.models_dir).resolve(), args.host), Path.cwd(),
                   lambda: answers(service_url + "/readyz"), env=service_env(), **backoff),
        Supervised("dashboard", dashboard_argv(args.dashboard_port, service_url, args.host), Path.cwd(),
                   lambda: answers(dash_url), **backoff),
    ]
    svc, dash = children
    code = 0
    try:
        print(f"starting service on {service_url} (loading models from {args.models_dir}) ...", flush=True)
        for child in children:
            child.start()
            log(f"{child.name} started (pid {child.pid})")
        wait_http(service_url + "/readyz", timeout=300, proc=svc.proc)
        wait_http(dash_url, timeout=60, proc=dash.proc)
        print("", flush=True)
        print(f"  headgaze service:   {service_url}   (API: {service_url}/openapi.json)", flush=True)
        print(f"  headgaze dashboard: {dash_url}", flush=True)
        print("\nPress Ctrl-C to stop both. A part that dies is restarted.", flush=True)
        while True:
            for child in children:
                child.tick()
                if child.fatal:
                    raise RuntimeError(child.fatal)
            time.sleep(0.3)
    except (TimeoutError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        code = 1
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping dashboard and service ...", flush=True)
        for child in reversed(children):
            child.stop()
        print("stopped.", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
