"""Writing a small file so that readers see the old content or the new one, never half of it."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    """Write to a temporary file beside ``path`` and rename it over; raises OSError (disk full...)
    after removing the temporary file."""
    temporary = path.with_name(".%s.tmp" % path.name)
    try:
        with open(temporary, "w") as handle:
            handle.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except OSError:
        try:
            temporary.unlink()
        except OSError:
            pass
        raise
