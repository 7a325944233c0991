"""A child process kept alive: started, watched, restarted with back-off when it dies, stopped cleanly.

`make serve` (dashboard/stack.py) runs the attention service and the dashboard as two of these. A
child that exits is started again after a delay that doubles with each quick failure (1 s, 2 s,
4 s … up to `max_delay`) and resets once the child has stayed up for `stable_after` seconds. An
exit with code 2 is a configuration error (bad flag, no or damaged models): restarting cannot fix
it, so the supervisor reports it as fatal instead of looping.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

CONFIG_ERROR = 2  # exit code of `headgaze service` / `headgaze dashboard` for a bad configuration


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


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


@dataclass
class Supervised:
    """One named child process (`argv`, run in `cwd`) with restart-on-exit and exponential back-off.

    `ready` answers whether the child serves (e.g. an HTTP probe); it is polled after each (re)start
    so the log says when the child is back. Call `tick()` regularly from one thread.
    """

    name: str
    argv: list[str]
    cwd: Path
    ready: Callable[[], bool]
    env: dict[str, str] | None = None  # None: the launcher's own environment
    first_delay: float = 1.0
    max_delay: float = 30.0
    stable_after: float = 60.0
    proc: subprocess.Popen | None = None
    restarts: int = 0
    fatal: str | None = None
    _delay: float = field(default=0.0, init=False)
    _started_at: float = field(default=0.0, init=False)
    _restart_at: float | None = field(default=None, init=False)
    _announced_ready: bool = field(default=False, init=False)

    def start(self) -> None:
        # Own process group: Ctrl-C in the terminal reaches only the launcher, which stops children in order.
        self.proc = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, start_new_session=True)
        self._started_at = time.monotonic()
        self._announced_ready = False

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def tick(self) -> None:
        """Notice an exit (schedule a restart or declare it fatal), restart when due, announce readiness."""
        now = time.monotonic()
        if self._restart_at is not None:
            if now >= self._restart_at:
                self._restart_at = None
                self.restarts += 1
                self.start()
                log(f"{self.name} restarted (pid {self.pid}, restart #{self.restarts})")
            return
        code = self.proc.poll() if self.proc else None
        if code is None:
            if not self._announced_ready and self.restarts and self.ready():
                self._announced_ready = True
                log(f"{self.name} is answering again (restart #{self.restarts})")
            return
        if code == CONFIG_ERROR:
            self.fatal = f"{self.name} exited with code {code} (configuration error); not restarting"
            return
        uptime = now - self._started_at
        self._delay = self.first_delay if uptime >= self.stable_after or not self._delay \
            else min(self.max_delay, self._delay * 2)
        self._restart_at = now + self._delay
        log(f"{self.name} exited with code {code} after {uptime:.1f}s; restarting in {self._delay:.1f}s")

    def stop(self) -> None:
        self._restart_at = None
        stop(self.proc)
