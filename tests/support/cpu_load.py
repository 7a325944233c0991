"""CPU-bound processes beside a test run, to show that the tests hold on a loaded box.

`make test-stability RUNS=5 LOAD=2` (tests/stability.py) and `make test LOAD=2` (tests/conftest.py)
start ``n`` of them (each spins one core: a busy loop in its own Python) before the tests and kill
them afterwards, also when the run fails or is interrupted; one whose parent dies stops by itself.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

# Busy until the parent is gone: a killed test run (SIGKILL, no clean-up) leaves no spinner behind.
SPIN = "import os\nparent = os.getppid()\nwhile os.getppid() == parent:\n    pass\n"


@contextmanager
def cpu_load(n: int) -> Iterator[list[subprocess.Popen]]:
    """``n`` busy processes for the duration of the block (none for ``n`` <= 0)."""
    procs = [subprocess.Popen([sys.executable, "-c", SPIN], stdin=subprocess.DEVNULL) for _ in range(max(n, 0))]
    try:
        yield procs
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
