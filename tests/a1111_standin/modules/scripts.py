"""Stand-in for ``modules.scripts``: basedir() and loading an extension's scripts/ the WebUI's way."""

from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType

webui_root = os.getcwd()
current_basedir = webui_root


def basedir() -> str:
    """The folder of the extension whose script is being imported (the WebUI root otherwise)."""
    return current_basedir


def load_extension_scripts(extension_root: str) -> list[ModuleType]:
    """Import every .py directly in ``<extension_root>/scripts`` like the WebUI's load_scripts.

    The extension root is on sys.path and basedir() returns it only while each
    file is imported; modules are named after the file (``abysz_tab.py``).
    """
    global current_basedir
    loaded = []
    scripts_dir = os.path.join(extension_root, "scripts")
    for filename in sorted(os.listdir(scripts_dir)):
        path = os.path.join(scripts_dir, filename)
        if not filename.endswith(".py") or not os.path.isfile(path):
            continue
        saved_path = sys.path
        try:
            sys.path = [extension_root, *sys.path]
            current_basedir = extension_root
            spec = importlib.util.spec_from_file_location(os.path.basename(path), path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            loaded.append(module)
        finally:
            sys.path = saved_path
            current_basedir = webui_root
    return loaded
