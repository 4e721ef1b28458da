"""Build hook (hatchling): puts the man pages and shell completion, generated from the parser, into
the sdist (man/, completion/) and into the wheel as data files (share/man/man1, the bash and zsh
completion directories, where pip --user, a venv or pipx put them).

The files are written into a temporary directory and added from there: a build writes nothing
into the source tree. Editable installs (pip install -e) skip this: the checkout is the install.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, Optional

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

# Where each generated file goes in a wheel's data (relative to the installation prefix).
WHEEL_DATA = {"man/man1/": "share/man/man1/", "completion/bash/": "share/bash-completion/completions/",
              "completion/zsh/": "share/zsh/site-functions/"}


class CliDocsHook(BuildHookInterface):
    PLUGIN_NAME = "qcm-cli-docs"

    def initialize(self, version: str, build_data: Dict[str, Any]) -> None:
        if self.target_name == "wheel" and version == "editable":
            return
        self._directory: Optional[Path] = Path(tempfile.mkdtemp(prefix="qcm-cli-docs-"))
        for path in _generate(Path(self.root), self._directory):
            relative = path.relative_to(self._directory).as_posix()
            if self.target_name == "sdist":
                build_data["force_include"][str(path)] = relative
            else:
                prefix = next(p for p in WHEEL_DATA if relative.startswith(p))
                build_data["shared_data"][str(path)] = WHEEL_DATA[prefix] + relative[len(prefix):]

    def finalize(self, version: str, build_data: Dict[str, Any], artifact_path: str) -> None:
        directory = getattr(self, "_directory", None)
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)


def _generate(root: Path, directory: Path) -> list:
    tools = str(root / "tools")
    saved_path, saved_bytecode = list(sys.path), sys.dont_write_bytecode
    sys.path.insert(0, tools)
    sys.dont_write_bytecode = True  # no __pycache__ in a read-only checkout
    try:
        from cli_docs import write_all
        return write_all(directory)
    finally:
        sys.path[:] = saved_path
        sys.dont_write_bytecode = saved_bytecode
