"""Man pages and shell completion generated from the parser, written under one directory: used by
scripts/build-cli-docs, scripts/build-deb and the build hook that puts them into the sdist."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import completion
import manpage


def generated() -> Dict[str, str]:
    """Relative path -> text: man/man1/*.1, completion/bash/*, completion/zsh/_qcm."""
    files = {"man/man1/" + name: text for name, text in manpage.pages().items()}
    files.update({"completion/" + name: text for name, text in completion.scripts().items()})
    return files


def write_all(directory: Path) -> List[Path]:
    written = []
    for relative, text in sorted(generated().items()):
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written
