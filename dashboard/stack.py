"""``python -m dashboard.stack``: start the attention service and the dashboard together.

Both run as child processes under waitress (service on 127.0.0.1:8000, dashboard on
127.0.0.1:8050 by default). The launcher waits until each answers, prints both URLs, and stops
both cleanly on Ctrl-C / SIGTERM (or exits when either child dies). ``start_service`` and
``wait_http`` are also used by the browser tests and the browser benchmark.
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

REPO = Path(__file__).resolve().parent.parent


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


def _spawn(args: list[str], **kw) -> subprocess.Popen:
    # Own process group, so that Ctrl-C in the terminal reaches only the launcher, which then
    # stops the children in order.
    return subprocess.Popen(args, cwd=REPO, start_new_session=True, **kw)


def start_service(port: int = 8000, models_dir: str | os.PathLike = "models", host: str = "127.0.0.1",
                  extra: list[str] | None = None, **kw) -> subprocess.Popen:
    """Start ``python -m service`` as a child process (not waiting for it)."""
    args = [sys.executable, "-m", "service", "--host", host, "--port", str(port), "--models-dir", str(models_dir)]
    return _spawn(args + list(extra or []), **kw)


def start_dashboard(port: int = 8050, service_url: str = "http://127.0.0.1:8000", host: str = "127.0.0.1",
                    **kw) -> subprocess.Popen:
    """Start ``python -m dashboard --service-url ...`` as a child process."""
    args = [sys.executable, "-m", "dashboard", "--service-url", service_url, "--host", host, "--port", str(port)]
    return _spawn(args, **kw)


def stop(proc: subprocess.Popen | None, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout``; safe on an already finished process."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m dashboard.stack", description="service + dashboard")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--service-port", type=int, default=8000)
    p.add_argument("--dashboard-port", type=int, default=8050)
    p.add_argument("--models-dir", default="models")
    args = p.parse_args(argv)

    def _sigterm(signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _sigterm)  # SIGTERM behaves like Ctrl-C: clean shutdown below

    if not any(Path(args.models_dir).glob("*/manifest.json")):
        print(f"error: no exported models in {args.models_dir}/ — run `make export` first.", file=sys.stderr)
        return 2
    service_url = f"http://{args.host}:{args.service_port}"
    dash_url = f"http://{args.host}:{args.dashboard_port}/"
    svc = dash = None
    code = 0
    try:
        print(f"starting service on {service_url} (loading models from {args.models_dir}) ...", flush=True)
        svc = start_service(args.service_port, args.models_dir, args.host)
        dash = start_dashboard(args.dashboard_port, service_url, args.host)
        wait_http(service_url + "/readyz", timeout=300, proc=svc)
        wait_http(dash_url, timeout=60, proc=dash)
        print("", flush=True)
        print(f"  headgaze service:   {service_url}   (API: {service_url}/openapi.json)", flush=True)
        print(f"  headgaze dashboard: {dash_url}", flush=True)
        print("\nPress Ctrl-C to stop both.", flush=True)
        while code == 0:
            for name, proc in (("service", svc), ("dashboard", dash)):
                if proc.poll() is not None:
                    print(f"{name} exited with code {proc.returncode}; stopping.", file=sys.stderr, flush=True)
                    code = proc.returncode or 1
            time.sleep(0.3)
    except (TimeoutError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        code = 1
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping dashboard and service ...", flush=True)
        stop(dash)
        stop(svc)
        print("stopped.", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
