"""ComfyUI entry point of Abysz LAB: registers the nodes of ``abysz_lab.comfy``.

ComfyUI imports only this file, by its path, under a module name made from
that path; the repository folder is not on ``sys.path``. The core package is
therefore loaded from the ``abysz_lab`` folder next to this file and put in
``sys.modules`` under its own name, so its absolute imports work and nothing
of ours (``install``, ``scripts``, ``tests``) shadows other packs' modules.
A1111 and Forge never import this file, and pytest does not collect it.

A second copy of the repository (another folder in ``custom_nodes``, or a pip
install of abysz-lab) is detected and named in the log instead of silently
running the other copy's code.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path

_log = logging.getLogger("abysz_lab.comfy")
_HERE = Path(__file__).resolve().parent
_PACKAGE = _HERE / "abysz_lab"

_DEPENDENCY_HINT = (
    "Abysz LAB nodes: a dependency is missing ({error}). Install them in ComfyUI's Python with "
    '`python -m pip install -r "{requirements}"` and any one OpenCV package (opencv-python, '
    "opencv-python-headless or opencv-contrib-python; keep one that another pack already installed), "
    'or run `python "{installer}"`, then restart ComfyUI.'
)


def _copy_folder(module) -> Path | None:
    """The repository folder an imported ``abysz_lab`` module came from."""
    origin = getattr(module, "__file__", None)
    return Path(origin).resolve().parent.parent if origin else None


def _load_core():
    """Import ``abysz_lab`` from this folder, or return None (and say why) when another copy is loaded."""
    loaded = sys.modules.get("abysz_lab")
    if loaded is not None:
        other = _copy_folder(loaded)
        if other != _HERE:
            _log.warning(
                "Abysz LAB: another copy is already loaded from %s, so this copy in %s is skipped (Python loads "
                "one abysz_lab per process; both would run the other copy's code). Remove one of the two folders "
                "from custom_nodes (or `pip uninstall abysz-lab`) and restart ComfyUI.",
                other,
                _HERE,
            )
            return None
        return loaded
    found = importlib.util.find_spec("abysz_lab")
    if found is not None and found.origin and Path(found.origin).resolve().parent != _PACKAGE:
        _log.warning(
            "Abysz LAB: another copy of abysz_lab is installed at %s; the nodes use this one in %s. "
            "Uninstall the other (`pip uninstall abysz-lab`) if you did not mean to have two.",
            Path(found.origin).resolve().parent,
            _PACKAGE,
        )
    spec = importlib.util.spec_from_file_location(
        "abysz_lab", _PACKAGE / "__init__.py", submodule_search_locations=[str(_PACKAGE)]
    )
    if spec is None or spec.loader is None:  # only when the folder was deleted under us
        msg = f"Abysz LAB: cannot load the abysz_lab package from {_PACKAGE}; reinstall the node pack."
        raise ImportError(msg)
    module = importlib.util.module_from_spec(spec)
    sys.modules["abysz_lab"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules["abysz_lab"]
        raise
    return module


def _mappings() -> tuple[dict[str, type], dict[str, str]]:
    if _load_core() is None:
        return {}, {}
    try:
        from abysz_lab.comfy import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS
    except ModuleNotFoundError as exc:
        # ComfyUI prints the message with IMPORT FAILED: make it say what to install.
        hint = _DEPENDENCY_HINT.format(
            error=exc, requirements=_HERE / "requirements.txt", installer=_HERE / "install.py"
        )
        raise ModuleNotFoundError(hint, name=exc.name) from exc
    return NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS


NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS = _mappings()

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
