"""sha256 of files, streamed: the export records it, the service checks it before loading a model."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_files(*paths: Path) -> str:
    """One digest over the bytes of all given files, in the given order."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
