"""Stand-in for A1111's ``launch`` module (launch_utils): is_installed and run_pip.

run_pip does not install anything: it appends the pip command line it would run
to the file named by ABYSZ_TEST_PIP_LOG, so tests see what would be installed.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import sys


def is_installed(package: str) -> bool:
    """True if a distribution or an importable module of that name exists (A1111 1.10's order)."""
    try:
        importlib.metadata.version(package)
        return True
    except importlib.metadata.PackageNotFoundError:
        pass
    try:
        spec = importlib.util.find_spec(package)
    except ModuleNotFoundError:
        return False
    return spec is not None


def run_pip(command: str, desc: str | None = None, live: bool = False) -> str:
    """Record ``python -m pip {command} --prefer-binary`` instead of running it."""
    line = f'"{sys.executable}" -m pip {command} --prefer-binary'
    if desc is not None:
        print(f"Installing {desc}")
    with open(os.environ["ABYSZ_TEST_PIP_LOG"], "a", encoding="utf-8") as log:
        log.write(line + "\n")
    return ""
