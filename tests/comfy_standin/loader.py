"""Load a custom-node folder the way ComfyUI 0.3.64's ``nodes.load_custom_node`` does."""

from __future__ import annotations

import importlib.util
import os
import sys


def load_custom_node(module_path):
    """Import ``<module_path>/__init__.py`` by file path (the folder is not put on sys.path); return the module.

    Like ComfyUI, the module is registered under a name made from its path and
    an exception propagates to the caller (ComfyUI logs it with IMPORT FAILED).
    """
    sys_module_name = module_path.replace(".", "_x_")
    spec = importlib.util.spec_from_file_location(sys_module_name, os.path.join(module_path, "__init__.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[sys_module_name] = module
    spec.loader.exec_module(module)
    if getattr(module, "NODE_CLASS_MAPPINGS", None) is None:
        raise RuntimeError(f"{module_path} has no NODE_CLASS_MAPPINGS")
    return module
